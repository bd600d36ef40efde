/* The convolutional example: compile model.sora (the CNN of the language
 * reference: two 3x3 convolutions with max pooling, dropout, two dense
 * layers) with sorac, link the object with the runtime, train on
 * Fashion-MNIST as the train block says, print the test accuracy.
 *
 *   fashion_cnn [--data DIR] [--epochs N] [--limit N] [--validation-split F]
 *               [--seed N] [--threads N]
 *
 * --data is where relative data paths are looked up first (then the .sora
 * file's directory, then /usr/share/datasets); --epochs and --limit override
 * the train block's epochs and use only the first N training samples;
 * --validation-split overrides the fraction held out; --seed replaces the
 * train block's seed (weights and shuffling); --threads shares the big
 * loops among threads (the results do not change). */
#include "model.h"

#include <stdio.h>

/* The epochs' training time (the runtime times each epoch). */
typedef struct {
  double seconds;
  long long epochs;
} train_time;

static int add_seconds(const sora_epoch_report *r, void *user) {
  train_time *t = user;
  t->seconds += r->seconds;
  ++t->epochs;
  return 0;
}

static int usage(const char *prog, const char *why) {
  fprintf(stderr,
          "%s: %s\nusage: %s [--data DIR] [--epochs N] [--limit N] "
          "[--validation-split F] [--seed N] [--threads N]\n",
          prog, why, prog);
  return 2;
}

int main(int argc, char **argv) {
  const char *data_dir = NULL;
  sora_fit_options options = sora_fit_defaults();
  if (sora_fit_options_from_args(&argc, argv, &options, &data_dir) != SORA_OK)
    return usage(argv[0], sora_last_error());
  if (argc > 1)
    return usage(argv[0], "unknown argument");

  fashion_cnn *model;
  if (fashion_cnn_create(&model) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  if (options.seed >= 0 &&
      sora_model_init((sora_model *)model, options.seed) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    fashion_cnn_destroy(model);
    return 1;
  }
  sora_metrics test;
  train_time timing = {0, 0};
  options.test = &test;
  options.callback = add_seconds;
  options.user = &timing;
  if (fashion_cnn_fit(model, data_dir, &options) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    fashion_cnn_destroy(model);
    return 1;
  }
  printf("train time: %.3f s (%.3f s per epoch)\n", timing.seconds,
         timing.epochs ? timing.seconds / (double)timing.epochs : 0.0);
  printf("test accuracy: %.4f (%lld images)\n", test.accuracy,
         (long long)test.count);
  fashion_cnn_destroy(model);
  return 0;
}
