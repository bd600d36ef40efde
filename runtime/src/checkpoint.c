/*===- checkpoint.c - Saving and loading models as safetensors ------------===*
 *
 * The file: an unsigned little-endian 64-bit header length N, N bytes of JSON
 * (padded with spaces to a multiple of 8, so the data is aligned), then the
 * data section. The header maps each tensor name to {"dtype", "shape",
 * "data_offsets": [begin, end)} (byte offsets into the data section) and
 * "__metadata__" to an object of strings. See huggingface/safetensors.
 *
 * The reader is a small, strict parser of exactly this shape of JSON, not a
 * general one: the top level is an object of tensor objects and one metadata
 * object, so nesting is bounded and nothing recurses. Every length and
 * offset is checked against the file before it is used, and the model is
 * changed only once the whole file has been read and checked.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/// Headers larger than this are refused before anything is allocated.
#define MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)

/// The largest integer the reader accepts (shapes and offsets): far above
/// any real size, far below overflow when multiplied by a dtype's size.
#define MAX_JSON_INTEGER ((int64_t)1 << 53)

enum {
  MAX_FILE_RANK = 8, // a tensor of the file; the model's have at most 4
  MAX_DESC_RANK = 4, // sora_param_desc.shape
  NAME_QUOTE = 60    // characters of a name or key quoted in messages
};

static const char metadata_key[] = "__metadata__";

/*===--- Byte order -------------------------------------------------------===*/

static bool host_is_little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

/// Reverses the bytes of each of `n` 4-byte values in place.
static void swap_floats(float *values, int64_t n) {
  uint8_t *b = (uint8_t *)values;
  for (int64_t i = 0; i < n; ++i, b += 4) {
    uint8_t t0 = b[0], t1 = b[1];
    b[0] = b[3];
    b[1] = b[2];
    b[2] = t1;
    b[3] = t0;
  }
}

/*===--- The descriptor's tensors -----------------------------------------===*/

/// Tensor `i` of the model: the weights (offsets into the parameter block),
/// then the optimizer state (offsets into the optimizer-state block), in
/// descriptor order.
static const sora_param_desc *desc_tensor(const sora_model_desc *d, int64_t i) {
  return i < d->num_params ? &d->params[i] : &d->state[i - d->num_params];
}

/// Checks that the descriptor's tensors can be written and read: names
/// present, distinct and not the metadata key, ranks 0..4 and shapes whose
/// product is the size. Offsets were checked when the instance was created.
static sora_status check_tensors(const sora_model_desc *d) {
  const char *model = d->name ? d->name : "<unnamed>";
  int64_t total = d->num_params + d->num_state;
  for (int64_t i = 0; i < total; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    if (!p->name || !*p->name || strcmp(p->name, metadata_key) == 0)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': tensor %" PRId64 " has no usable name",
                       model, i);
    int64_t elements = 1;
    bool ok = p->rank >= 0 && p->rank <= MAX_DESC_RANK;
    for (int64_t k = 0; ok && k < p->rank; ++k)
      ok = sora_mul_checked(elements, p->shape[k], INT64_MAX / 4, &elements);
    if (!ok || elements != p->size)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': tensor '%s' has rank %" PRId64
                       " and a shape that does not hold its %" PRId64 " floats",
                       model, p->name, p->rank, p->size);
    for (int64_t j = 0; j < i; ++j) { // descriptors are small and trusted
      if (strcmp(p->name, desc_tensor(d, j)->name) == 0)
        return sora_fail(SORA_ERR_ARGUMENT,
                         "model '%s': two tensors are named '%s'", model,
                         p->name);
    }
  }
  return SORA_OK;
}

/*===--- Writing ----------------------------------------------------------===*/

/// A growable text buffer; `failed` is set once an allocation fails.
typedef struct text_buf {
  char *data;
  size_t len, cap;
  bool failed;
} text_buf;

static void buf_append(text_buf *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = true;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_puts(text_buf *b, const char *s) {
  buf_append(b, s, strlen(s));
}

static void buf_printf(text_buf *b, const char *fmt, ...) SORA_PRINTF(2, 3);
static void buf_printf(text_buf *b, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof small) { // only short numbers come here
    b->failed = true;
    return;
  }
  buf_append(b, small, (size_t)n);
}

