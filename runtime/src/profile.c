/*===- profile.c - Time per layer and phase of a profiled train step ------===*
 *
 * A model compiled with `sorac --profile` brackets each op (or fused group)
 * of its train step with sora_profile_now() and adds the difference to the
 * op's row: its layer and phase (forward, backward, update). The rows are
 * process-wide, which suits one training run at a time.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

enum { kMaxRows = 1024 };
static double g_seconds[kMaxRows];

double sora_profile_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sora_profile_add(int64_t row, double seconds) {
  if (row >= 0 && row < kMaxRows)
    g_seconds[row] += seconds;
}

void sora_profile_reset(void) { memset(g_seconds, 0, sizeof g_seconds); }

void sora_profile_print(const sora_model_desc *desc, int64_t epochs) {
  if (!desc || desc->num_profile <= 0 || !desc->profile_rows)
    return;
  int64_t rows = desc->num_profile < kMaxRows ? desc->num_profile : kMaxRows;
  double total = 0;
  for (int64_t i = 0; i < rows; ++i)
    total += g_seconds[i];
  if (epochs < 1)
    epochs = 1;
  printf("profile of the train step (%lld epoch%s):\n", (long long)epochs,
         epochs == 1 ? "" : "s");
  printf("  %-24s %-16s %12s %8s\n", "layer", "phase", "ms/epoch", "share");
  for (int64_t i = 0; i < rows; ++i) {
    const char *row = desc->profile_rows[i];
    const char *tab = strchr(row, '\t');
    int layer = tab ? (int)(tab - row) : (int)strlen(row);
    printf("  %-24.*s %-16s %12.2f %7.1f%%\n", layer, row, tab ? tab + 1 : "",
           g_seconds[i] * 1e3 / (double)epochs,
           total > 0 ? 100.0 * g_seconds[i] / total : 0.0);
  }
  printf("  %-24s %-16s %12.2f %7.1f%%\n", "total", "",
         total * 1e3 / (double)epochs, 100.0);
  fflush(stdout);
}
