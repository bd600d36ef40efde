/* An inference build of a model with batch_norm against the trained model
 * it was baked from (its checkpoint loaded): both predict the same rows to
 * 1e-6, and each row alone as in a batch (the running statistics are used,
 * not the batch's).
 *   batch_norm CHECKPOINT */
#include "baked.h"
#include "trained.h"

#include <math.h>
#include <stdio.h>

enum { ROWS = 16, IN = BN_INPUT_SIZE, OUT = BN_OUTPUT_SIZE };

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CHECKPOINT\n", argv[0]);
    return 2;
  }
  bn *baked;
  bn_trained *trained;
  if (bn_create(&baked) != SORA_OK || bn_trained_create(&trained) != SORA_OK ||
      bn_trained_load(trained, argv[1]) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  float x[ROWS * IN], a[ROWS * OUT], b[ROWS * OUT], one[OUT];
  for (int i = 0; i < ROWS * IN; ++i)
    x[i] = (float)sin(0.7 * i + 0.3);
  if (bn_predict(baked, x, ROWS, a) != SORA_OK ||
      bn_trained_predict(trained, x, ROWS, b) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  double worst = 0, alone = 0;
  for (int r = 0; r < ROWS; ++r) {
    if (bn_predict(baked, x + r * IN, 1, one) != SORA_OK)
      return 1;
    for (int j = 0; j < OUT; ++j) {
      worst = fmax(worst, fabs((double)a[r * OUT + j] - b[r * OUT + j]));
      alone = fmax(alone, fabs((double)a[r * OUT + j] - one[j]));
    }
  }
  printf("inference vs trained: largest difference %.3g; a row alone vs in "
         "the batch: %.3g\n",
         worst, alone);
  bn_destroy(baked);
  bn_trained_destroy(trained);
  return worst <= 1e-6 && alone <= 1e-6 ? 0 : 1;
}