/// Appends `s` as a JSON string, quoted and escaped.
static void buf_json_string(text_buf *b, const char *s) {
  buf_puts(b, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; ++c) {
    if (*c == '"' || *c == '\\') {
      char esc[2] = {'\\', (char)*c};
      buf_append(b, esc, 2);
    } else if (*c < 0x20) {
      buf_printf(b, "\\u%04x", *c);
    } else {
      buf_append(b, (const char *)c, 1);
    }
  }
  buf_puts(b, "\"");
}

/// The JSON header of `m`'s checkpoint, padded with spaces to a multiple
/// of 8 bytes.
static void build_header(const sora_model *m, text_buf *b) {
  const sora_model_desc *d = m->desc;
  int64_t offset = 0;
  buf_puts(b, "{");
  for (int64_t i = 0; i < d->num_params + d->num_state; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    buf_json_string(b, p->name);
    buf_puts(b, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int64_t k = 0; k < p->rank; ++k)
      buf_printf(b, "%s%" PRId64, k ? "," : "", p->shape[k]);
    buf_printf(b, "],\"data_offsets\":[%" PRId64 ",%" PRId64 "]},", offset,
               offset + p->size * 4);
    offset += p->size * 4;
  }
  buf_puts(b, "\"__metadata__\":{\"format\":\"sora\",\"model\":");
  buf_json_string(b, d->name ? d->name : "");
  buf_printf(b, ",\"model_hash\":\"%" PRId64 "\"", d->model_hash);
  buf_printf(b, ",\"step\":\"%" PRId64 "\"", m->step);
  buf_printf(b, ",\"epoch\":\"%" PRId64 "\"", m->epoch);
  if (m->rng_seeded) { // else absent: the next fit seeds it afresh
    buf_puts(b, ",\"rng\":\"");
    for (int k = 0; k < 4; ++k)
      buf_printf(b, "%016" PRIx64, m->rng.s[k]);
    buf_puts(b, "\"");
  }
  buf_puts(b, "}}");
  while (b->len % 8 != 0)
    buf_puts(b, " ");
}

/// Writes `n` floats little-endian.
static bool write_floats(FILE *f, const float *values, int64_t n) {
  if (host_is_little_endian())
    return fwrite(values, sizeof(float), (size_t)n, f) == (size_t)n;
  float chunk[1024];
  for (int64_t done = 0; done < n;) {
    int64_t k = n - done < 1024 ? n - done : 1024;
    memcpy(chunk, values + done, (size_t)k * sizeof(float));
    swap_floats(chunk, k);
    if (fwrite(chunk, sizeof(float), (size_t)k, f) != (size_t)k)
      return false;
    done += k;
  }
  return true;
}

sora_status sora_model_save(const sora_model *m, const char *path) {
  if (!m || !path || !*path)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_save: model or path is NULL or empty");
  const sora_model_desc *d = m->desc;
  sora_status status = check_tensors(d);
  if (status != SORA_OK)
    return status;

  text_buf header = {0};
  build_header(m, &header);
  size_t tmp_size = strlen(path) + 32;
  char *tmp = malloc(tmp_size);
  if (header.failed || !tmp) {
    free(header.data);
    free(tmp);
    return sora_fail(SORA_ERR_MEMORY, "out of memory saving checkpoint '%s'",
                     path);
  }
  snprintf(tmp, tmp_size, "%s.tmp%ld", path, (long)getpid());

  FILE *f = fopen(tmp, "wb");
  if (!f) {
    status = sora_fail(SORA_ERR_IO,
                       "cannot write checkpoint '%s' (as '%s' first): %s", path,
                       tmp, strerror(errno));
    goto done;
  }
  uint8_t length[8];
  for (int k = 0; k < 8; ++k)
    length[k] = (uint8_t)((uint64_t)header.len >> (8 * k));
  bool ok = fwrite(length, 1, 8, f) == 8 &&
            fwrite(header.data, 1, header.len, f) == header.len;
  for (int64_t i = 0; ok && i < d->num_params + d->num_state; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    const float *block = i < d->num_params ? m->params : m->opt_state;
    ok = write_floats(f, block + p->offset, p->size);
  }
  // Flushed and synced before the rename, so that the name never points at
  // a half-written file, even after a crash.
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int saved_errno = errno;
  if (fclose(f) != 0 && ok) {
    ok = false;
    saved_errno = errno;
  }
  if (!ok) {
    status = sora_fail(SORA_ERR_IO,
                       "cannot write checkpoint '%s' (as '%s' first): %s", path,
                       tmp, strerror(saved_errno));
    remove(tmp);
    goto done;
  }
  if (rename(tmp, path) != 0) {
    status = sora_fail(SORA_ERR_IO, "cannot rename '%s' to checkpoint '%s': %s",
                       tmp, path, strerror(errno));
    remove(tmp);
    goto done;
  }

done:
  free(header.data);
  free(tmp);
  return status;
}

