/* The seed's example: compile model.sora with sorac, link the object with
 * the runtime, run the train block, print the test accuracy.
 *
 *   mnist_mlp [--data DIR] [--epochs N] [--limit N] [--validation-split F]
 *             [--seed N] [--threads N]
 *
 * --data is where relative data paths are looked up first (then the .sora
 * file's directory, then /usr/share/datasets); --epochs and --limit override
 * the train block's epochs and use only the first N training samples;
 * --validation-split overrides the fraction held out; --seed replaces the
 * train block's seed (weights and shuffling); --threads shares the big
 * loops among threads (the results do not change).
 *
 * mnist_mlp_mpi, the same program linked with sora_rt_mpi (built where MPI
 * is found), trains data-parallel under `mpirun -np N mnist_mlp_mpi`; only
 * rank 0 prints (docs/distributed.md). */
#include "model.h"
#ifdef SORA_WITH_MPI
#include "sora/mpi.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds up the epochs' training time (the runtime times each epoch). */
static int add_seconds(const sora_epoch_report *r, void *user) {
  *(double *)user += r->seconds;
  return 0;
}

static int usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [--data DIR] [--epochs N] [--limit N] "
          "[--validation-split F] [--seed N] [--threads N]\n",
          prog);
  return 2;
}

static int run(int argc, char **argv);

int main(int argc, char **argv) {
#ifdef SORA_WITH_MPI
  if (sora_mpi_init(&argc, &argv) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  int status = run(argc, argv);
  if (status != 0 && sora_world_size() > 1)
    sora_mpi_abort(status); /* the other ranks may wait in an allreduce */
  sora_mpi_finalize();
  return status;
#else
  return run(argc, argv);
#endif
}

static int run(int argc, char **argv) {
  const char *data_dir = NULL;
  sora_fit_options options = sora_fit_defaults();
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
      data_dir = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--epochs") == 0)
      options.epochs = atoll(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--limit") == 0)
      options.limit = atoll(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--validation-split") == 0)
      options.validation_split = atof(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0)
      options.seed = atoll(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
      if (sora_set_threads(atoll(argv[++i])) != SORA_OK) {
        fprintf(stderr, "error: %s\n", sora_last_error());
        return 2;
      }
    } else
      return usage(argv[0]);
  }

  mnist_mlp *model;
  if (mnist_mlp_create(&model) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  if (options.seed >= 0 &&
      sora_model_init((sora_model *)model, options.seed) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    mnist_mlp_destroy(model);
    return 1;
  }
  sora_metrics test;
  double train_seconds = 0;
  options.test = &test;
  options.callback = add_seconds;
  options.user = &train_seconds;
  if (mnist_mlp_fit(model, data_dir, &options) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    mnist_mlp_destroy(model);
    return 1;
  }
  if (sora_rank() == 0) { /* the metrics are reduced over every rank */
    printf("train time: %.3f s\n", train_seconds);
    printf("test accuracy: %.4f (%lld images)\n", test.accuracy,
           (long long)test.count);
  }
  mnist_mlp_destroy(model);
  return 0;
}
