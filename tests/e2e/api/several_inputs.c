/* The generated API of a model with two inputs (tests/e2e/api/
 * several_inputs.sora): pair_predict, pair_train_step and pair_evaluate take
 * one typed pointer per input (`const int32_t *user, const float *feats`)
 * and give the same results, bit for bit, as the runtime's functions on
 * packed rows; an id outside the embedding's range is refused, naming the
 * sample and the input. Prints PASS only if all of that holds. */
#include "pair.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define N 11 /* more than the batch size: predict runs in chunks */

static int failures;
static void expect(int ok, const char *what) {
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  failures += !ok;
}

int main(void) {
  int32_t user[N * 2];
  float feats[N * 3], labels[N * 2], packed[N * PAIR_INPUT_SIZE];
  for (int r = 0; r < N; ++r) {
    for (int e = 0; e < 2; ++e)
      user[r * 2 + e] = (r * 3 + e) % 5;
    for (int e = 0; e < 3; ++e)
      feats[r * 3 + e] = (float)(r - e) / 7.0f;
    labels[r * 2] = 0.5f, labels[r * 2 + 1] = -0.25f;
    /* The packed row: the user's two ids (int32_t bits), then feats. */
    memcpy(&packed[r * PAIR_INPUT_SIZE], &user[r * 2], 2 * sizeof(int32_t));
    memcpy(&packed[r * PAIR_INPUT_SIZE + 2], &feats[r * 3], 3 * sizeof(float));
  }
  expect(PAIR_INPUT_SIZE == 5 && PAIR_USER_SIZE == 2 && PAIR_FEATS_SIZE == 3,
         "sizes: 5 slots, user 2 ids, feats 3 floats");

  pair *a, *b;
  if (pair_create(&a) != SORA_OK || pair_create(&b) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  float ya[N * 2], yb[N * 2];
  expect(pair_predict(a, user, feats, N, ya) == SORA_OK &&
             sora_model_predict((sora_model *)b, packed, N, yb) == SORA_OK &&
             memcmp(ya, yb, sizeof ya) == 0,
         "predict: typed pointers == packed rows");

  float la, lb;
  for (int step = 0; step < 3; ++step) {
    pair_train_step(a, user, feats, labels, 4, &la);
    sora_model_train_step((sora_model *)b, packed, labels, 4, &lb);
  }
  pair_predict(a, user, feats, N, ya);
  sora_model_predict((sora_model *)b, packed, N, yb);
  expect(la == lb && memcmp(ya, yb, sizeof ya) == 0,
         "train_step: typed pointers == packed rows");

  sora_metrics ma, mb;
  pair_evaluate(a, user, feats, labels, N, &ma);
  sora_model_evaluate((sora_model *)b, packed, labels, N, &mb);
  expect(ma.loss == mb.loss && ma.count == N, "evaluate: the same loss");

  user[7 * 2 + 1] = 5; /* the embedding has 5 rows */
  sora_status s = pair_predict(a, user, feats, N, ya);
  expect(s == SORA_ERR_ARGUMENT && strstr(sora_last_error(), "sample 7") &&
             strstr(sora_last_error(), "'user'"),
         sora_last_error());

  pair_destroy(a);
  pair_destroy(b);
  if (failures)
    return 1;
  printf("PASS: two inputs through the typed API\n");
  return 0;
}