/*===--- Reading the header -----------------------------------------------===*/

/// A tensor entry of the header. Strings point into the parser's arena.
typedef struct file_tensor {
  const char *name;
  const char *dtype;
  int64_t rank;
  int64_t shape[MAX_FILE_RANK];
  int64_t begin, end; /* data_offsets                                */
  bool used;          /* matched by one of the model's tensors        */
} file_tensor;

/// The metadata the loader uses (NULL: absent).
typedef struct file_metadata {
  const char *format, *model, *model_hash, *step, *epoch, *rng;
} file_metadata;

typedef struct parser {
  const char *file; /* the checkpoint's path, for messages         */
  const char *begin, *p, *end;
  char *arena; /* decoded strings, NUL-terminated, one after another */
  size_t arena_used;
  file_tensor *tensors;
  int64_t count, cap;
  file_metadata meta;
  bool has_metadata;
} parser;

/// Sets a "malformed header" error at the parser's position.
static sora_status syntax_error(const parser *ps, const char *what) {
  return sora_fail(SORA_ERR_FORMAT,
                   "checkpoint '%s': malformed header at byte %lld: %s",
                   ps->file, (long long)(ps->p - ps->begin), what);
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end &&
         (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ++ps->p;
}

/// Skips whitespace, then expects the character `c`.
static sora_status expect(parser *ps, char c) {
  skip_ws(ps);
  if (ps->p >= ps->end || *ps->p != c) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    return syntax_error(ps, what);
  }
  ++ps->p;
  return SORA_OK;
}

/// Skips whitespace; true (and consumes it) if the next character is `c`.
static bool accept(parser *ps, char c) {
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == c) {
    ++ps->p;
    return true;
  }
  return false;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Reads the 4 hex digits of a \u escape (after the "\u").
static bool read_hex4(parser *ps, uint32_t *out) {
  if (ps->end - ps->p < 4)
    return false;
  uint32_t v = 0;
  for (int k = 0; k < 4; ++k) {
    int h = hex_value(ps->p[k]);
    if (h < 0)
      return false;
    v = v << 4 | (uint32_t)h;
  }
  ps->p += 4;
  *out = v;
  return true;
}

/// Appends code point `cp` to the arena as UTF-8 (its encoding is never
/// longer than the escape it came from).
static void put_utf8(parser *ps, uint32_t cp) {
  char *o = ps->arena + ps->arena_used;
  if (cp < 0x80) {
    o[0] = (char)cp;
    ps->arena_used += 1;
  } else if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    ps->arena_used += 2;
  } else if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    ps->arena_used += 3;
  } else {
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    ps->arena_used += 4;
  }
}

