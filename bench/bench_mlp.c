/* bench_mlp: the sorac side of `make bench`. Links the example model
 * (examples/mnist_mlp/model.sora, compiled by bench/run.py with sorac -O2
 * into a temporary directory as model.o + model.h) with the runtime, then
 *
 *   1. trains the train block as written (sora_model_fit; the epoch callback
 *      sums the runtime's per-epoch seconds, which cover shuffling, the
 *      training steps and the validation pass) and takes the test accuracy;
 *   2. on the 10 000 test images: times one sora_model_predict call over all
 *      of them (after one warm-up call; median of --infer-runs calls), and
 *      checks the predictions' accuracy against the labels;
 *   3. times --latency-calls warm one-image sora_model_predict calls, each
 *      with clock_gettime (median and mean), cycling through the test images;
 *   4. prints one JSON line, with the process's peak RSS (ru_maxrss).
 *
 *   bench_mlp [--data DIR] [--infer-runs N] [--latency-calls N]
 */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>

#define MAX_EPOCHS 64

typedef struct {
  double total;
  int64_t count;
  double seconds[MAX_EPOCHS];
  double val_accuracy;
} epoch_log;

static int log_epoch(const sora_epoch_report *r, void *user) {
  epoch_log *log = user;
  log->total += r->seconds;
  if (log->count < MAX_EPOCHS)
    log->seconds[log->count] = r->seconds;
  ++log->count;
  log->val_accuracy = r->val_accuracy;
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The number of training samples, from the labels file's IDX header (the
 * runtime does not report it): the runtime splits off the last
 * validation_split of these, as bench/results.md's FLOP count assumes. */
static int64_t count_samples(const sora_model_desc *d, const char *data_dir) {
  char path[4096];
  if (sora_find_data_file(d->data.labels, data_dir, d->source_dir, path,
                          sizeof path) != SORA_OK) {
    fprintf(stderr, "bench_mlp: %s\n", sora_last_error());
    return -1;
  }
  gzFile f = gzopen(path, "rb");
  unsigned char h[8];
  int got = f ? gzread(f, h, sizeof h) : -1;
  if (f)
    gzclose(f);
  if (got != (int)sizeof h || h[0] || h[1] || h[3] != 1) {
    fprintf(stderr, "bench_mlp: %s: not a one-dimensional IDX labels file\n",
            path);
    return -1;
  }
  return ((int64_t)h[4] << 24) | (h[5] << 16) | (h[6] << 8) | h[7];
}

static int fail(const char *what) {
  fprintf(stderr, "bench_mlp: %s: %s\n", what, sora_last_error());
  return 1;
}

