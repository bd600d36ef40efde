/* The regression example as an object file: fit prints mae and rmse on its
 * epoch lines, and the last epoch's val_mae and val_rmse, like evaluate's,
 * equal the errors of the model's predictions for the validation rows,
 * computed here in double. Prints PASS only if they do. */
#include "regression.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static sora_epoch_report last;

static int keep_last(const sora_epoch_report *r, void *user) {
  (void)user;
  last = *r;
  return 0;
}

/* |got - want| within a relative 1e-5 (float kernels, double sums). */
static int close_to(const char *what, double got, double want) {
  int ok = fabs(got - want) <= 1e-5 * fabs(want);
  printf("%s: %s %.7f, predictions give %.7f\n", ok ? "ok" : "FAIL", what, got,
         want);
  return ok;
}

int main(void) {
  regression *m;
  if (regression_create(&m) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  sora_fit_options o = sora_fit_defaults();
  o.epochs = 3;
  o.callback = keep_last;
  if (regression_fit(m, NULL, &o) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;

  // The validation rows: the last validation_split of the data, as fit
  // holds them out.
  const sora_model_desc *d = &regression_desc;
  sora_dataset data;
  if (sora_dataset_load(&d->data, NULL, d->source_dir, &data) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  int64_t first = (int64_t)((double)data.count * (1.0 - d->validation_split));
  int64_t n = data.count - first;
  float *p = malloc((size_t)n * sizeof *p);
  if (!p || regression_predict(m, data.x + first * data.sample_size, (size_t)n,
                               p) != SORA_OK)
    return fprintf(stderr, "error: cannot predict\n"), 1;
  double abs = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    double e = (double)p[i] - (double)data.y[first + i];
    abs += fabs(e);
    sq += e * e;
  }
  double mae = abs / (double)n, rmse = sqrt(sq / (double)n);
  sora_metrics val;
  if (regression_evaluate(m, data.x + first * data.sample_size, data.y + first,
                          (size_t)n, &val) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  int ok = close_to("val_mae", last.val_mae, mae);
  ok &= close_to("val_rmse", last.val_rmse, rmse);
  ok &= close_to("evaluate's mae", val.mae, mae);
  ok &= close_to("evaluate's rmse", val.rmse, rmse);
  ok &= isnan(val.accuracy) && isnan(last.accuracy);
  free(p);
  sora_dataset_free(&data);
  regression_destroy(m);
  if (ok)
    printf("PASS: mae and rmse are the predictions' errors\n");
  return ok ? 0 : 1;
}
