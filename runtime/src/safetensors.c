/*===- safetensors.c - Writing and reading safetensors files --------------===*
 *
 * The reader parses exactly this shape of JSON: the top level is an object
 * of tensor objects and one metadata object, so nesting is bounded and
 * nothing recurses. Every length and offset is checked against the file
 * before it is used.
 *
 *===----------------------------------------------------------------------===*/
#include "safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/// Headers larger than this are refused before anything is allocated.
#define MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)

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

/*===--- Writing ----------------------------------------------------------===*/

/// The JSON header of the tensors (written one after another, in order)
/// and the metadata, padded with spaces to a multiple of 8 bytes.
static void build_header(const sora_st_entry *tensors, int64_t count,
                         const sora_st_meta *meta, size_t num_meta,
                         sora_json_buf *b) {
  int64_t offset = 0;
  sora_json_puts(b, "{");
  for (int64_t i = 0; i < count; ++i) {
    const sora_param_desc *p = tensors[i].tensor;
    sora_json_string(b, p->name);
    sora_json_puts(b, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int64_t k = 0; k < p->rank; ++k)
      sora_json_printf(b, "%s%" PRId64, k ? "," : "", p->shape[k]);
    sora_json_printf(b, "],\"data_offsets\":[%" PRId64 ",%" PRId64 "]},",
                     offset, offset + p->size * 4);
    offset += p->size * 4;
  }
  sora_json_puts(b, "\"" SORA_ST_METADATA_KEY "\":{");
  for (size_t k = 0; k < num_meta; ++k) {
    sora_json_puts(b, k ? "," : "");
    sora_json_string(b, meta[k].key);
    sora_json_puts(b, ":");
    sora_json_string(b, meta[k].value);
  }
  sora_json_puts(b, "}}");
  while (b->len % 8 != 0)
    sora_json_puts(b, " ");
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

sora_status sora_st_write(const char *path, const sora_st_entry *tensors,
                          int64_t count, const sora_st_meta *meta,
                          size_t num_meta) {
  sora_status status = SORA_OK;
  sora_json_buf header = {0};
  build_header(tensors, count, meta, num_meta, &header);
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
  for (int64_t i = 0; ok && i < count; ++i)
    ok = write_floats(f, tensors[i].data, tensors[i].tensor->size);
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

/// Reads {"dtype": ..., "shape": [...], "data_offsets": [b, e]} for the
/// tensor `name`.
static sora_status parse_tensor(sora_st_file *st, const char *name) {
  if (st->count == st->cap) {
    int64_t cap = st->cap ? st->cap * 2 : 16;
    sora_st_tensor *grown = realloc(st->tensors, (size_t)cap * sizeof *grown);
    if (!grown)
      return sora_fail(SORA_ERR_MEMORY,
                       "checkpoint '%s': out of memory reading the header",
                       st->path);
    st->tensors = grown;
    st->cap = cap;
  }
  sora_st_tensor *t = &st->tensors[st->count++];
  memset(t, 0, sizeof *t);
  t->name = name;
  bool has_shape = false, has_offsets = false;
  sora_status status = sora_json_expect(&st->json, '{');
  if (status != SORA_OK)
    return status;
  if (sora_json_accept(&st->json, '}'))
    return sora_json_error(&st->json, "empty tensor entry");
  do {
    const char *key;
    status = sora_json_read_string(&st->json, &key);
    if (status == SORA_OK)
      status = sora_json_expect(&st->json, ':');
    if (status != SORA_OK)
      return status;
    if (strcmp(key, "dtype") == 0 && !t->dtype) {
      status = sora_json_read_string(&st->json, &t->dtype);
    } else if (strcmp(key, "shape") == 0 && !has_shape) {
      has_shape = true;
      status = sora_json_read_int_array(&st->json, t->shape, SORA_ST_MAX_RANK,
                                        &t->rank);
    } else if (strcmp(key, "data_offsets") == 0 && !has_offsets) {
      has_offsets = true;
      int64_t offsets[2] = {0, 0}, n;
      status = sora_json_read_int_array(&st->json, offsets, 2, &n);
      if (status == SORA_OK && n != 2)
        return sora_json_error(&st->json, "data_offsets needs two integers");
      t->begin = offsets[0];
      t->end = offsets[1];
    } else {
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' has an unknown or "
                       "repeated field '%.*s'",
                       st->path, SORA_ST_QUOTED(name), SORA_ST_QUOTED(key));
    }
    if (status != SORA_OK)
      return status;
  } while (sora_json_accept(&st->json, ','));
  status = sora_json_expect(&st->json, '}');
  if (status != SORA_OK)
    return status;
  if (!t->dtype || !has_shape || !has_offsets)
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': tensor '%.*s' lacks '%s'", st->path,
                     SORA_ST_QUOTED(name),
                     !t->dtype    ? "dtype"
                     : !has_shape ? "shape"
                                  : "data_offsets");
  return SORA_OK;
}

