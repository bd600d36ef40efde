/*===- memory.c - Aligned, zeroed storage ---------------------------------===*/
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef SORA_NO_OS
#include <malloc.h>
#endif

/// Cache-line and AVX-512 alignment for every block the kernels touch.
enum { ALIGNMENT = 64 };

void *sora_alloc(size_t bytes) {
  // A zero-byte request still gets a real block, so NULL always means failure.
  if (bytes > SIZE_MAX - ALIGNMENT) {
    sora_set_error("cannot allocate %zu bytes: too large", bytes);
    return NULL;
  }
  // aligned_alloc wants a multiple of the alignment.
  size_t rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  if (rounded == 0)
    rounded = ALIGNMENT;
#ifdef SORA_NO_OS
  // newlib's aligned_alloc calls a posix_memalign that it lacks.
  void *p = memalign(ALIGNMENT, rounded);
#else
  void *p = aligned_alloc(ALIGNMENT, rounded);
#endif
  if (!p) {
    sora_set_error("out of memory allocating %zu bytes", bytes);
    return NULL;
  }
  memset(p, 0, rounded);
  return p;
}

void sora_free(void *p) { free(p); }

float *sora_alloc_floats(int64_t count) {
  if (count < 0 || (uint64_t)count > SIZE_MAX / sizeof(float)) {
    sora_set_error("cannot allocate %lld floats", (long long)count);
    return NULL;
  }
  return sora_alloc((size_t)count * sizeof(float));
}

bool sora_mul_checked(int64_t a, int64_t b, int64_t limit, int64_t *out) {
  if (a < 0 || b < 0)
    return false;
  if (a != 0 && b > limit / a)
    return false;
  *out = a * b;
  return true;
}