/// Reads a JSON string into the arena. A decoded string, with its NUL, is
/// shorter than its quoted text, so the arena (as large as the header)
/// never overflows.
static sora_status parse_string(parser *ps, const char **out) {
  sora_status status = expect(ps, '"');
  if (status != SORA_OK)
    return status;
  const char *start = ps->arena + ps->arena_used;
  for (;;) {
    if (ps->p >= ps->end)
      return syntax_error(ps, "unterminated string");
    unsigned char c = (unsigned char)*ps->p;
    if (c == '"') {
      ++ps->p;
      break;
    }
    if (c < 0x20)
      return syntax_error(ps, "control character in a string");
    if (c != '\\') {
      ps->arena[ps->arena_used++] = (char)c;
      ++ps->p;
      continue;
    }
    if (ps->end - ps->p < 2)
      return syntax_error(ps, "unterminated string");
    char e = ps->p[1];
    ps->p += 2;
    static const char escapes[] = "\"\\/bfnrt";
    static const char decoded[] = "\"\\/\b\f\n\r\t";
    const char *simple = e != '\0' ? strchr(escapes, e) : NULL;
    if (simple) {
      ps->arena[ps->arena_used++] = decoded[simple - escapes];
      continue;
    }
    if (e != 'u') {
      ps->p -= 2;
      return syntax_error(ps, "invalid escape in a string");
    }
    uint32_t cp;
    if (!read_hex4(ps, &cp))
      return syntax_error(ps, "invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return syntax_error(ps, "unpaired surrogate in a \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
        return syntax_error(ps, "unpaired surrogate in a \\u escape");
      ps->p += 2;
      if (!read_hex4(ps, &low) || low < 0xDC00 || low > 0xDFFF)
        return syntax_error(ps, "unpaired surrogate in a \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp == 0)
      return syntax_error(ps, "\\u0000 in a string");
    put_utf8(ps, cp);
  }
  ps->arena[ps->arena_used++] = '\0';
  *out = start;
  return SORA_OK;
}

/// Reads a non-negative JSON integer (no sign, fraction or exponent) of at
/// most MAX_JSON_INTEGER.
static sora_status parse_integer(parser *ps, int64_t *out) {
  skip_ws(ps);
  const char *start = ps->p;
  int64_t v = 0;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
    v = v * 10 + (*ps->p - '0');
    ++ps->p;
    if (v > MAX_JSON_INTEGER) {
      ps->p = start;
      return syntax_error(ps, "integer too large");
    }
  }
  if (ps->p == start)
    return syntax_error(ps, "expected a non-negative integer");
  if (*start == '0' && ps->p - start > 1) {
    ps->p = start;
    return syntax_error(ps, "integer with a leading zero");
  }
  if (ps->p < ps->end &&
      (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' || *ps->p == '-'))
    return syntax_error(ps, "expected a whole number");
  *out = v;
  return SORA_OK;
}

/// Reads an array of at most `max` integers; `*count` receives how many.
static sora_status parse_int_array(parser *ps, int64_t *values, int64_t max,
                                   int64_t *count) {
  sora_status status = expect(ps, '[');
  if (status != SORA_OK)
    return status;
  *count = 0;
  if (accept(ps, ']'))
    return SORA_OK;
  do {
    if (*count == max)
      return syntax_error(ps, "too many elements in an array");
    status = parse_integer(ps, &values[(*count)++]);
    if (status != SORA_OK)
      return status;
  } while (accept(ps, ','));
  return expect(ps, ']');
}

/// Quotes at most NAME_QUOTE characters of a name in messages.
#define QUOTED(s) (int)(strlen(s) < NAME_QUOTE ? strlen(s) : NAME_QUOTE), (s)

/// Reads {"dtype": ..., "shape": [...], "data_offsets": [b, e]} for the
/// tensor `name`.
static sora_status parse_tensor(parser *ps, const char *name) {
  if (ps->count == ps->cap) {
    int64_t cap = ps->cap ? ps->cap * 2 : 16;
    file_tensor *grown = realloc(ps->tensors, (size_t)cap * sizeof *grown);
    if (!grown)
      return sora_fail(SORA_ERR_MEMORY,
                       "checkpoint '%s': out of memory reading the header",
                       ps->file);
    ps->tensors = grown;
    ps->cap = cap;
  }
  file_tensor *t = &ps->tensors[ps->count++];
  memset(t, 0, sizeof *t);
  t->name = name;
  bool has_shape = false, has_offsets = false;
  sora_status status = expect(ps, '{');
  if (status != SORA_OK)
    return status;
  if (accept(ps, '}'))
    return syntax_error(ps, "empty tensor entry");
  do {
    const char *key;
    status = parse_string(ps, &key);
    if (status == SORA_OK)
      status = expect(ps, ':');
    if (status != SORA_OK)
      return status;
    if (strcmp(key, "dtype") == 0 && !t->dtype) {
      status = parse_string(ps, &t->dtype);
    } else if (strcmp(key, "shape") == 0 && !has_shape) {
      has_shape = true;
      status = parse_int_array(ps, t->shape, MAX_FILE_RANK, &t->rank);
    } else if (strcmp(key, "data_offsets") == 0 && !has_offsets) {
      has_offsets = true;
      int64_t offsets[2] = {0, 0}, n;
      status = parse_int_array(ps, offsets, 2, &n);
      if (status == SORA_OK && n != 2)
        return syntax_error(ps, "data_offsets needs two integers");
      t->begin = offsets[0];
      t->end = offsets[1];
    } else {
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' has an unknown or "
                       "repeated field '%.*s'",
                       ps->file, QUOTED(name), QUOTED(key));
    }
    if (status != SORA_OK)
      return status;
  } while (accept(ps, ','));
  status = expect(ps, '}');
  if (status != SORA_OK)
    return status;
  if (!t->dtype || !has_shape || !has_offsets)
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': tensor '%.*s' lacks '%s'", ps->file,
                     QUOTED(name),
                     !t->dtype    ? "dtype"
                     : !has_shape ? "shape"
                                  : "data_offsets");
  return SORA_OK;
}

/// Reads the "__metadata__" object: strings only; keeps the keys the loader
/// uses and ignores the others.
static sora_status parse_metadata(parser *ps) {
  struct {
    const char *key;
    const char **value;
  } known[] = {{"format", &ps->meta.format},         {"model", &ps->meta.model},
               {"model_hash", &ps->meta.model_hash}, {"step", &ps->meta.step},
               {"epoch", &ps->meta.epoch},           {"rng", &ps->meta.rng}};
  sora_status status = expect(ps, '{');
  if (status != SORA_OK || accept(ps, '}'))
    return status;
  do {
    const char *key, *value;
    status = parse_string(ps, &key);
    if (status == SORA_OK)
      status = expect(ps, ':');
    if (status != SORA_OK)
      return status;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"')
      return syntax_error(ps, "metadata values must be strings");
    status = parse_string(ps, &value);
    if (status != SORA_OK)
      return status;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; ++k) {
      if (strcmp(key, known[k].key) != 0)
        continue;
      if (*known[k].value)
        return sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s': metadata key '%s' appears twice",
                         ps->file, key);
      *known[k].value = value;
    }
  } while (accept(ps, ','));
  return expect(ps, '}');
}

