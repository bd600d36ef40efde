/* Links against the object that sorac makes from end_to_end_predict.sora:
 * creates the model, predicts two samples and prints each row and its sum. */
#include "tiny.h"

#include <math.h>
#include <stdio.h>

int main(void) {
  tiny *m = NULL;
  if (tiny_create(&m) != SORA_OK) {
    printf("create failed: %s\n", sora_last_error());
    return 1;
  }
  const float x[2 * TINY_INPUT_SIZE] = {0.5f, -1.0f, 2.0f, 0.25f,
                                        -3.0f, 1.5f, 0.0f, 4.0f};
  float y[2 * TINY_OUTPUT_SIZE] = {0};
  if (tiny_predict(m, x, 2, y) != SORA_OK) {
    printf("predict failed: %s\n", sora_last_error());
    tiny_destroy(m);
    return 1;
  }
  printf("input %d output %d\n", TINY_INPUT_SIZE, TINY_OUTPUT_SIZE);
  for (int r = 0; r < 2; ++r) {
    float sum = 0;
    int in_range = 1;
    printf("row %d:", r);
    for (int j = 0; j < TINY_OUTPUT_SIZE; ++j) {
      float p = y[r * TINY_OUTPUT_SIZE + j];
      printf(" %.4f", p);
      sum += p;
      in_range &= p > 0.0f && p < 1.0f;
    }
    printf(" | sum %.4f %s %s\n", sum, in_range ? "in-range" : "OUT-OF-RANGE",
           fabsf(sum - 1.0f) < 1e-5f ? "normalised" : "NOT-NORMALISED");
  }
  tiny_destroy(m);
  return 0;
}
