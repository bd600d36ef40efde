/*===- progress.h - The live progress line of a training epoch ------------===*
 *
 * Drawn on stdout with '\r' while an epoch runs (sora_fit_options.progress),
 * then blanked out for the epoch line. It costs one clock read per step and
 * a redraw at most every tenth of a second.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_RT_PROGRESS_H
#define SORA_RT_PROGRESS_H

#include <stdint.h>

typedef struct sora_progress {
  double start;     /* of the epoch                                     */
  double next_draw; /* no redraw before then (but after the last step)  */
  int columns;      /* of the terminal                                  */
  int width;        /* characters now on the line; 0: none (blank)      */
} sora_progress;

/// The terminal's width (80 if stdout does not say).
int sora_terminal_columns(void);

/// Redraws the line: "  12/50 [=====>......] 1.2s, ETA 3.8s - loss: 0.6931
/// - accuracy: 0.5000", the last part being `metrics` (the running ones).
/// The bar takes what the terminal's width leaves (at most 30 characters;
/// none under 10), and the line never reaches the last column, where a
/// terminal would wrap it and '\r' could not return.
void sora_progress_draw(sora_progress *p, int64_t done, int64_t total,
                        const char *metrics, double now);

/// Blanks the line out and returns to its start.
void sora_progress_clear(sora_progress *p);

#endif /* SORA_RT_PROGRESS_H */
