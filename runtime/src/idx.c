/*===- idx.c - Loading IDX data sets --------------------------------------===*
 *
 * IDX (the MNIST format): two zero bytes, an element type byte, a byte with
 * the number of dimensions, that many big-endian 32-bit sizes, then the
 * elements. Files are read raw or gzip-compressed (input.h).
 *
 *===----------------------------------------------------------------------===*/
#include "dataset.h"
#include "input.h"

#include <stdlib.h>
#include <string.h>

enum {
  IDX_TYPE_UBYTE = 0x08,
  IDX_MAX_DIMS = 8,        // MNIST uses 1 (labels) and 3 (images)
  IDX_FIRST_READ = 1 << 20 // then doubling, up to what the header announces
};

/// An IDX file of unsigned bytes, read whole.
typedef struct idx_file {
  int ndim;
  int64_t dims[IDX_MAX_DIMS];
  int64_t elements; // product of dims
  uint8_t *data;    // `elements` bytes (malloc)
} idx_file;

/// Reads and validates the IDX file `path`. `what` ("images" or "labels")
/// names it in messages. On failure nothing is left allocated.
static sora_status read_idx(const char *path, const char *what, idx_file *out) {
  memset(out, 0, sizeof *out);
  sora_input in = {0};
  sora_status status = sora_input_open(&in, path, what);
  if (status != SORA_OK)
    return status;
  uint8_t head[4 + 4 * IDX_MAX_DIMS];
  int64_t got = sora_input_read(&in, head, 4);
  if (got < 0) {
    status = sora_input_failure(&in);
    goto done;
  }
  if (got < 4) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': not an IDX file (only %lld bytes long)",
                       what, path, (long long)got);
    goto done;
  }
  if (head[0] != 0 || head[1] != 0) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': not an IDX file (bad magic number "
                       "%02x %02x %02x %02x, expected 00 00 08 <ndim>)",
                       what, path, head[0], head[1], head[2], head[3]);
    goto done;
  }
  if (head[2] != IDX_TYPE_UBYTE) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': unsupported IDX element type 0x%02x "
                       "(only unsigned bytes, 0x08, are supported)",
                       what, path, head[2]);
    goto done;
  }
  out->ndim = head[3];
  if (out->ndim < 1 || out->ndim > IDX_MAX_DIMS) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': unsupported IDX rank %d (expected 1..%d)",
                       what, path, out->ndim, IDX_MAX_DIMS);
    goto done;
  }

  got = sora_input_read(&in, head + 4, 4 * (int64_t)out->ndim);
  if (got < 0) {
    status = sora_input_failure(&in);
    goto done;
  }
  if (got < 4 * out->ndim) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': truncated IDX header (%d dimensions "
                       "announced)",
                       what, path, out->ndim);
    goto done;
  }
  out->elements = 1;
  for (int i = 0; i < out->ndim; ++i) {
    const uint8_t *b = head + 4 + 4 * i;
    out->dims[i] = (int64_t)b[0] << 24 | (int64_t)b[1] << 16 |
                   (int64_t)b[2] << 8 | (int64_t)b[3];
    if (out->dims[i] == 0) {
      status = sora_fail(SORA_ERR_FORMAT, "%s file '%s': dimension %d is 0",
                         what, path, i);
      goto done;
    }
    if (!sora_mul_checked(out->elements, out->dims[i], SORA_MAX_TENSOR_FLOATS,
                          &out->elements)) {
      status = sora_fail(SORA_ERR_FORMAT,
                         "%s file '%s': too large (more than %lld elements)",
                         what, path, (long long)SORA_MAX_TENSOR_FLOATS);
      goto done;
    }
  }

  // The buffer grows with the data actually read, so that a header that
  // announces more than the file holds costs no more memory than the file
  // (a 20-byte file could make the reader allocate and zero 2 GiB).
  got = 0;
  for (int64_t cap = 0; got == cap && cap < out->elements;) {
    cap = cap < IDX_FIRST_READ ? IDX_FIRST_READ : cap * 2;
    if (cap > out->elements)
      cap = out->elements;
    uint8_t *grown = realloc(out->data, (size_t)cap);
    if (!grown) {
      status = sora_fail(SORA_ERR_MEMORY,
                         "%s file '%s': out of memory for %lld "
                         "bytes",
                         what, path, (long long)cap);
      goto done;
    }
    out->data = grown;
    int64_t more = sora_input_read(&in, out->data + got, cap - got);
    if (more < 0) {
      status = sora_input_failure(&in);
      goto done;
    }
    got += more;
  }
  if (got < out->elements) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': truncated: the header announces %lld "
                       "bytes of data, the file holds only %lld",
                       what, path, (long long)out->elements, (long long)got);
    goto done;
  }
  // Reading past the end also makes zlib check the gzip trailer (CRC).
  uint8_t extra;
  got = sora_input_read(&in, &extra, 1);
  if (got < 0) {
    status = sora_input_failure(&in);
    goto done;
  }
  if (got > 0) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "%s file '%s': unexpected data after the %lld bytes "
                       "the IDX header announces",
                       what, path, (long long)out->elements);
    goto done;
  }

