/*===- input.c - Reading data files, raw or gzip --------------------------===*
 *
 * Files are read through zlib's gz* functions, which pass raw files through
 * unchanged. A runtime built without zlib (SORA_NO_ZLIB: cmake
 * -DSORA_RT_ZLIB=OFF, or a cross build that compiles these sources
 * directly) reads plain files with stdio and rejects gzip data with a
 * message that says to decompress it.
 *
 *===----------------------------------------------------------------------===*/
#include "input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef SORA_NO_ZLIB
#include <zlib.h>
#endif

enum {
  GZ_CHUNK = 1 << 30,    // gzread takes an unsigned and returns an int
  GZ_BUFFER = 128 * 1024 // larger than zlib's 8 KiB default: faster
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

sora_status sora_input_open(sora_input *in, const char *path,
                            const char *what) {
  in->path = path;
  in->what = what;
  gzFile f;
  errno = 0; // gzopen leaves it at 0 when it fails for lack of memory
#ifdef SORA_NO_ZLIB
  bool gzip;
  f = gz_open(path, &gzip);
  if (gzip)
    return sora_fail(SORA_ERR_FORMAT,
                     "%s file '%s' is gzip-compressed, but this runtime was "
                     "built without zlib: decompress '%s' first (gunzip)",
                     what, path, path);
#else
  f = gzopen(path, "rb");
#endif
  if (!f)
    return sora_fail(SORA_ERR_IO, "%s file '%s': cannot open: %s", what, path,
                     errno ? strerror(errno) : "out of memory");
  gzbuffer(f, GZ_BUFFER);
  in->handle = f;
  return SORA_OK;
}

int64_t sora_input_read(sora_input *in, void *buf, int64_t size) {
  gzFile f = in->handle;
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

sora_status sora_input_failure(const sora_input *in) {
  gzFile f = in->handle;
  const char *what = in->what, *path = in->path;
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

void sora_input_close(sora_input *in) {
  gzclose((gzFile)in->handle);
  in->handle = NULL;
}

sora_status sora_read_whole_file(const char *path, const char *what,
                                 int64_t max_bytes, char **out, int64_t *size) {
  *out = NULL;
  *size = 0;
  sora_input in = {0};
  sora_status status = sora_input_open(&in, path, what);
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
    int64_t got = sora_input_read(&in, buf + len, cap - len);
    if (got < 0) {
      status = sora_input_failure(&in);
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
  sora_input_close(&in);
  if (status != SORA_OK)
    free(buf);
  return status;
}
