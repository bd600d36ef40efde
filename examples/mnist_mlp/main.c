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

/* Adds up the epochs' training time (the runtime times each epoch). */
static int add_seconds(const sora_epoch_report *r, void *user) {
  *(double *)user += r->seconds;
  return 0;
}

static int usage(const char *prog, const char *why) {
  fprintf(stderr,
          "%s: %s\nusage: %s [--data DIR] [--epochs N] [--limit N] "
          "[--validation-split F] [--seed N] [--threads N]\n",
          prog, why, prog);
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
  if (sora_fit_options_from_args(&argc, argv, &options, &data_dir) != SORA_OK)
    return usage(argv[0], sora_last_error());
  if (argc > 1)
    return usage(argv[0], "unknown argument");

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