done:
  sora_input_close(&in);
  if (status != SORA_OK) {
    free(out->data);
    out->data = NULL;
  }
  return status;
}

sora_status sora_dataset_load_idx(const sora_data_spec *spec,
                                  const char *data_dir, const char *source_dir,
                                  sora_dataset *out) {
  sora_status status = sora_loader_start(spec, SORA_DATA_IDX, out);
  if (status != SORA_OK)
    return status;
  char images_path[SORA_PATH_MAX], labels_path[SORA_PATH_MAX] = "";
  status = sora_find_data_file(spec->images, data_dir, source_dir, images_path,
                               sizeof images_path);
  if (status != SORA_OK)
    return status;
  // An input that is its own target needs no labels (source.c shares x).
  bool labelled = spec->target != SORA_TARGET_INPUT;
  if (labelled)
    status = sora_find_data_file(spec->labels, data_dir, source_dir,
                                 labels_path, sizeof labels_path);
  if (status != SORA_OK)
    return status;

  idx_file images = {0}, labels = {0};
  sora_dataset d = {0};
  status = read_idx(images_path, "images", &images);
  if (status != SORA_OK)
    return status;
  if (!labelled) {
    labels.ndim = 1;
    labels.dims[0] = images.dims[0];
  } else
    status = read_idx(labels_path, "labels", &labels);
  if (status != SORA_OK)
    goto done;
  if (labels.ndim != 1) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "labels file '%s': expected one dimension (one label "
                       "per sample), found %d",
                       labels_path, labels.ndim);
    goto done;
  }
  if (images.dims[0] != labels.dims[0]) {
    status = sora_fail(SORA_ERR_FORMAT,
                       "images file '%s' holds %lld samples but labels file "
                       "'%s' holds %lld labels",
                       images_path, (long long)images.dims[0], labels_path,
                       (long long)labels.dims[0]);
    goto done;
  }

  d.count = images.dims[0];
  d.sample_size = images.elements / d.count;
  d.label_size = spec->onehot > 0 ? spec->onehot : 1;
  int64_t label_floats;
  if (!sora_mul_checked(d.count, d.label_size, SORA_MAX_TENSOR_FLOATS,
                        &label_floats)) {
    status =
        sora_fail(SORA_ERR_ARGUMENT,
                  "labels file '%s': %lld one-hot rows of width %lld are "
                  "too large",
                  labels_path, (long long)d.count, (long long)d.label_size);
    goto done;
  }
  // The bytes stay beside the floats, for fit's batch gather: in a block of
  // their own (on huge pages), the reading buffer freed before the floats
  // are allocated, so that loading takes no more memory at its peak.
  d.x_bytes = sora_alloc((size_t)images.elements);
  if (!d.x_bytes) {
    status =
        sora_fail(SORA_ERR_MEMORY, "out of memory keeping '%s'", images_path);
    goto done;
  }
  memcpy(d.x_bytes, images.data, (size_t)images.elements);
  d.x_byte_scale = spec->scale;
  free(images.data);
  images.data = NULL;

  d.x = sora_alloc_floats(images.elements);
  d.y = sora_alloc_floats(labelled ? label_floats : 1);
  if (!d.x || !d.y) {
    status = sora_fail(SORA_ERR_MEMORY,
                       "out of memory converting '%s' and '%s' to floats",
                       images_path, labels_path);
    goto done;
  }
  sora_widening widening = sora_widening_for(d.x_byte_scale);
  sora_widen_bytes(&widening, d.x_bytes, images.elements, d.x);

  for (int64_t i = 0; labelled && i < d.count; ++i) {
    int64_t label = labels.data[i];
    if (spec->onehot == 0) {
      d.y[i] = (float)label;
    } else if (label < spec->onehot) {
      d.y[i * d.label_size + label] = 1.0f; // the rest is zeroed
    } else {
      status = sora_fail(SORA_ERR_FORMAT,
                         "labels file '%s': label %lld of sample %lld is out "
                         "of range for onehot: %lld",
                         labels_path, (long long)label, (long long)i,
                         (long long)spec->onehot);
      goto done;
    }
  }
  *out = d;

done:
  free(images.data);
  free(labels.data);
  if (status != SORA_OK)
    sora_dataset_free(&d);
  return status;
}
