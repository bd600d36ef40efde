/* The install test's program: the model compiled by sorac_add_model (or by
 * the installed sorac by hand, linked with pkg-config's flags). Predicts on
 * two samples, checks that each row of probabilities sums to 1, takes two
 * SGD steps on the same batch and checks that the loss went down. Prints
 * the header's parameter size, which run.sh uses to see a rebuilt model. */
#include "tiny_model.h" /* generated; the symbols are named after `model tiny` */

#include <math.h>
#include <stdio.h>

#define N 2

static int fail(const char *what) {
  fprintf(stderr, "app: %s: %s\n", what, sora_last_error());
  return 1;
}

int main(void) {
  static const float x[N * TINY_INPUT_SIZE] = {0.5f, -1.0f, 0.25f, 2.0f,
                                               -0.5f, 0.75f, 1.5f, -2.0f};
  static const float y[N * TINY_OUTPUT_SIZE] = {1, 0, 0, 0, 0, 1};
  float probs[N * TINY_OUTPUT_SIZE];

  tiny *m;
  if (tiny_create(&m) != SORA_OK)
    return fail("create");
  if (tiny_predict(m, x, N, probs) != SORA_OK)
    return fail("predict");
  for (int i = 0; i < N; ++i) {
    float sum = 0;
    for (int j = 0; j < TINY_OUTPUT_SIZE; ++j) {
      float p = probs[i * TINY_OUTPUT_SIZE + j];
      if (!(p >= 0 && p <= 1)) {
        fprintf(stderr, "app: probability %g out of [0, 1]\n", p);
        return 1;
      }
      sum += p;
    }
    if (fabsf(sum - 1) > 1e-5f) {
      fprintf(stderr, "app: sample %d: probabilities sum to %.7f\n", i, sum);
      return 1;
    }
  }

  float before, after;
  if (tiny_train_step(m, x, y, N, &before) != SORA_OK ||
      tiny_train_step(m, x, y, N, &after) != SORA_OK)
    return fail("train_step");
  if (!(after < before)) {
    fprintf(stderr, "app: loss did not go down: %g then %g\n", before, after);
    return 1;
  }
  tiny_destroy(m);

  printf("params: %d bytes\n", TINY_PARAMS_BYTES);
  printf("loss: %.4f -> %.4f\n", before, after);
  return 0;
}