/// Reads the whole header: one object of tensors and metadata, then only
/// whitespace (the padding).
static sora_status parse_header(parser *ps) {
  sora_status status = expect(ps, '{');
  if (status != SORA_OK || accept(ps, '}'))
    goto end;
  do {
    const char *name;
    status = parse_string(ps, &name);
    if (status == SORA_OK)
      status = expect(ps, ':');
    if (status != SORA_OK)
      return status;
    if (strcmp(name, metadata_key) == 0) {
      if (ps->has_metadata)
        return sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s': '__metadata__' appears twice",
                         ps->file);
      ps->has_metadata = true;
      status = parse_metadata(ps);
    } else {
      status = parse_tensor(ps, name);
    }
    if (status != SORA_OK)
      return status;
  } while (accept(ps, ','));
  status = expect(ps, '}');
end:
  if (status != SORA_OK)
    return status;
  skip_ws(ps);
  if (ps->p != ps->end)
    return syntax_error(ps, "unexpected text after the header's object");
  return SORA_OK;
}

/*===--- Checking the header against the file and the model ---------------===*/

/// "[64, 784]" into `out`.
static void format_shape(const int64_t *shape, int64_t rank, char *out,
                         size_t size) {
  size_t used = (size_t)snprintf(out, size, "[");
  for (int64_t k = 0; k < rank && used < size; ++k)
    used += (size_t)snprintf(out + used, size - used, "%s%" PRId64,
                             k ? ", " : "", shape[k]);
  if (used < size)
    snprintf(out + used, size - used, "]");
}

static int compare_begin(const void *a, const void *b) {
  const file_tensor *x = *(const file_tensor *const *)a;
  const file_tensor *y = *(const file_tensor *const *)b;
  return (x->begin > y->begin) - (x->begin < y->begin);
}

