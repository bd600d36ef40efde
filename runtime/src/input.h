/*===- input.h - Reading data files, raw or gzip --------------------------===*
 *
 * The data set loaders' file access. A file is read raw or, with zlib,
 * gzip-compressed, detected by content, so `.gz` and plain files load
 * alike.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_RT_INPUT_H
#define SORA_RT_INPUT_H

#include "internal.h"

#include <stdint.h>

/// A data file open for reading.
typedef struct sora_input {
  void *handle;     /* a gzFile; a FILE * in a runtime without zlib      */
  const char *path; /* for messages                                       */
  const char *what; /* "images", "labels", "csv": names it in messages    */
} sora_input;

/// Opens `path` for reading; sets the error on failure.
sora_status sora_input_open(sora_input *in, const char *path, const char *what);

/// Reads up to `size` bytes. Returns the number read (short only at the end
/// of the file) or -1 on a read error or bad or truncated gzip data (then
/// call sora_input_failure).
int64_t sora_input_read(sora_input *in, void *buf, int64_t size);

/// Sets the error for a failed read and returns it: SORA_ERR_IO if the
/// system failed to read, SORA_ERR_FORMAT if the gzip data is corrupt or
/// cut short.
sora_status sora_input_failure(const sora_input *in);

void sora_input_close(sora_input *in);

/// Reads all of `path` into a new NUL-terminated buffer (caller owns; free
/// with free()) and its length, refusing files of more than `max_bytes`
/// bytes. `what` ("csv") names the file in messages.
sora_status sora_read_whole_file(const char *path, const char *what,
                                 int64_t max_bytes, char **out, int64_t *size);

#endif /* SORA_RT_INPUT_H */
