/*===- data.c - Finding data files, loading IDX data sets -----------------===*
 *
 * Also the dispatch of a train block's data source to its loader (IDX here,
 * CSV in csv.c) and the whole-file reader the CSV loader uses.
 *
 * IDX (the MNIST format): two zero bytes, an element type byte, a byte with
 * the number of dimensions, that many big-endian 32-bit sizes, then the
 * elements. Files are read through zlib's gz* functions, which pass raw files
 * through unchanged, so `.gz` and plain files load alike. A runtime built
 * without zlib (SORA_NO_ZLIB: cmake -DSORA_RT_ZLIB=OFF, or a cross build
 * that compiles these sources directly) reads plain files with stdio and
 * rejects gzip data with a message that says to decompress it.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef SORA_NO_ZLIB
#include <zlib.h>
#endif

/// The last place sora_find_data_file looks.
static const char *const system_data_dir = "/usr/share/datasets";

enum {
  IDX_TYPE_UBYTE = 0x08,
  IDX_MAX_DIMS = 8,        // MNIST uses 1 (labels) and 3 (images)
  GZ_CHUNK = 1 << 30,      // gzread takes an unsigned and returns an int
  GZ_BUFFER = 128 * 1024,  // larger than zlib's 8 KiB default: faster
  IDX_FIRST_READ = 1 << 20 // then doubling, up to what the header announces
};

#ifdef SORA_NO_ZLIB
/// Without zlib: the few gz* calls this file makes, over stdio, for plain
/// files only (gz_open refuses gzip data).
typedef FILE *gzFile;
enum { Z_ERRNO = -1, Z_MEM_ERROR = -4, Z_BUF_ERROR = -5 };

/// Opens `path` for reading; NULL with errno set on failure, or with errno
/// 0 and *gzip set if the file is gzip data.
static gzFile gz_open(const char *path, bool *gzip) {
  *gzip = false;
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  setvbuf(f, NULL, _IOFBF, GZ_BUFFER); // before any read, as C requires
  unsigned char magic[2];
  size_t got = fread(magic, 1, 2, f);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    fclose(f);
    *gzip = true;
    errno = 0;
    return NULL;
  }
  if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
    int saved = errno ? errno : EIO;
    fclose(f);
    errno = saved;
    return NULL;
  }
  return f;
}

static int gzbuffer(gzFile f, unsigned size) {
  (void)f, (void)size; // gz_open has set the buffer
  return 0;
}

static int gzread(gzFile f, void *buf, unsigned len) {
  size_t got = fread(buf, 1, len, f);
  return ferror(f) ? -1 : (int)got;
}

static const char *gzerror(gzFile f, int *code) {
  *code = ferror(f) ? Z_ERRNO : 0;
  return "";
}

static int gzclose(gzFile f) { return fclose(f); }
#endif

/// Opens the data file `path` (`what`: "images", "labels", ...) for
/// reading, raw or (with zlib) gzip; sets the error on failure.
static sora_status open_input(const char *path, const char *what, gzFile *out) {
  errno = 0; // gzopen leaves it at 0 when it fails for lack of memory
#ifdef SORA_NO_ZLIB
  bool gzip;
  *out = gz_open(path, &gzip);
  if (gzip)
    return sora_fail(SORA_ERR_FORMAT,
                     "%s file '%s' is gzip-compressed, but this runtime was "
                     "built without zlib: decompress '%s' first (gunzip)",
                     what, path, path);
#else
  *out = gzopen(path, "rb");
#endif
  if (!*out)
    return sora_fail(SORA_ERR_IO, "%s file '%s': cannot open: %s", what, path,
                     errno ? strerror(errno) : "out of memory");
  gzbuffer(*out, GZ_BUFFER);
  return SORA_OK;
}

/// True if `path` names something that exists and is not a directory.
static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/// Writes `dir/path` into `out`; false if it does not fit. An empty `dir`
/// is the current directory.
static bool join_path(const char *dir, const char *path, char *out,
                      size_t out_size) {
  size_t len = strlen(dir);
  const char *sep = (len == 0 || dir[len - 1] == '/') ? "" : "/";
  int n = snprintf(out, out_size, "%s%s%s", len == 0 ? "." : dir,
                   len == 0 ? "/" : sep, path);
  return n >= 0 && (size_t)n < out_size;
}

sora_status sora_find_data_file(const char *path, const char *data_dir,
                                const char *source_dir, char *out,
                                size_t out_size) {
  if (!path || !*path)
    return sora_fail(SORA_ERR_ARGUMENT, "no data file path given");
  if (!out || out_size == 0)
    return sora_fail(SORA_ERR_ARGUMENT, "no room for the path of '%s'", path);

  if (path[0] == '/') {
    if (!is_file(path))
      return sora_fail(SORA_ERR_IO, "data file '%s' not found", path);
    if (strlen(path) >= out_size)
      return sora_fail(SORA_ERR_ARGUMENT, "data file path '%s' is too long",
                       path);
    strcpy(out, path);
    return SORA_OK;
  }

  const char *dirs[] = {data_dir, source_dir, system_data_dir};
  char searched[768] = "";
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; ++i) {
    if (!dirs[i])
      continue;
    char candidate[SORA_PATH_MAX];
    if (!join_path(dirs[i], path, candidate, sizeof candidate))
      continue; // too long to exist
    if (is_file(candidate)) {
      if (strlen(candidate) >= out_size)
        return sora_fail(SORA_ERR_ARGUMENT, "data file path '%s' is too long",
                         candidate);
      strcpy(out, candidate);
      return SORA_OK;
    }
    size_t used = strlen(searched);
    snprintf(searched + used, sizeof searched - used, "%s%s", used ? ", " : "",
             *dirs[i] ? dirs[i] : ".");
  }
  return sora_fail(SORA_ERR_IO, "data file '%s' not found (searched in: %s)",
                   path, searched);
}

/// An IDX file of unsigned bytes, read whole.
typedef struct idx_file {
  int ndim;
  int64_t dims[IDX_MAX_DIMS];
  int64_t elements; // product of dims
  uint8_t *data;    // `elements` bytes (malloc)
} idx_file;

/// Reads up to `size` bytes, in chunks gzread can take. Returns the number
/// read (short only at the end of the file) or -1 on a read error or bad or
/// truncated gzip data.
static int64_t gz_read_all(gzFile f, void *buf, int64_t size) {
  int64_t done = 0;
  while (done < size) {
    int64_t want = size - done < GZ_CHUNK ? size - done : GZ_CHUNK;
    int got = gzread(f, (char *)buf + done, (unsigned)want);
    if (got < 0)
      return -1;
    if (got == 0) {
      // gzread reports a gzip stream cut short as end of file; gzerror
      // tells them apart.
      int code;
      gzerror(f, &code);
      if (code == Z_BUF_ERROR)
        return -1;
      break;
    }
    done += got;
  }
  return done;
}

/// Sets the error for a failed gzread: SORA_ERR_IO if the system failed to
/// read, SORA_ERR_FORMAT if the gzip data is corrupt or cut short.
static sora_status gz_failure(gzFile f, const char *what, const char *path) {
  int code;
  const char *msg = gzerror(f, &code);
  if (code == Z_ERRNO)
    return sora_fail(SORA_ERR_IO, "%s file '%s': read error: %s", what, path,
                     strerror(errno));
  if (code == Z_MEM_ERROR)
    return sora_fail(SORA_ERR_MEMORY, "%s file '%s': out of memory", what,
                     path);
  if (!msg || !*msg)
    msg = "unknown error";
  // zlib prefixes the path, which the message already names.
  size_t len = strlen(path);
  if (strncmp(msg, path, len) == 0 && strncmp(msg + len, ": ", 2) == 0)
    msg += len + 2;
  return sora_fail(SORA_ERR_FORMAT,
                   "%s file '%s': corrupt or truncated gzip data: %s", what,
                   path, msg);
}

sora_status sora_read_whole_file(const char *path, const char *what,
                                 int64_t max_bytes, char **out, int64_t *size) {
  *out = NULL;
  *size = 0;
  gzFile f;
  sora_status status = open_input(path, what, &f);
  if (status != SORA_OK)
    return status;
  char *buf = NULL;
  int64_t cap = 0, len = 0;
  for (;;) {
    if (len == cap) { // full: grow, keeping room for one byte past the limit
      if (cap > max_bytes) {
        status = sora_fail(SORA_ERR_FORMAT,
                           "%s file '%s': larger than the limit of %lld bytes",
                           what, path, (long long)max_bytes);
        goto done;
      }
      int64_t grown = cap < GZ_BUFFER ? GZ_BUFFER : cap * 2;
      if (grown > max_bytes + 1)
        grown = max_bytes + 1;
      if ((uint64_t)grown >= SIZE_MAX) {
        status = sora_fail(SORA_ERR_MEMORY, "%s file '%s': too large to read",
                           what, path);
        goto done;
      }
      char *bigger = realloc(buf, (size_t)grown + 1); // + 1: the NUL
      if (!bigger) {
        status = sora_fail(SORA_ERR_MEMORY,
                           "%s file '%s': out of memory reading %lld bytes",
                           what, path, (long long)grown);
        goto done;
      }
      buf = bigger;
      cap = grown;
    }
    int64_t got = gz_read_all(f, buf + len, cap - len);
    if (got < 0) {
      status = gz_failure(f, what, path);
      goto done;
    }
    len += got;
    if (len < cap)
      break; // the end of the file
  }
  buf[len] = '\0';
  *out = buf;
  *size = len;

done:
  gzclose(f);
  if (status != SORA_OK)
    free(buf);
  return status;
}

/// Reads and validates the IDX file `path`. `what` ("images" or "labels")
/// names it in messages. On failure nothing is left allocated.
static sora_status read_idx(const char *path, const char *what, idx_file *out) {
  memset(out, 0, sizeof *out);
  gzFile f;
  sora_status status = open_input(path, what, &f);
  if (status != SORA_OK)
    return status;
  uint8_t head[4 + 4 * IDX_MAX_DIMS];
  int64_t got = gz_read_all(f, head, 4);
  if (got < 0) {
    status = gz_failure(f, what, path);
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

  got = gz_read_all(f, head + 4, 4 * (int64_t)out->ndim);
  if (got < 0) {
    status = gz_failure(f, what, path);
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
    int64_t more = gz_read_all(f, out->data + got, cap - got);
    if (more < 0) {
      status = gz_failure(f, what, path);
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
  got = gz_read_all(f, &extra, 1);
  if (got < 0) {
    status = gz_failure(f, what, path);
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
  gzclose(f);
  if (status != SORA_OK) {
    free(out->data);
    out->data = NULL;
  }
  return status;
}

sora_status sora_dataset_load_idx(const sora_data_spec *spec,
                                  const char *data_dir, const char *source_dir,
                                  sora_dataset *out) {
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "no dataset to load into");
  memset(out, 0, sizeof *out);
  if (!spec || !spec->images || !spec->labels)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "an idx data source needs both images and labels");
  if (spec->onehot < 0)
    return sora_fail(SORA_ERR_ARGUMENT, "onehot width %lld is negative",
                     (long long)spec->onehot);
  if (!isfinite(spec->scale))
    return sora_fail(SORA_ERR_ARGUMENT, "scale of '%s' is not finite",
                     spec->images);

  char images_path[SORA_PATH_MAX], labels_path[SORA_PATH_MAX];
  sora_status status = sora_find_data_file(spec->images, data_dir, source_dir,
                                           images_path, sizeof images_path);
  if (status != SORA_OK)
    return status;
  status = sora_find_data_file(spec->labels, data_dir, source_dir, labels_path,
                               sizeof labels_path);
  if (status != SORA_OK)
    return status;

  idx_file images = {0}, labels = {0};
  sora_dataset d = {0};
  status = read_idx(images_path, "images", &images);
  if (status != SORA_OK)
    return status;
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
  d.x = sora_alloc_floats(images.elements);
  d.y = sora_alloc_floats(label_floats);
  if (!d.x || !d.y) {
    status = sora_fail(SORA_ERR_MEMORY,
                       "out of memory converting '%s' and '%s' to floats",
                       images_path, labels_path);
    goto done;
  }

  // A byte has 256 values: scale each once.
  float table[256];
  for (int v = 0; v < 256; ++v)
    table[v] = (float)(v * spec->scale);
  for (int64_t i = 0; i < images.elements; ++i)
    d.x[i] = table[images.data[i]];

  for (int64_t i = 0; i < d.count; ++i) {
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

sora_status sora_dataset_load(const sora_data_spec *spec, const char *data_dir,
                              const char *source_dir, sora_dataset *out) {
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "no dataset to load into");
  memset(out, 0, sizeof *out);
  if (!spec)
    return sora_fail(SORA_ERR_ARGUMENT, "no data source given");
  switch (spec->kind) {
  case SORA_DATA_IDX:
    return sora_dataset_load_idx(spec, data_dir, source_dir, out);
  case SORA_DATA_CSV:
    return sora_dataset_load_csv(spec, data_dir, source_dir, out);
  default:
    return sora_fail(SORA_ERR_ARGUMENT, "unknown data source kind %lld",
                     (long long)spec->kind);
  }
}

void sora_dataset_free(sora_dataset *d) {
  if (!d)
    return;
  sora_free(d->x);
  sora_free(d->y);
  memset(d, 0, sizeof *d);
}