/// Checks each tensor entry on its own and against the others: F32, a byte
/// range inside the data section as long as its shape needs, no overlap.
static sora_status check_file_tensors(const parser *ps, int64_t data_size) {
  for (int64_t i = 0; i < ps->count; ++i) {
    const file_tensor *t = &ps->tensors[i];
    if (strcmp(t->dtype, "F32") != 0)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' has dtype %.*s; only "
                       "F32 is supported",
                       ps->file, QUOTED(t->name), QUOTED(t->dtype));
    if (t->begin > t->end || t->end > data_size)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' has data_offsets "
                       "[%" PRId64 ", %" PRId64
                       "] outside the data section of %" PRId64 " bytes",
                       ps->file, QUOTED(t->name), t->begin, t->end, data_size);
    int64_t elements = 1;
    for (int64_t k = 0; k < t->rank; ++k)
      if (!sora_mul_checked(elements, t->shape[k], MAX_JSON_INTEGER,
                            &elements)) {
        elements = -1;
        break;
      }
    if (elements < 0 || elements * 4 != t->end - t->begin) {
      char shape[160];
      format_shape(t->shape, t->rank, shape, sizeof shape);
      return sora_fail(
          SORA_ERR_FORMAT,
          "checkpoint '%s': tensor '%.*s' of shape %s needs "
          "%s%" PRId64 " bytes of F32, but its data_offsets span "
          "%" PRId64,
          ps->file, QUOTED(t->name), shape, elements < 0 ? "more than " : "",
          elements < 0 ? MAX_JSON_INTEGER : elements * 4, t->end - t->begin);
    }
  }

  // Overlaps and repeated names: sort the entries by where they begin.
  if (ps->count < 2)
    return SORA_OK;
  const file_tensor **sorted = malloc((size_t)ps->count * sizeof *sorted);
  if (!sorted)
    return sora_fail(SORA_ERR_MEMORY,
                     "checkpoint '%s': out of memory reading the header",
                     ps->file);
  for (int64_t i = 0; i < ps->count; ++i)
    sorted[i] = &ps->tensors[i];
  qsort(sorted, (size_t)ps->count, sizeof *sorted, compare_begin);
  sora_status status = SORA_OK;
  const file_tensor *last = NULL; // the non-empty one that ends last so far
  for (int64_t i = 0; i < ps->count && status == SORA_OK; ++i) {
    const file_tensor *t = sorted[i];
    if (t->begin == t->end)
      continue;
    if (last && t->begin < last->end)
      status = sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s': the data of tensors '%.*s' and "
                         "'%.*s' overlap",
                         ps->file, QUOTED(last->name), QUOTED(t->name));
    if (!last || t->end > last->end)
      last = t;
  }
  free(sorted);
  return status;
}

static int compare_name(const void *a, const void *b) {
  return strcmp(((const file_tensor *)a)->name, ((const file_tensor *)b)->name);
}

/// Sorts the entries by name (a header may hold very many: no quadratic
/// searches) and refuses a name that appears twice.
static sora_status sort_by_name(parser *ps) {
  if (ps->count < 2)
    return SORA_OK;
  qsort(ps->tensors, (size_t)ps->count, sizeof *ps->tensors, compare_name);
  for (int64_t i = 1; i < ps->count; ++i)
    if (strcmp(ps->tensors[i].name, ps->tensors[i - 1].name) == 0)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' appears twice", ps->file,
                       QUOTED(ps->tensors[i].name));
  return SORA_OK;
}

/// The entry named `name`, or NULL (after sort_by_name).
static file_tensor *find_tensor(const parser *ps, const char *name) {
  if (ps->count == 0)
    return NULL;
  file_tensor key = {.name = name};
  return bsearch(&key, ps->tensors, (size_t)ps->count, sizeof *ps->tensors,
                 compare_name);
}

/// Parses a decimal int64 string of metadata; non-negative unless
/// `allow_negative`.
static bool parse_decimal(const char *s, bool allow_negative, int64_t *out) {
  bool negative = allow_negative && *s == '-';
  if (negative)
    ++s;
  if (!*s)
    return false;
  uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9')
      return false;
    unsigned digit = (unsigned)(*s - '0');
    if (v > (limit - digit) / 10)
      return false;
    v = v * 10 + digit;
  }
  // Negating in unsigned arithmetic, then converting, avoids overflow for
  // INT64_MIN.
  *out = negative ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/// The training position of a sora checkpoint's metadata.
typedef struct position {
  int64_t step, epoch;
  sora_rng rng;
  bool rng_seeded;
} position;

