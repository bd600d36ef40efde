/* Two compiled models in one program: every symbol is prefixed by its
 * model's name, so they link side by side; both train. */
#include "mnist_mlp.h"
#include "rings.h"

#include <stdio.h>

int main(void) {
  mnist_mlp *a;
  rings *b;
  sora_fit_options o = sora_fit_defaults();
  sora_metrics test;
  o.verbose = 0;
  if (mnist_mlp_create(&a) != SORA_OK || rings_create(&b) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  o.epochs = 1;
  o.limit = 3000;
  o.test = &test;
  if (mnist_mlp_fit(a, NULL, &o) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  double accuracy = test.accuracy;
  sora_epoch_report last = {0};
  o.test = NULL;
  o.limit = 0;
  o.epochs = 10;
  if (rings_fit(b, NULL, &o) != SORA_OK)
    return fprintf(stderr, "error: %s\n", sora_last_error()), 1;
  float points[4] = {0.2f, 0.1f, 2.0f, 0.0f}, p[2];
  rings_predict(b, points, 2, p);
  printf("mnist_mlp test accuracy %.4f; rings: p(inner point) %.3f, "
         "p(outer point) %.3f\n",
         accuracy, p[0], p[1]);
  (void)last;
  mnist_mlp_destroy(a);
  rings_destroy(b);
  return accuracy > 0.6 && p[0] < 0.5 && p[1] > 0.5 ? 0 : 1;
}
