/*===- json.h - The small JSON writer and reader of file headers ----------===*
 *
 * Not a general JSON library: the writer appends the pieces a safetensors
 * header is made of, and the reader is a strict tokenizer that its caller
 * drives, so nesting stays bounded and nothing recurses.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_RT_JSON_H
#define SORA_RT_JSON_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// The largest integer the reader accepts (shapes and offsets): far above
/// any real size, far below overflow when multiplied by a dtype's size.
#define SORA_JSON_MAX_INTEGER ((int64_t)1 << 53)

/// A growable text buffer; `failed` is set once an allocation fails (the
/// appends then do nothing), so that callers check once, at the end.
typedef struct sora_json_buf {
  char *data;
  size_t len, cap;
  bool failed;
} sora_json_buf;

void sora_json_append(sora_json_buf *b, const char *s, size_t n);
void sora_json_puts(sora_json_buf *b, const char *s);
/// Short texts only (numbers): a longer one sets `failed`.
void sora_json_printf(sora_json_buf *b, const char *fmt, ...) SORA_PRINTF(2, 3);
/// Appends `s` as a JSON string, quoted and escaped.
void sora_json_string(sora_json_buf *b, const char *s);

/// Reads the JSON text [begin, end). Errors name "`what` '`file`'" and the
/// byte offset. Decoded strings go to `arena`, which the caller allocates
/// as large as the text plus one byte: a decoded string, with its NUL, is
/// never longer than its quoted text.
typedef struct sora_json_reader {
  const char *what; /* "checkpoint"                                  */
  const char *file; /* its path                                      */
  const char *begin, *p, *end;
  char *arena; /* decoded strings, NUL-terminated, one after another */
  size_t arena_used;
} sora_json_reader;

/// Sets a "malformed header" error at the reader's position.
sora_status sora_json_error(const sora_json_reader *r, const char *what);
void sora_json_skip_ws(sora_json_reader *r);
/// Skips whitespace, then expects the character `c`.
sora_status sora_json_expect(sora_json_reader *r, char c);
/// Skips whitespace; true (and consumes it) if the next character is `c`.
bool sora_json_accept(sora_json_reader *r, char c);
/// Reads a string into the arena; `*out` points at it there.
sora_status sora_json_read_string(sora_json_reader *r, const char **out);
/// Reads a non-negative integer (no sign, fraction or exponent) of at most
/// SORA_JSON_MAX_INTEGER.
sora_status sora_json_read_integer(sora_json_reader *r, int64_t *out);
/// Reads an array of at most `max` integers; `*count` receives how many.
sora_status sora_json_read_int_array(sora_json_reader *r, int64_t *values,
                                     int64_t max, int64_t *count);

/// The value of a hex digit, or -1.
int sora_hex_digit(char c);

#endif /* SORA_RT_JSON_H */