/// Reads the sora metadata (if the file has it) and refuses a checkpoint of
/// another model.
static sora_status read_position(const parser *ps, const sora_model_desc *d,
                                 position *pos) {
  memset(pos, 0, sizeof *pos);
  const file_metadata *meta = &ps->meta;
  if (!meta->format || strcmp(meta->format, "sora") != 0)
    return SORA_OK; // e.g. PyTorch's {"format": "pt"}: weights only
  const char *model = d->name ? d->name : "<unnamed>";
  const char *theirs = meta->model ? meta->model : "<unnamed>";
  if (meta->model_hash) {
    int64_t hash;
    if (!parse_decimal(meta->model_hash, true, &hash))
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': metadata model_hash '%.*s' is not "
                       "a decimal integer",
                       ps->file, QUOTED(meta->model_hash));
    if (hash != d->model_hash)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s' is of model '%.*s' (model_hash "
                       "%" PRId64 "), not of this model '%s' (model_hash "
                       "%" PRId64 "): their layers or optimizer differ",
                       ps->file, QUOTED(theirs), hash, model, d->model_hash);
  }
  if (meta->step && !parse_decimal(meta->step, false, &pos->step))
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': metadata step '%.*s' is not a "
                     "non-negative integer",
                     ps->file, QUOTED(meta->step));
  if (meta->epoch && !parse_decimal(meta->epoch, false, &pos->epoch))
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': metadata epoch '%.*s' is not a "
                     "non-negative integer",
                     ps->file, QUOTED(meta->epoch));
  if (meta->rng) {
    bool ok = strlen(meta->rng) == 64;
    for (int k = 0; ok && k < 64; ++k) {
      int h = hex_value(meta->rng[k]);
      ok = h >= 0;
      pos->rng.s[k / 16] = pos->rng.s[k / 16] << 4 | (uint64_t)(ok ? h : 0);
    }
    // xoshiro never leaves the all-zero state: it cannot be a saved one.
    ok = ok && (pos->rng.s[0] | pos->rng.s[1] | pos->rng.s[2] | pos->rng.s[3]);
    if (!ok)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': metadata rng '%.*s' is not 64 hex "
                       "digits of a generator state",
                       ps->file, QUOTED(meta->rng));
    pos->rng_seeded = true;
  }
  return SORA_OK;
}

/// Matches the file's entries to the model's tensors: every weight present
/// with its shape, the optimizer state all present or all absent, nothing
/// else. `*has_state` says whether the state is there.
static sora_status match_model(parser *ps, const sora_model_desc *d,
                               bool *has_state) {
  const char *model = d->name ? d->name : "<unnamed>";
  const sora_param_desc *present_state = NULL, *absent_state = NULL;
  for (int64_t i = 0; i < d->num_params + d->num_state; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    bool is_state = i >= d->num_params;
    file_tensor *t = find_tensor(ps, p->name);
    if (!t) {
      if (!is_state)
        return sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s' has no tensor '%s' (model '%s')",
                         ps->file, p->name, model);
      absent_state = absent_state ? absent_state : p;
      continue;
    }
    if (is_state)
      present_state = present_state ? present_state : p;
    t->used = true;
    bool same = t->rank == p->rank;
    for (int64_t k = 0; same && k < p->rank; ++k)
      same = t->shape[k] == p->shape[k];
    if (!same) {
      char ours[160], theirs[160];
      format_shape(p->shape, p->rank, ours, sizeof ours);
      format_shape(t->shape, t->rank, theirs, sizeof theirs);
      return sora_fail(SORA_ERR_FORMAT,
                       "tensor '%s' has shape %s in the model but %s in "
                       "checkpoint '%s'",
                       p->name, ours, theirs, ps->file);
    }
  }
  if (present_state && absent_state)
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s' has optimizer state '%s' but not '%s': "
                     "it is incomplete",
                     ps->file, present_state->name, absent_state->name);
  for (int64_t i = 0; i < ps->count; ++i)
    if (!ps->tensors[i].used)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s' has tensor '%.*s', which model '%s' "
                       "lacks: is it a checkpoint of another model?",
                       ps->file, QUOTED(ps->tensors[i].name), model);
  *has_state = present_state != NULL;
  return SORA_OK;
}

/*===--- Loading ----------------------------------------------------------===*/

/// Reads `n` floats at byte `offset` of `f` into `out` (host byte order).
static sora_status read_floats(FILE *f, const char *path, off_t offset,
                               float *out, int64_t n) {
  if (fseeko(f, offset, SEEK_SET) != 0)
    return sora_fail(SORA_ERR_IO, "checkpoint '%s': cannot seek: %s", path,
                     strerror(errno));
  if (fread(out, sizeof(float), (size_t)n, f) != (size_t)n)
    return ferror(f) ? sora_fail(SORA_ERR_IO, "checkpoint '%s': read error: %s",
                                 path, strerror(errno))
                     : sora_fail(SORA_ERR_FORMAT,
                                 "checkpoint '%s': truncated while reading "
                                 "(did it change?)",
                                 path);
  if (!host_is_little_endian())
    swap_floats(out, n);
  return SORA_OK;
}

