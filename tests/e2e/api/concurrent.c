/* Concurrent callers: several application threads, each with its own
 * instance of the seed model, call predict, train_step, evaluate and fit at
 * the same time, at runtime thread counts 1, 2 and 4, on batches of many
 * sizes. Every result must equal, bit for bit, what one application thread
 * computes alone with one runtime thread (docs/api.md, "Threads").
 *
 *   concurrent [APP_THREADS] [ROUNDS]    (default 4 threads, 2 rounds) */
#include "mnist_mlp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kIn = MNIST_MLP_INPUT_SIZE, kOut = MNIST_MLP_OUTPUT_SIZE };
enum { kSteps = 6, kFitLimit = 1500 };
/* Sizes below, at and above the kernel's batch (128), and odd ones that
 * leave remainders in every tile. */
static const size_t kSizes[] = {1, 3, 17, 64, 127, 128, 129, 300};
enum { kNumSizes = sizeof kSizes / sizeof kSizes[0], kMaxRows = 300 };

/* What one instance computes; the reference and every thread fill one. */
typedef struct {
  float predictions[kNumSizes][kMaxRows * kOut];
  float losses[kSteps];
  sora_metrics evaluated;
  float trained[kMaxRows * kOut]; /* predictions after the train steps */
  float fitted[kMaxRows * kOut];  /* predictions after fit             */
  int fit; /* whether `fitted` was computed */
  int failed;
} results;

static float g_x[kMaxRows * kIn], g_y[kMaxRows * kOut];
static results g_reference;
static int g_fit; /* 1: fit too (reads Fashion-MNIST), in some jobs */

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void make_data(void) {
  uint64_t s = 42;
  for (int i = 0; i < kMaxRows * kIn; ++i)
    g_x[i] = (float)(next(&s) >> 40) / (float)(1 << 24);
  memset(g_y, 0, sizeof g_y);
  for (int r = 0; r < kMaxRows; ++r)
    g_y[r * kOut + next(&s) % kOut] = 1.0f;
}

static int check(sora_status s, const char *what) {
  if (s == SORA_OK)
    return 0;
  fprintf(stderr, "%s failed: %s\n", what, sora_last_error());
  return 1;
}

/* One instance's whole workload. `order` rotates the predict batches so that
 * threads run different sizes at the same moment. */
static void workload(results *r, int order) {
  mnist_mlp *m;
  if (check(mnist_mlp_create(&m), "create")) {
    r->failed = 1;
    return;
  }
  for (int k = 0; k < kNumSizes; ++k) {
    int i = (k + order) % kNumSizes;
    r->failed |= check(mnist_mlp_predict(m, g_x, kSizes[i], r->predictions[i]),
                       "predict");
  }
  for (int step = 0; step < kSteps; ++step) {
    size_t n = kSizes[(step + 3) % kNumSizes];
    if (n > MNIST_MLP_MAX_BATCH)
      n = MNIST_MLP_MAX_BATCH;
    r->failed |=
        check(mnist_mlp_train_step(m, g_x, g_y, n, &r->losses[step]), "train");
  }
  r->failed |= check(mnist_mlp_evaluate(m, g_x, g_y, kMaxRows, &r->evaluated),
                     "evaluate");
  r->failed |=
      check(mnist_mlp_predict(m, g_x, kMaxRows, r->trained), "predict");
  if (r->fit) {
    sora_fit_options o = sora_fit_defaults();
    o.verbose = 0;
    o.epochs = 1;
    o.limit = kFitLimit;
    r->failed |= check(mnist_mlp_fit(m, NULL, &o), "fit");
    r->failed |=
        check(mnist_mlp_predict(m, g_x, kMaxRows, r->fitted), "predict");
  }
  mnist_mlp_destroy(m);
}

typedef struct {
  results r;
  int order;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  workload(&j->r, j->order);
  return NULL;
}

/* Counts the results of `r` that differ from the reference in any bit. */
static int differences(const results *r) {
  int bad = 0;
  for (int i = 0; i < kNumSizes; ++i)
    bad += memcmp(r->predictions[i], g_reference.predictions[i],
                  kSizes[i] * kOut * sizeof(float)) != 0;
  bad += memcmp(r->losses, g_reference.losses, sizeof r->losses) != 0;
  bad += memcmp(&r->evaluated, &g_reference.evaluated,
                sizeof r->evaluated) != 0;
  bad += memcmp(r->trained, g_reference.trained, sizeof r->trained) != 0;
  if (r->fit)
    bad += memcmp(r->fitted, g_reference.fitted, sizeof r->fitted) != 0;
  return bad + r->failed;
}

int main(int argc, char **argv) {
  int app_threads = argc > 1 ? atoi(argv[1]) : 4;
  int rounds = argc > 2 ? atoi(argv[2]) : 2;
  if (app_threads < 1 || app_threads > 16 || rounds < 1)
    return fprintf(stderr, "usage: concurrent [1-16 threads] [rounds]\n"), 2;
  /* fit reads Fashion-MNIST; without it the rest still runs. */
  g_fit = getenv("SORA_TEST_NO_FIT") == NULL;
  make_data();
  if (check(sora_set_threads(1), "sora_set_threads"))
    return 1;
  g_reference.fit = g_fit;
  workload(&g_reference, 0);
  if (g_reference.failed)
    return 1;

  static const int64_t kRuntimeThreads[] = {1, 2, 4};
  int total_bad = 0;
  job *jobs = calloc((size_t)app_threads, sizeof *jobs);
  pthread_t *ids = calloc((size_t)app_threads, sizeof *ids);
  if (!jobs || !ids)
    return fprintf(stderr, "out of memory\n"), 1;
  for (int t = 0; t < 3; ++t) {
    if (check(sora_set_threads(kRuntimeThreads[t]), "sora_set_threads"))
      return 1;
    for (int round = 0; round < rounds; ++round) {
      for (int a = 0; a < app_threads; ++a) {
        memset(&jobs[a].r, 0, sizeof jobs[a].r);
        jobs[a].order = a + round;
        /* Loading the data set is slow: two fits at once, in the first
           round of each thread count but one. */
        jobs[a].r.fit = g_fit && t > 0 && round == 0 && a < 2;
        if (pthread_create(&ids[a], NULL, run_job, &jobs[a]) != 0)
          return fprintf(stderr, "pthread_create failed\n"), 1;
      }
      int bad = 0;
      for (int a = 0; a < app_threads; ++a) {
        pthread_join(ids[a], NULL);
        bad += differences(&jobs[a].r);
      }
      printf("runtime threads %lld, %d application threads, round %d: %d "
             "results differ\n",
             (long long)kRuntimeThreads[t], app_threads, round + 1, bad);
      total_bad += bad;
    }
  }
  free(jobs);
  free(ids);
  if (total_bad) {
    printf("FAIL: %d results differ from one thread's\n", total_bad);
    return 1;
  }
  printf("PASS: every result identical to one thread's, bit for bit\n");
  return 0;
}
