/* An inference build (weights baked into the object) against the model it
 * was baked from: both predict the 10 000 test images; every predicted class
 * must agree and every probability within 1e-5.
 *   compare CHECKPOINT DATA_DIR */
#include "baked.h"
#include "trained.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CHECKPOINT DATA_DIR\n", argv[0]);
    return 2;
  }
  sora_data_spec spec = {.images = "fashion-mnist/t10k-images-idx3-ubyte.gz",
                         .labels = "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                         .scale = 1.0 / 255,
                         .onehot = 10};
  sora_dataset test;
  mnist_mlp *baked;
  mnist_mlp_trained *trained;
  if (sora_dataset_load(&spec, argv[2], NULL, &test) != SORA_OK ||
      mnist_mlp_create(&baked) != SORA_OK ||
      mnist_mlp_trained_create(&trained) != SORA_OK ||
      mnist_mlp_trained_load(trained, argv[1]) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t n = (size_t)test.count, width = MNIST_MLP_OUTPUT_SIZE;
  float *a = malloc(n * width * sizeof *a), *b = malloc(n * width * sizeof *b);
  if (mnist_mlp_predict(baked, test.x, n, a) != SORA_OK ||
      mnist_mlp_trained_predict(trained, test.x, n, b) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t same = 0;
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    same += sora_argmax(a + i * width, (int64_t)width) ==
            sora_argmax(b + i * width, (int64_t)width);
    for (size_t j = 0; j < width; ++j)
      worst = fmax(worst, fabs((double)a[i * width + j] - b[i * width + j]));
  }
  printf("same class for %zu of %zu test images; largest probability "
         "difference %.3g; baked weights %d bytes\n",
         same, n, worst, MNIST_MLP_BAKED_WEIGHTS_BYTES);
  free(a);
  free(b);
  sora_dataset_free(&test);
  mnist_mlp_destroy(baked);
  mnist_mlp_trained_destroy(trained);
  return same == n && worst <= 1e-5 ? 0 : 1;
}