/// Reads the "__metadata__" object: strings only; keeps the values of the
/// keys the caller asked for and ignores the others.
static sora_status parse_metadata(sora_st_file *st) {
  sora_status status = sora_json_expect(&st->json, '{');
  if (status != SORA_OK || sora_json_accept(&st->json, '}'))
    return status;
  do {
    const char *key, *value;
    status = sora_json_read_string(&st->json, &key);
    if (status == SORA_OK)
      status = sora_json_expect(&st->json, ':');
    if (status != SORA_OK)
      return status;
    sora_json_skip_ws(&st->json);
    if (st->json.p >= st->json.end || *st->json.p != '"')
      return sora_json_error(&st->json, "metadata values must be strings");
    status = sora_json_read_string(&st->json, &value);
    if (status != SORA_OK)
      return status;
    for (size_t k = 0; k < st->num_meta; ++k) {
      if (strcmp(key, st->meta_keys[k]) != 0)
        continue;
      if (st->meta_values[k])
        return sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s': metadata key '%s' appears twice",
                         st->path, key);
      st->meta_values[k] = value;
    }
  } while (sora_json_accept(&st->json, ','));
  return sora_json_expect(&st->json, '}');
}

/// Reads the whole header: one object of tensors and metadata, then only
/// whitespace (the padding).
static sora_status parse_header(sora_st_file *st) {
  sora_status status = sora_json_expect(&st->json, '{');
  if (status != SORA_OK || sora_json_accept(&st->json, '}'))
    goto end;
  do {
    const char *name;
    status = sora_json_read_string(&st->json, &name);
    if (status == SORA_OK)
      status = sora_json_expect(&st->json, ':');
    if (status != SORA_OK)
      return status;
    if (strcmp(name, SORA_ST_METADATA_KEY) == 0) {
      if (st->has_metadata)
        return sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s': '__metadata__' appears twice",
                         st->path);
      st->has_metadata = true;
      status = parse_metadata(st);
    } else {
      status = parse_tensor(st, name);
    }
    if (status != SORA_OK)
      return status;
  } while (sora_json_accept(&st->json, ','));
  status = sora_json_expect(&st->json, '}');
end:
  if (status != SORA_OK)
    return status;
  sora_json_skip_ws(&st->json);
  if (st->json.p != st->json.end)
    return sora_json_error(&st->json,
                           "unexpected text after the header's object");
  return SORA_OK;
}

/*===--- Checking the header against the file -----------------------------===*/

/// "[64, 784]" into `out`.
void sora_st_format_shape(const int64_t *shape, int64_t rank, char *out,
                          size_t size) {
  size_t used = (size_t)snprintf(out, size, "[");
  for (int64_t k = 0; k < rank && used < size; ++k)
    used += (size_t)snprintf(out + used, size - used, "%s%" PRId64,
                             k ? ", " : "", shape[k]);
  if (used < size)
    snprintf(out + used, size - used, "]");
}

static int compare_begin(const void *a, const void *b) {
  const sora_st_tensor *x = *(const sora_st_tensor *const *)a;
  const sora_st_tensor *y = *(const sora_st_tensor *const *)b;
  return (x->begin > y->begin) - (x->begin < y->begin);
}

/// Checks each tensor entry on its own and against the others: F32, a byte
/// range inside the data section as long as its shape needs, no overlap.
static sora_status check_file_tensors(const sora_st_file *st,
                                      int64_t data_size) {
  for (int64_t i = 0; i < st->count; ++i) {
    const sora_st_tensor *t = &st->tensors[i];
    if (strcmp(t->dtype, "F32") != 0)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' has dtype %.*s; only "
                       "F32 is supported",
                       st->path, SORA_ST_QUOTED(t->name),
                       SORA_ST_QUOTED(t->dtype));
    if (t->begin > t->end || t->end > data_size)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' has data_offsets "
                       "[%" PRId64 ", %" PRId64
                       "] outside the data section of %" PRId64 " bytes",
                       st->path, SORA_ST_QUOTED(t->name), t->begin, t->end,
                       data_size);
    int64_t elements = 1;
    for (int64_t k = 0; k < t->rank; ++k)
      if (!sora_mul_checked(elements, t->shape[k], SORA_JSON_MAX_INTEGER,
                            &elements)) {
        elements = -1;
        break;
      }
    if (elements < 0 || elements * 4 != t->end - t->begin) {
      char shape[160];
      sora_st_format_shape(t->shape, t->rank, shape, sizeof shape);
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' of shape %s needs "
                       "%s%" PRId64 " bytes of F32, but its data_offsets span "
                       "%" PRId64,
                       st->path, SORA_ST_QUOTED(t->name), shape,
                       elements < 0 ? "more than " : "",
                       elements < 0 ? SORA_JSON_MAX_INTEGER : elements * 4,
                       t->end - t->begin);
    }
  }

  // Overlaps and repeated names: sort the entries by where they begin.
  if (st->count < 2)
    return SORA_OK;
  const sora_st_tensor **sorted = malloc((size_t)st->count * sizeof *sorted);
  if (!sorted)
    return sora_fail(SORA_ERR_MEMORY,
                     "checkpoint '%s': out of memory reading the header",
                     st->path);
  for (int64_t i = 0; i < st->count; ++i)
    sorted[i] = &st->tensors[i];
  qsort(sorted, (size_t)st->count, sizeof *sorted, compare_begin);
  sora_status status = SORA_OK;
  const sora_st_tensor *last = NULL; // the non-empty one that ends last so far
  for (int64_t i = 0; i < st->count && status == SORA_OK; ++i) {
    const sora_st_tensor *t = sorted[i];
    if (t->begin == t->end)
      continue;
    if (last && t->begin < last->end)
      status = sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s': the data of tensors '%.*s' and "
                         "'%.*s' overlap",
                         st->path, SORA_ST_QUOTED(last->name),
                         SORA_ST_QUOTED(t->name));
    if (!last || t->end > last->end)
      last = t;
  }
  free(sorted);
  return status;
}