int main(int argc, char **argv) {
  const char *data_dir = NULL;
  long infer_runs = 11, latency_calls = 10000;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
      data_dir = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
      if (sora_set_threads(atol(argv[++i])) != SORA_OK) {
        fprintf(stderr, "error: %s\n", sora_last_error());
        return 2;
      }
    } else if (i + 1 < argc && strcmp(argv[i], "--infer-runs") == 0)
      infer_runs = atol(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--latency-calls") == 0)
      latency_calls = atol(argv[++i]);
    else {
      fprintf(stderr,
              "usage: %s [--data DIR] [--infer-runs N] [--latency-calls N]\n",
              argv[0]);
      return 2;
    }
  }
  if (infer_runs < 1 || latency_calls < 1) {
    fprintf(stderr,
            "bench_mlp: --infer-runs and --latency-calls must be > 0\n");
    return 2;
  }

  /* 1. Training, as the train block says. */
  mnist_mlp *model;
  if (mnist_mlp_create(&model) != SORA_OK)
    return fail("create");
  sora_fit_options options = sora_fit_defaults();
  options.verbose = 0;
  sora_metrics test_metrics;
  epoch_log log = {0};
  options.test = &test_metrics;
  options.callback = log_epoch;
  options.user = &log;
  if (mnist_mlp_fit(model, data_dir, &options) != SORA_OK)
    return fail("fit");

  /* The test set again, for inference. */
  const sora_model_desc *desc = &mnist_mlp_desc;
  sora_dataset test;
  if (sora_dataset_load(&desc->test, data_dir, desc->source_dir, &test) !=
      SORA_OK)
    return fail("loading the test set");
  size_t n = (size_t)test.count, in = MNIST_MLP_INPUT_SIZE,
         out = MNIST_MLP_OUTPUT_SIZE;
  float *y = sora_alloc(n * out * sizeof(float));
  double *times =
      malloc((size_t)(infer_runs > latency_calls ? infer_runs : latency_calls) *
             sizeof(double));
  if (!y || !times) {
    fprintf(stderr, "bench_mlp: out of memory\n");
    return 1;
  }

  /* 2. All test images in one call. */
  if (mnist_mlp_predict(model, test.x, n, y) != SORA_OK) /* warm-up */
    return fail("predict");
  for (long r = 0; r < infer_runs; ++r) {
    double t = now();
    mnist_mlp_predict(model, test.x, n, y);
    times[r] = now() - t;
  }
  double infer_s = median(times, (size_t)infer_runs);
  double infer_min_s = times[0];
  size_t correct = 0;
  for (size_t i = 0; i < n; ++i)
    correct +=
        sora_argmax(y + i * out, (int64_t)out) ==
        sora_argmax(test.y + i * (size_t)test.label_size, test.label_size);
  double predict_accuracy = (double)correct / (double)n;

  /* 3. Batch-1 latency: warm up, then time each call. */
  for (size_t i = 0; i < 1000; ++i)
    mnist_mlp_predict(model, test.x + (i % n) * in, 1, y + (i % n) * out);
  double total = now();
  for (long c = 0; c < latency_calls; ++c) {
    size_t i = (size_t)c % n;
    double t = now();
    mnist_mlp_predict(model, test.x + i * in, 1, y + i * out);
    times[c] = now() - t;
  }
  total = now() - total;
  double sum = 0;
  for (long c = 0; c < latency_calls; ++c)
    sum += times[c];
  double lat_mean_us = 1e6 * sum / (double)latency_calls;
  double lat_loop_us = 1e6 * total / (double)latency_calls;
  double lat_median_us = 1e6 * median(times, (size_t)latency_calls);
  double lat_p99_us = 1e6 * times[(size_t)((double)(latency_calls - 1) * 0.99)];

  /* The clock's own cost, to read the per-call figures against. */
  for (long c = 0; c < latency_calls; ++c) {
    double t = now();
    times[c] = now() - t;
  }
  double clock_median_us = 1e6 * median(times, (size_t)latency_calls);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);

  int64_t samples = count_samples(desc, data_dir);
  if (samples < 0)
    return 1;
  int64_t train_samples =
      (int64_t)((double)samples * (1.0 - desc->validation_split));
  printf("{\"train_s\": %.6f, \"epochs\": %lld, \"train_samples\": %lld, "
         "\"val_samples\": %lld, \"epoch_s\": [",
         log.total, (long long)log.count, (long long)train_samples,
         (long long)(samples - train_samples));
  for (int64_t e = 0; e < log.count && e < MAX_EPOCHS; ++e)
    printf("%s%.6f", e ? ", " : "", log.seconds[e]);
  printf("], \"val_acc\": %.6f, \"test_acc\": %.6f, \"test_count\": %lld, "
         "\"predict_acc\": %.6f, \"infer10k_s\": %.6f, \"infer10k_min_s\": "
         "%.6f, \"infer_images\": %zu, \"infer_runs\": %ld, "
         "\"batch1_median_us\": %.4f, \"batch1_mean_us\": %.4f, "
         "\"batch1_loop_us\": %.4f, \"batch1_p99_us\": %.4f, "
         "\"batch1_calls\": %ld, \"clock_overhead_us\": %.4f, "
         "\"max_rss_kib\": %ld}\n",
         isnan(log.val_accuracy) ? -1.0 : log.val_accuracy,
         test_metrics.accuracy, (long long)test_metrics.count, predict_accuracy,
         infer_s, infer_min_s, n, infer_runs, lat_median_us, lat_mean_us,
         lat_loop_us, lat_p99_us, latency_calls, clock_median_us, ru.ru_maxrss);

  free(times);
  sora_free(y);
  sora_dataset_free(&test);
  mnist_mlp_destroy(model);
  return 0;
}
