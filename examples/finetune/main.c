/* Fine-tuning: continue training a checkpoint of the seed's model on new
 * data, then save it.
 *
 *   finetune IN.safetensors OUT.safetensors [--data DIR] [--epochs N]
 *            [--limit N] [--seed N] [--threads N]
 *
 * The checkpoint carries the optimizer state and the epochs done; --epochs
 * is the epoch to train to (the train block's by default), so a checkpoint
 * saved after epoch 1 trained with --epochs 3 runs epochs 2 and 3. --data
 * points at another MNIST-format directory (the new data). */
#include "mnist_mlp.h"

#include <stdio.h>

int main(int argc, char **argv) {
  const char *data_dir = NULL;
  sora_fit_options o = sora_fit_defaults();
  sora_metrics test;
  o.test = &test;
  if (sora_fit_options_from_args(&argc, argv, &o, &data_dir) != SORA_OK) {
    fprintf(stderr, "%s: %s\n", argv[0], sora_last_error());
    return 2;
  }
  if (argc != 3) { /* IN and OUT are what is left */
    fprintf(stderr,
            "usage: %s IN OUT [--data DIR] [--epochs N] [--limit N] "
            "[--seed N] [--threads N]\n",
            argv[0]);
    return 2;
  }
  mnist_mlp *m;
  if (mnist_mlp_create(&m) != SORA_OK ||
      mnist_mlp_load(m, argv[1]) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  printf("fine-tuning from epoch %lld\n",
         (long long)sora_model_epoch((const sora_model *)m));
  if (mnist_mlp_fit(m, data_dir, &o) != SORA_OK ||
      mnist_mlp_save(m, argv[2]) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    mnist_mlp_destroy(m);
    return 1;
  }
  printf("test accuracy: %.4f; saved %s\n", test.accuracy, argv[2]);
  mnist_mlp_destroy(m);
  return 0;
}
