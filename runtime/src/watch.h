/*===- watch.h - Watching a metric across epochs --------------------------===*
 *
 * Keras' callbacks that watch one value of the epoch logs: EarlyStopping
 * (stop after `patience` epochs without improvement, maybe restoring the
 * best epoch's weights) and ReduceLROnPlateau. The value is found by the
 * epoch line's name ("val_loss") in a sora_epoch_report.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_RT_WATCH_H
#define SORA_RT_WATCH_H

#include "sora/runtime.h"

#include <stdbool.h>
#include <stddef.h>

/// One watched value and its best so far.
typedef struct sora_watch {
  size_t field;       /* offset of the double in sora_epoch_report       */
  bool higher;        /* higher is better (accuracies); else lower       */
  double min_delta;   /* a smaller change is no improvement              */
  double best;        /* the best value so far (starts at -inf or +inf)  */
  int64_t best_epoch; /* early stopping: from 1; 0 before epoch 1       */
  int64_t wait;       /* epochs since the last improvement               */
  int64_t cooldown;   /* ReduceLROnPlateau: epochs of cooldown left      */
} sora_watch;

/// Starts watching `monitor`; false if no epoch report has that name.
bool sora_watch_start(sora_watch *w, const char *monitor, double min_delta);

/// Whether the epoch ending with report `r` makes training stop, by Keras'
/// EarlyStopping.on_epoch_end: the value improves when it beats the best by
/// more than min_delta (an improvement records the epoch as the best and
/// restarts the wait); otherwise the wait grows, and reaching `patience`
/// stops training (never after epoch 1). A NaN never improves.
bool sora_watch_early_stop(sora_watch *w, const sora_epoch_report *r,
                           int64_t patience);

/// Whether the epoch ending with report `r` reduces the learning rate, by
/// Keras' ReduceLROnPlateau.on_epoch_end: during a cooldown the wait stays
/// 0; a value better than the best by more than min_delta becomes the best
/// and restarts the wait; otherwise (out of cooldown) the wait grows, and
/// reaching `patience` reduces (the caller then starts a cooldown of
/// `cooldown` epochs, sora_watch_cool).
bool sora_watch_plateau(sora_watch *w, const sora_epoch_report *r,
                        int64_t patience);

/// After a reduction: the wait restarts and `epochs` of cooldown begin.
void sora_watch_cool(sora_watch *w, int64_t epochs);

/// Starts watching `monitor` for `what` ("early stopping"), which must be on
/// the epoch lines of this fit (a val_ one needs validation data,
/// `val_count` rows); patience must be at least 1.
sora_status sora_watch_begin(const sora_model_desc *d, const char *what,
                             const char *monitor, double min_delta,
                             int64_t patience, int64_t val_count,
                             sora_watch *watch);

/// After the epoch of report `r`, for a model whose learning rate is
/// reduce_on_plateau: raises the count of reductions in the optimizer state
/// (which the kernels read) when ReduceLROnPlateau's rule says so and the
/// rate is still above min_lr, saying so when `verbose`.
void sora_watch_plateau_epoch(sora_model *m, sora_watch *watch,
                              const sora_epoch_report *r, bool verbose);

#endif