static int compare_name(const void *a, const void *b) {
  return strcmp(((const sora_st_tensor *)a)->name,
                ((const sora_st_tensor *)b)->name);
}

/// Sorts the entries by name (a header may hold very many: no quadratic
/// searches) and refuses a name that appears twice.
static sora_status sort_by_name(sora_st_file *st) {
  if (st->count < 2)
    return SORA_OK;
  qsort(st->tensors, (size_t)st->count, sizeof *st->tensors, compare_name);
  for (int64_t i = 1; i < st->count; ++i)
    if (strcmp(st->tensors[i].name, st->tensors[i - 1].name) == 0)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': tensor '%.*s' appears twice", st->path,
                       SORA_ST_QUOTED(st->tensors[i].name));
  return SORA_OK;
}

sora_st_tensor *sora_st_find(const sora_st_file *st, const char *name) {
  if (st->count == 0)
    return NULL;
  sora_st_tensor key = {.name = name};
  return bsearch(&key, st->tensors, (size_t)st->count, sizeof *st->tensors,
                 compare_name);
}

/*===--- Reading ----------------------------------------------------------===*/

sora_status sora_st_open(sora_st_file *st, const char *path,
                         const char *const *meta_keys, const char **meta_values,
                         size_t num_meta) {
  memset(st, 0, sizeof *st);
  st->path = path;
  st->meta_keys = meta_keys;
  st->meta_values = meta_values;
  st->num_meta = num_meta;
  for (size_t k = 0; k < num_meta; ++k)
    meta_values[k] = NULL;
  st->json.what = "checkpoint";
  st->json.file = path;
  st->f = fopen(path, "rb");
  if (!st->f)
    return sora_fail(SORA_ERR_IO, "cannot open checkpoint '%s': %s", path,
                     strerror(errno));
  struct stat info;
  if (fstat(fileno(st->f), &info) != 0)
    return sora_fail(SORA_ERR_IO, "cannot stat checkpoint '%s': %s", path,
                     strerror(errno));
  if (!S_ISREG(info.st_mode))
    return sora_fail(SORA_ERR_IO, "checkpoint '%s' is not a regular file",
                     path);
  int64_t file_size = (int64_t)info.st_size;
  uint8_t length[8];
  if (file_size < 8 || fread(length, 1, 8, st->f) != 8)
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s' is not a safetensors file: %lld bytes "
                     "long, less than its 8-byte header length",
                     path, (long long)file_size);
  uint64_t header_len = 0;
  for (int k = 7; k >= 0; --k)
    header_len = header_len << 8 | length[k];
  if (header_len > MAX_HEADER_BYTES)
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': header length %" PRIu64
                     " exceeds the limit of %" PRIu64
                     " bytes (not a safetensors file?)",
                     path, header_len, MAX_HEADER_BYTES);
  if (header_len > (uint64_t)(file_size - 8))
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': header length %" PRIu64
                     " runs past the end of the file (%lld bytes): "
                     "truncated or not a safetensors file",
                     path, header_len, (long long)file_size);
  st->header = malloc((size_t)header_len + 1);
  st->json.arena = malloc((size_t)header_len + 1);
  if (!st->header || !st->json.arena)
    return sora_fail(SORA_ERR_MEMORY,
                     "checkpoint '%s': out of memory for a %" PRIu64
                     "-byte header",
                     path, header_len);
  if (fread(st->header, 1, (size_t)header_len, st->f) != (size_t)header_len)
    return sora_fail(SORA_ERR_IO, "checkpoint '%s': cannot read the header",
                     path);
  st->json.begin = st->json.p = st->header;
  st->json.end = st->header + header_len;
  sora_status status = parse_header(st);
  if (status == SORA_OK)
    status = sort_by_name(st);
  if (status != SORA_OK)
    return status;
  st->data_start = 8 + (int64_t)header_len;
  return check_file_tensors(st, file_size - st->data_start);
}

sora_status sora_st_read(sora_st_file *st, const sora_st_tensor *t, float *out,
                         int64_t n) {
  const char *path = st->path;
  FILE *f = st->f;
  if (fseeko(f, (off_t)(st->data_start + t->begin), SEEK_SET) != 0)
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

void sora_st_close(sora_st_file *st) {
  if (st->f)
    fclose(st->f);
  free(st->header);
  free(st->json.arena);
  free(st->tensors);
  memset(st, 0, sizeof *st);
}
