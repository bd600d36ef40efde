/* An inference build of a model that standardizes its input (the scaling
 * baked in with the weights) predicts raw CSV rows: prints the mean squared
 * error of its predictions, for feature_scaling.py to compare with `sorac
 * eval`'s test loss.
 *   scaled_predict TEST.CSV LABEL_COLUMN */
#include "baked.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s TEST.CSV LABEL_COLUMN\n", argv[0]);
    return 2;
  }
  sora_data_spec spec = {.kind = SORA_DATA_CSV,
                         .path = argv[1],
                         .scale = 1,
                         .label_column = atoi(argv[2])};
  sora_dataset test;
  houses *m;
  if (sora_dataset_load(&spec, NULL, NULL, &test) != SORA_OK ||
      houses_create(&m) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  size_t n = (size_t)test.count;
  float *y = malloc(n * sizeof *y);
  if (!y || houses_predict(m, test.x, n, y) != SORA_OK) {
    fprintf(stderr, "error: %s\n", sora_last_error());
    return 1;
  }
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    double e = (double)y[i] - test.y[i];
    sum += e * e;
  }
  printf("%.9g\n", sum / (double)n);
  free(y);
  sora_dataset_free(&test);
  houses_destroy(m);
  return 0;
}
