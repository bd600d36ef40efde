/* Classifies a test set with an inference build of the seed's model
 * (mnist_mlp, weights baked in) and writes one line per image: the
 * predicted class, then the ten probabilities (%.9g: every float exactly).
 * Built for the host and, by run_aarch64.sh, for aarch64 under qemu-user,
 * whose runtime has no zlib: the IDX files must be raw (gunzipped).
 *   classify IMAGES LABELS OUT */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s IMAGES LABELS OUT\n", argv[0]);
    return 2;
  }
  sora_data_spec spec = {
      .images = argv[1], .labels = argv[2], .scale = 1.0 / 255, .onehot = 10};
  sora_dataset test;
  mnist_mlp *model;
  if (sora_dataset_load(&spec, NULL, NULL, &test) != SORA_OK ||
      mnist_mlp_create(&model) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t n = (size_t)test.count, width = MNIST_MLP_OUTPUT_SIZE;
  float *probs = malloc(n * width * sizeof *probs);
  if (!probs || mnist_mlp_predict(model, test.x, n, probs) != SORA_OK) {
    fprintf(stderr, "error: %s\n", probs ? sora_last_error() : "no memory");
    return 1;
  }
  FILE *out = fopen(argv[3], "w");
  if (!out) {
    perror(argv[3]);
    return 1;
  }
  size_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const float *row = probs + i * width;
    size_t best = (size_t)sora_argmax(row, (int64_t)width);
    correct += test.y[i * test.label_size + best] == 1.0f;
    fprintf(out, "%zu", best);
    for (size_t j = 0; j < width; ++j)
      fprintf(out, " %.9g", row[j]);
    fputc('\n', out);
  }
  if (fclose(out) != 0) {
    perror(argv[3]);
    return 1;
  }
  printf("%zu images, accuracy %.4f\n", n, (double)correct / (double)n);
  free(probs);
  sora_dataset_free(&test);
  mnist_mlp_destroy(model);
  return 0;
}
