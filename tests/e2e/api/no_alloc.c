/* The caller-memory mode: an instance made by <model>_create_in in a static
 * buffer, then predict, train_step and evaluate must call no malloc, calloc,
 * realloc, free or mmap. This program interposes all five (its definitions
 * win over libc's when it is linked) and counts the calls made while armed. */
#define _GNU_SOURCE
#include "rings.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static int armed, calls;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

void *malloc(size_t n) {
  calls += armed;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  calls += armed;
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  calls += armed;
  return __libc_realloc(p, n);
}
void free(void *p) {
  calls += armed;
  __libc_free(p);
}
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  static void *(*real)(void *, size_t, int, int, int, off_t);
  if (!real)
    real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT,
                                                                  "mmap");
  calls += armed;
  return real(addr, len, prot, flags, fd, off);
}

static unsigned char memory[RINGS_MEMORY_BYTES];

int main(void) {
  enum { N = 32 };
  float x[N * RINGS_INPUT_SIZE], y[N * RINGS_OUTPUT_SIZE], p[N];
  for (int i = 0; i < N; ++i) {
    x[2 * i] = (float)(i % 7) / 3 - 1;
    x[2 * i + 1] = (float)(i % 5) / 2 - 1;
    y[i] = (float)(i % 2);
  }
  rings *m;
  if (rings_create_in(memory, sizeof memory, &m) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  armed = 1;
  float loss = 0;
  sora_metrics metrics;
  int ok = rings_predict(m, x, N, p) == SORA_OK;
  for (int step = 0; step < 5 && ok; ++step)
    ok = rings_train_step(m, x, y, N, &loss) == SORA_OK;
  ok = ok && rings_evaluate(m, x, y, N, &metrics) == SORA_OK;
  ok = ok && rings_predict(m, x, 3, p) == SORA_OK;
  armed = 0;
  rings_destroy(m);
  printf("%s; allocations while predicting, training and evaluating: %d "
         "(memory %d bytes, loss %.4f)\n",
         ok ? "ran" : "FAILED", calls, RINGS_MEMORY_BYTES, loss);
  return ok && calls == 0 ? 0 : 1;
}
