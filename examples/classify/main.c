/* Inference only: classify the images of IDX files given on the command
 * line with a trained checkpoint of the seed's model (examples/mnist_mlp).
 *
 *   classify WEIGHTS.safetensors IMAGES.idx[.gz] LABELS.idx[.gz]
 *
 * Prints one line per image (its index, class and probability), then the
 * accuracy against the labels. Only _create, _load and _predict are used. */
#include "mnist_mlp.h"

#include <stdio.h>
#include <stdlib.h>

static const char *kClasses[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s WEIGHTS IMAGES LABELS\n", argv[0]);
    return 2;
  }
  // The same conversion as the train block's: pixels scaled to [0, 1].
  sora_data_spec spec = {
      .images = argv[2], .labels = argv[3], .scale = 1.0 / 255};
  sora_dataset data = {0};
  mnist_mlp *model = NULL;
  float *p = NULL;
  int status = 1; // every exit below frees what was made
  if (sora_dataset_load(&spec, ".", NULL, &data) != SORA_OK ||
      mnist_mlp_create(&model) != SORA_OK ||
      mnist_mlp_load(model, argv[1]) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    goto done;
  }
  if (data.sample_size != MNIST_MLP_INPUT_SIZE) {
    fprintf(stderr, "error: images of %lld pixels, the model takes %d\n",
            (long long)data.sample_size, MNIST_MLP_INPUT_SIZE);
    goto done;
  }
  p = malloc((size_t)data.count * MNIST_MLP_OUTPUT_SIZE * sizeof *p);
  if (!p ||
      mnist_mlp_predict(model, data.x, (size_t)data.count, p) != SORA_OK) {
    fprintf(stderr, "error: %s\n", p ? sora_last_error() : "out of memory");
    goto done;
  }
  int64_t right = 0;
  for (int64_t i = 0; i < data.count; ++i) {
    const float *row = p + i * MNIST_MLP_OUTPUT_SIZE;
    int best = (int)sora_argmax(row, MNIST_MLP_OUTPUT_SIZE);
    right += best == (int)data.y[i];
    printf("%lld: %s (%.3f)\n", (long long)i, kClasses[best], row[best]);
  }
  printf("accuracy: %.4f (%lld images)\n", (double)right / (double)data.count,
         (long long)data.count);
  status = 0;
done:
  free(p);
  sora_dataset_free(&data);
  mnist_mlp_destroy(model);
  return status;
}
