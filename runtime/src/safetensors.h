/*===- safetensors.h - Writing and reading safetensors files --------------===*
 *
 * The file: an unsigned little-endian 64-bit header length N, N bytes of JSON
 * (padded with spaces to a multiple of 8, so the data is aligned), then the
 * data section. The header maps each tensor name to {"dtype", "shape",
 * "data_offsets": [begin, end)} (byte offsets into the data section) and
 * "__metadata__" to an object of strings. See huggingface/safetensors.
 *
 * Only F32 tensors are written and read. Messages call the file a
 * checkpoint: that is what the runtime keeps in one.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_RT_SAFETENSORS_H
#define SORA_RT_SAFETENSORS_H

#include "internal.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

enum {
  SORA_ST_MAX_RANK = 8, // a tensor of a file
  SORA_ST_QUOTE = 60    // characters of a name or key quoted in messages
};

/// The key of the header's metadata object.
#define SORA_ST_METADATA_KEY "__metadata__"

/// printf arguments for "%.*s" that quote at most SORA_ST_QUOTE characters.
#define SORA_ST_QUOTED(s)                                                      \
  (int)(strlen(s) < SORA_ST_QUOTE ? strlen(s) : SORA_ST_QUOTE), (s)

/// "[64, 784]" into `out`.
void sora_st_format_shape(const int64_t *shape, int64_t rank, char *out,
                          size_t size);

/*===--- Writing ----------------------------------------------------------===*/

/// A tensor to write: `tensor`'s name, rank, shape and size, and its
/// `tensor->size` values at `data`.
typedef struct sora_st_entry {
  const sora_param_desc *tensor;
  const float *data;
} sora_st_entry;

/// A metadata string.
typedef struct sora_st_meta {
  const char *key, *value;
} sora_st_meta;

/// Writes the tensors, in order, and the metadata as the file `path`: under
/// a temporary name first, flushed and synced, then renamed, so that the
/// name never points at a half-written file.
sora_status sora_st_write(const char *path, const sora_st_entry *tensors,
                          int64_t count, const sora_st_meta *meta,
                          size_t num_meta);

/*===--- Reading ----------------------------------------------------------===*/

/// A tensor entry of the header. Strings point into the reader's arena.
typedef struct sora_st_tensor {
  const char *name;
  const char *dtype;
  int64_t rank;
  int64_t shape[SORA_ST_MAX_RANK];
  int64_t begin, end; /* data_offsets                                */
  bool used;          /* for the caller: matched to one of its own    */
} sora_st_tensor;

/// A file open for reading, its header read and checked.
typedef struct sora_st_file {
  const char *path;
  FILE *f;
  char *header;
  sora_json_reader json;
  sora_st_tensor *tensors; /* sorted by name                        */
  int64_t count, cap;
  int64_t data_start; /* the data section's offset in the file      */
  /* The metadata values the caller asked for, by key (NULL: absent).   */
  const char *const *meta_keys;
  const char **meta_values;
  size_t num_meta;
  bool has_metadata;
} sora_st_file;

/// Opens `path` and reads its header: the tensor entries, each checked on
/// its own and against the others and the file (F32, a byte range inside
/// the data section as long as its shape needs, no overlaps, no name
/// twice), and of the metadata the values of the `num_meta` keys
/// `meta_keys` into `meta_values`. Close `st` afterwards, even on failure.
sora_status sora_st_open(sora_st_file *st, const char *path,
                         const char *const *meta_keys, const char **meta_values,
                         size_t num_meta);

/// The entry named `name`, or NULL.
sora_st_tensor *sora_st_find(const sora_st_file *st, const char *name);

/// Reads the `n` floats of `t` into `out` (host byte order).
sora_status sora_st_read(sora_st_file *st, const sora_st_tensor *t, float *out,
                         int64_t n);

void sora_st_close(sora_st_file *st);

#endif /* SORA_RT_SAFETENSORS_H */
