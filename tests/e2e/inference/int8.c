/* An int8 inference build (--quantize=int8) against the f32 one, both baked
 * from one checkpoint: the test set's accuracy of each, and how often they
 * predict the same class. Fails when int8 loses more than half a point.
 *   int8 DATA_DIR */
#include "int8.h"
#include "f32.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  sora_data_spec spec = {.images = "fashion-mnist/t10k-images-idx3-ubyte.gz",
                         .labels = "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                         .scale = 1.0 / 255,
                         .onehot = 10};
  sora_dataset test;
  mnist_mlp *f32;
  mnist_mlp_int8 *int8;
  if (sora_dataset_load(&spec, argv[1], NULL, &test) != SORA_OK ||
      mnist_mlp_create(&f32) != SORA_OK ||
      mnist_mlp_int8_create(&int8) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t n = (size_t)test.count, width = MNIST_MLP_OUTPUT_SIZE;
  float *a = malloc(n * width * sizeof *a), *b = malloc(n * width * sizeof *b);
  if (mnist_mlp_predict(f32, test.x, n, a) != SORA_OK ||
      mnist_mlp_int8_predict(int8, test.x, n, b) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t right32 = 0, right8 = 0, same = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t label = sora_argmax(test.y + i * width, (int64_t)width);
    int64_t p32 = sora_argmax(a + i * width, (int64_t)width);
    int64_t p8 = sora_argmax(b + i * width, (int64_t)width);
    right32 += p32 == label;
    right8 += p8 == label;
    same += p32 == p8;
  }
  double acc32 = (double)right32 / n, acc8 = (double)right8 / n;
  printf("test accuracy: f32 %.4f, int8 %.4f (%+.2f points); same class for "
         "%zu of %zu images\n",
         acc32, acc8, 100 * (acc8 - acc32), same, n);
  free(a);
  free(b);
  sora_dataset_free(&test);
  mnist_mlp_destroy(f32);
  mnist_mlp_int8_destroy(int8);
  return acc8 >= acc32 - 0.005 ? 0 : 1;
}
