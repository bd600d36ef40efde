/*===- watch.c - Watching a metric across epochs --------------------------===*/
#include "watch.h"
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>

#include <math.h>
#include <string.h>

/// The names of the epoch lines, the report field of each and whether a
/// higher value is better (Keras' "auto" mode: accuracies are maximised).
static const struct {
  const char *name;
  size_t field;
  bool higher;
} kWatchable[] = {
    {"loss", offsetof(sora_epoch_report, loss), false},
    {"accuracy", offsetof(sora_epoch_report, accuracy), true},
    {"mae", offsetof(sora_epoch_report, mae), false},
    {"rmse", offsetof(sora_epoch_report, rmse), false},
    {"val_loss", offsetof(sora_epoch_report, val_loss), false},
    {"val_accuracy", offsetof(sora_epoch_report, val_accuracy), true},
    {"val_mae", offsetof(sora_epoch_report, val_mae), false},
    {"val_rmse", offsetof(sora_epoch_report, val_rmse), false},
    {"top_k_accuracy", offsetof(sora_epoch_report, top_k_accuracy), true},
    {"precision", offsetof(sora_epoch_report, precision), true},
    {"recall", offsetof(sora_epoch_report, recall), true},
    {"auc", offsetof(sora_epoch_report, auc), true},
    {"val_top_k_accuracy", offsetof(sora_epoch_report, val_top_k_accuracy),
     true},
    {"val_precision", offsetof(sora_epoch_report, val_precision), true},
    {"val_recall", offsetof(sora_epoch_report, val_recall), true},
    {"val_auc", offsetof(sora_epoch_report, val_auc), true},
};

bool sora_watch_start(sora_watch *w, const char *monitor, double min_delta) {
  for (size_t i = 0; i < sizeof kWatchable / sizeof kWatchable[0]; ++i)
    if (monitor && strcmp(monitor, kWatchable[i].name) == 0) {
      w->field = kWatchable[i].field;
      w->higher = kWatchable[i].higher;
      w->min_delta = fabs(min_delta);
      w->best = w->higher ? -INFINITY : INFINITY;
      w->best_epoch = 0;
      w->wait = 0;
      w->cooldown = 0;
      return true;
    }
  return false;
}

/// The watched value in `r`.
static double watched(const sora_watch *w, const sora_epoch_report *r) {
  double value;
  memcpy(&value, (const char *)r + w->field, sizeof value);
  return value;
}

bool sora_watch_plateau(sora_watch *w, const sora_epoch_report *r,
                        int64_t patience) {
  double value = watched(w, r);
  bool cooling = w->cooldown > 0;
  if (cooling) {
    --w->cooldown;
    w->wait = 0;
  }
  // Keras: less(current, best - min_delta), or greater(current, best +
  // min_delta).
  if (w->higher ? value > w->best + w->min_delta
                : value < w->best - w->min_delta) {
    w->best = value;
    w->wait = 0;
    return false;
  }
  if (cooling)
    return false;
  return ++w->wait >= patience;
}

void sora_watch_cool(sora_watch *w, int64_t epochs) {
  w->wait = 0;
  w->cooldown = epochs;
}

bool sora_watch_early_stop(sora_watch *w, const sora_epoch_report *r,
                           int64_t patience) {
  double value = watched(w, r);
  // Keras: monitor_op(current - min_delta, best), min_delta negated when
  // lower is better.
  bool improved = w->higher ? value - w->min_delta > w->best
                            : value + w->min_delta < w->best;
  ++w->wait;
  if (improved || w->best_epoch == 0) {
    // The first epoch's weights are the best until one improves on them
    // (Keras keeps them even when its value is NaN).
    w->best_epoch = r->epoch;
    if (improved) {
      w->best = value;
      w->wait = 0;
      return false;
    }
  }
  return w->wait >= patience && r->epoch > 1;
}

/// Starts watching `monitor` for `what` ("early stopping"), which must be on
/// the epoch lines of this fit: a val_ one needs validation data.
sora_status sora_watch_begin(const sora_model_desc *d, const char *what,
                             const char *monitor, double min_delta,
                             int64_t patience, int64_t val_count,
                             sora_watch *watch) {
  const char *name = d->name ? d->name : "";
  if (!sora_watch_start(watch, monitor, min_delta))
    return sora_fail(SORA_ERR_STATE,
                     "model '%s': %s watches '%s', which no epoch line shows",
                     name, what, monitor ? monitor : "(null)");
  if (strncmp(monitor, "val_", 4) == 0 && val_count == 0)
    return sora_fail(
        SORA_ERR_STATE,
        "model '%s': %s watches '%s', but this fit has no "
        "validation data (no validation source, validation_split 0)",
        name, what, monitor);
  if (patience < 1)
    return sora_fail(SORA_ERR_STATE,
                     "model '%s': %s's patience is %" PRId64 ", below 1", name,
                     what, patience);
  return SORA_OK;
}

/// reduce_on_plateau's rate after `reductions` reductions.
static double plateau_rate(const sora_plateau *p, double reductions) {
  return fmax(p->initial * pow(p->factor, reductions), p->min_lr);
}

/// After the epoch of report `r`: reduces the learning rate (the count of
/// reductions in the optimizer state, which the kernels read) when
/// ReduceLROnPlateau's rule says so and the rate is still above min_lr.
void sora_watch_plateau_epoch(sora_model *m, sora_watch *watch,
                              const sora_epoch_report *r, bool verbose) {
  const sora_plateau *p = m->desc->plateau;
  if (!sora_watch_plateau(watch, r, p->patience))
    return;
  float *reductions = m->opt_state + p->state_offset;
  double old_lr = plateau_rate(p, *reductions);
  if (!(old_lr > (float)p->min_lr)) // Keras compares with a float32
    return;
  *reductions += 1.0f;
  sora_watch_cool(watch, p->cooldown);
  if (verbose) {
    printf("Epoch %" PRId64 ": reduce_on_plateau: %s has not improved on "
           "%.4f for %" PRId64 " epochs: learning rate %g -> %g\n",
           r->epoch, p->monitor, watch->best, p->patience, old_lr,
           plateau_rate(p, *reductions));
    fflush(stdout);
  }
}