sora_status sora_model_load(sora_model *m, const char *path) {
  if (!m || !path)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_load: model or path is NULL");
  const sora_model_desc *d = m->desc;
  sora_status status = check_tensors(d);
  if (status != SORA_OK)
    return status;

  parser ps = {.file = path};
  char *header = NULL;
  float *params = NULL, *state = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return sora_fail(SORA_ERR_IO, "cannot open checkpoint '%s': %s", path,
                     strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    status = sora_fail(SORA_ERR_IO, "cannot stat checkpoint '%s': %s", path,
                       strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    status =
        sora_fail(SORA_ERR_IO, "checkpoint '%s' is not a regular file", path);
    goto done;
  }
  int64_t file_size = (int64_t)st.st_size;
  uint8_t length[8];
  if (file_size < 8 || fread(length, 1, 8, f) != 8) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s' is not a safetensors file: %lld bytes "
                       "long, less than its 8-byte header length",
                       path, (long long)file_size);
    goto done;
  }
  uint64_t header_len = 0;
  for (int k = 7; k >= 0; --k)
    header_len = header_len << 8 | length[k];
  if (header_len > MAX_HEADER_BYTES) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': header length %" PRIu64
                       " exceeds the limit of %" PRIu64
                       " bytes (not a safetensors file?)",
                       path, header_len, MAX_HEADER_BYTES);
    goto done;
  }
  if (header_len > (uint64_t)(file_size - 8)) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': header length %" PRIu64
                       " runs past the end of the file (%lld bytes): "
                       "truncated or not a safetensors file",
                       path, header_len, (long long)file_size);
    goto done;
  }
  header = malloc((size_t)header_len + 1);
  ps.arena = malloc((size_t)header_len + 1);
  if (!header || !ps.arena) {
    status = sora_fail(SORA_ERR_MEMORY,
                       "checkpoint '%s': out of memory for a %" PRIu64
                       "-byte header",
                       path, header_len);
    goto done;
  }
  if (fread(header, 1, (size_t)header_len, f) != (size_t)header_len) {
    status =
        sora_fail(SORA_ERR_IO, "checkpoint '%s': cannot read the header", path);
    goto done;
  }
  ps.begin = ps.p = header;
  ps.end = header + header_len;
  status = parse_header(&ps);
  if (status == SORA_OK)
    status = sort_by_name(&ps);
  if (status != SORA_OK)
    goto done;
  int64_t data_start = 8 + (int64_t)header_len;
  status = check_file_tensors(&ps, file_size - data_start);
  if (status != SORA_OK)
    goto done;
  position pos;
  status = read_position(&ps, d, &pos);
  if (status != SORA_OK)
    goto done;
  bool has_state = false;
  status = match_model(&ps, d, &has_state);
  if (status != SORA_OK)
    goto done;

  // Read into copies, so that a failure leaves the model as it was. Floats
  // of the blocks that no tensor covers keep their values.
  params = sora_alloc_floats(d->params_floats);
  state = sora_alloc_floats(d->opt_state_floats); // zeroed
  if (!params || !state) {
    status = sora_fail(SORA_ERR_MEMORY, "out of memory loading checkpoint '%s'",
                       path);
    goto done;
  }
  memcpy(params, m->params, (size_t)d->params_floats * sizeof(float));
  for (int64_t i = 0; i < d->num_params + (has_state ? d->num_state : 0); ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    float *block = i < d->num_params ? params : state;
    const file_tensor *t = find_tensor(&ps, p->name);
    status = read_floats(f, path, (off_t)(data_start + t->begin),
                         block + p->offset, p->size);
    if (status != SORA_OK)
      goto done;
  }

  memcpy(m->params, params, (size_t)d->params_floats * sizeof(float));
  memcpy(m->opt_state, state, (size_t)d->opt_state_floats * sizeof(float));
  m->step = pos.step;
  m->epoch = pos.epoch;
  m->rng = pos.rng;
  m->rng_seeded = pos.rng_seeded;

done:
  fclose(f);
  free(header);
  free(ps.arena);
  free(ps.tensors);
  sora_free(params);
  sora_free(state);
  return status;
}
