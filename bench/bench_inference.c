/* bench_inference: an inference build of the seed's model (sorac --inference,
 * f32 or --quantize=int8; compiled by bench/run.py as model.o + model.h)
 * on the 10 000 test images: the accuracy against the labels, then
 * --latency-calls warm one-image predict calls, each timed with
 * clock_gettime (median), cycling through the images. One JSON line.
 *
 *   bench_inference [--data DIR] [--latency-calls N]
 */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *data_dir = "/usr/share/datasets";
  long calls = 100000;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
      data_dir = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--latency-calls") == 0)
      calls = atol(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--data DIR] [--latency-calls N]\n", argv[0]);
      return 2;
    }
  }
  sora_data_spec spec = {.images = "fashion-mnist/t10k-images-idx3-ubyte.gz",
                         .labels = "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                         .scale = 1.0 / 255,
                         .onehot = 10};
  sora_dataset test;
  mnist_mlp *m;
  if (calls < 1 || sora_dataset_load(&spec, data_dir, NULL, &test) != SORA_OK ||
      mnist_mlp_create(&m) != SORA_OK) {
    fprintf(stderr, "error: %s\n", calls < 1 ? "calls" : sora_last_error());
    return 1;
  }
  size_t n = (size_t)test.count, width = MNIST_MLP_OUTPUT_SIZE;
  size_t in = (size_t)test.sample_size;
  float *out = malloc(n * width * sizeof *out);
  if (mnist_mlp_predict(m, test.x, n, out) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t right = 0;
  for (size_t i = 0; i < n; ++i)
    right += sora_argmax(out + i * width, (int64_t)width) ==
             sora_argmax(test.y + i * width, (int64_t)width);

  double *t = malloc((size_t)calls * sizeof *t);
  for (long c = -1000; c < calls; ++c) { /* 1000 warm-up calls */
    size_t i = (size_t)(c + 1000) % n;
    double start = now();
    mnist_mlp_predict(m, test.x + i * in, 1, out);
    if (c >= 0)
      t[c] = now() - start;
  }
  qsort(t, (size_t)calls, sizeof *t, cmp_double);
  printf("{\"accuracy\": %.4f, \"batch1_median_us\": %.3f, "
         "\"batch1_p99_us\": %.3f}\n",
         (double)right / n, 1e6 * t[calls / 2], 1e6 * t[calls * 99 / 100]);
  free(t);
  free(out);
  sora_dataset_free(&test);
  mnist_mlp_destroy(m);
  return 0;
}
