/*===- memory.c - Aligned, zeroed storage ---------------------------------===*/
// madvise and MADV_HUGEPAGE are not POSIX (the runtime builds with
// _POSIX_C_SOURCE): glibc shows them with _DEFAULT_SOURCE.
#define _DEFAULT_SOURCE 1
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef SORA_NO_OS
#include <malloc.h>
#else
#include <sys/mman.h>
#endif

/// Cache-line and AVX-512 alignment for every block the kernels touch.
enum { ALIGNMENT = 64 };

#if !defined(SORA_NO_OS) && defined(MADV_HUGEPAGE)
/// A block of at least this many bytes (a data set, the parameters of a
/// large model, its scratch) is 2 MiB-aligned and asks for transparent huge
/// pages: gathering random batch rows from a data set of 4 KiB pages walks
/// the page tables at every row (TLB misses), and the first pass over them
/// costs a whole epoch more. Where the kernel declines, 4 KiB pages remain.
enum { HUGE_PAGE = 2 << 20 };

static void *alloc_huge(size_t *rounded) {
  if (*rounded > SIZE_MAX - HUGE_PAGE)
    return NULL;
  *rounded = (*rounded + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  void *p = aligned_alloc(HUGE_PAGE, *rounded);
  if (p)
    (void)madvise(p, *rounded, MADV_HUGEPAGE); // advice: failure is harmless
  return p;
}
#endif

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
  void *p = NULL;
#ifdef MADV_HUGEPAGE
  if (rounded >= HUGE_PAGE)
    p = alloc_huge(&rounded);
#endif
  if (!p)
    p = aligned_alloc(ALIGNMENT, rounded);
#endif
  if (!p) {
    sora_set_error("out of memory allocating %zu bytes", bytes);
    return NULL;
  }
  // Zeroing touches every page now, at allocation, not in a training step.
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
