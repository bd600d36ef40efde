/* The seed's example: compile model.sora with sorac, link the object with
 * the runtime, run the train block, print the test accuracy.
 *
 *   mnist_mlp [--data DIR] [--epochs N] [--limit N]
 *
 * --data is where relative data paths are looked up first (then the .sora
 * file's directory, then /usr/share/datasets); --epochs and --limit override
 * the train block's epochs and use only the first N training samples. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *prog) {
  fprintf(stderr, "usage: %s [--data DIR] [--epochs N] [--limit N]\n", prog);
  return 2;
}

int main(int argc, char **argv) {
  const char *data_dir = NULL;
  sora_fit_options options = sora_fit_defaults();
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
      data_dir = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--epochs") == 0)
      options.epochs = atoll(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "--limit") == 0)
      options.limit = atoll(argv[++i]);
    else
      return usage(argv[0]);
  }

  mnist_mlp *model;
  if (mnist_mlp_create(&model) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  sora_metrics test;
  options.test = &test;
  if (mnist_mlp_fit(model, data_dir, &options) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    mnist_mlp_destroy(model);
    return 1;
  }
  printf("test accuracy: %.4f (%lld images)\n", test.accuracy,
         (long long)test.count);
  mnist_mlp_destroy(model);
  return 0;
}
