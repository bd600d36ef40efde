/*===- internal.h - Helpers shared by the runtime's source files ---------===*
 *
 * Not installed and not part of the C API: generated code never sees these.
 *
 *===----------------------------------------------------------------------===*/
#ifndef SORA_RT_INTERNAL_H
#define SORA_RT_INTERNAL_H

#include "sora/runtime.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SORA_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/// The generated kernels run with subnormal floats flushed to zero (x86's
/// FTZ and DAZ bits of MXCSR, as TensorFlow runs its CPU kernels): a
/// subnormal operand costs an Intel core a microcode assist of about a
/// hundred cycles, and Adam's moments of a weight whose gradient stays 0
/// (a dead ReLU unit's) decay into them, which cost the seed's training 9 %
/// of its steady epochs on Sapphire Rapids. Each call into a kernel sets
/// them (sora_fp_flush) and gives the caller back its state
/// (sora_fp_restore); the pool's workers keep them set. Elsewhere: nothing.
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define SORA_FTZ_DAZ 0x8040u
static inline unsigned sora_fp_flush(void) {
  unsigned saved = _mm_getcsr();
  if ((saved & SORA_FTZ_DAZ) != SORA_FTZ_DAZ)
    _mm_setcsr(saved | SORA_FTZ_DAZ);
  return saved;
}
static inline void sora_fp_restore(unsigned saved) {
  if ((saved & SORA_FTZ_DAZ) != SORA_FTZ_DAZ)
    _mm_setcsr(saved);
}
#else
static inline unsigned sora_fp_flush(void) { return 0; }
static inline void sora_fp_restore(unsigned saved) { (void)saved; }
#endif

/// The most floats one tensor (a data set's images or labels) may hold: a
/// bound that keeps every size computation far from overflowing and rejects
/// absurd headers before allocating.
#define SORA_MAX_TENSOR_FLOATS ((int64_t)1 << 31)

/// Room for a resolved data file path, including the terminating NUL.
#define SORA_PATH_MAX 4096

/// A model instance. Defined here so that fit.c and checkpoint.c can reach
/// the training position; the C API sees only an opaque pointer.
struct sora_model {
  const sora_model_desc *desc;
  float *params;    /* desc->params_floats (sora_alloc)                 */
  float *opt_state; /* desc->opt_state_floats (sora_alloc)              */
  void *scratch;    /* desc->scratch_bytes (sora_alloc)                 */
  float *pack;      /* max_batch packed rows for the _inputs functions;
                       NULL unless the model has more than one input    */
  int64_t step;     /* optimizer steps taken                            */
  int64_t epoch;    /* epochs of fit completed                          */
  sora_rng rng;     /* fit's shuffling generator, carried across fits   */
  bool rng_seeded;  /* false: the next fit seeds `rng` from the seed    */
  bool borrowed;    /* the caller's memory (sora_model_create_in): the
                       blocks and this struct are not ours to free     */
};

/// Sets this thread's error message, printf-style (see sora_last_error).
void sora_set_error(const char *fmt, ...) SORA_PRINTF(1, 2);
/// Sets sora_last_note() ("" clears it).
void sora_set_note(const char *fmt, ...) SORA_PRINTF(1, 2);

/// Sets the error message and returns `status`: `return sora_fail(...);`.
sora_status sora_fail(sora_status status, const char *fmt, ...)
    SORA_PRINTF(2, 3);

/// One step of splitmix64: advances `*state` and returns the next output.
uint64_t sora_splitmix64(uint64_t *state);

/// `a * b` into `*out`; false if either is negative or the product exceeds
/// `limit`.
bool sora_mul_checked(int64_t a, int64_t b, int64_t limit, int64_t *out);

/// sora_alloc for `count` floats; NULL (with the error set) if `count` is
/// negative or the byte size overflows.
float *sora_alloc_floats(int64_t count);

/// One optimizer step on `n` rows (1..max_batch): counts the step first, so
/// the first step passes step = 1, then calls the train kernel, which writes
/// the batch's sums (enum sora_kernel_stat) into `out`.
sora_status sora_model_train_batch(sora_model *m, const float *x,
                                   const float *y, int64_t n,
                                   double out[SORA_NUM_STATS]);

/// Checks what a train step needs before it touches any row: a train
/// kernel and 1..max_batch rows.
sora_status sora_model_check_train(const sora_model_desc *d, int64_t n);

/// Checks that `num_inputs` input descriptions tile a row in order (the
/// first at offset 0, each next one where the previous ends, sizes >= 1,
/// id limits >= 0 and within int32_t) and writes the row's slots into
/// `*slots`. Messages start with "<kind> '<name>': " (model 'm').
sora_status sora_check_inputs(const char *kind, const char *name,
                              int64_t num_inputs, const sora_input_desc *inputs,
                              int64_t *slots);

/// Checks the ids of every integer input with an id_limit in `n` packed
/// rows `x` (OK when x is NULL: the caller reports that). Messages number
/// the samples from `first`.
sora_status sora_check_ids(const sora_model_desc *d, const float *x, size_t n,
                           size_t first);

/// Runs the evaluate kernel over `n` rows (in chunks) and adds their sums
/// (enum sora_kernel_stat) to `sums`. The arguments are checked.
sora_status sora_model_evaluate_sums(sora_model *m, const float *x,
                                     const float *y, size_t n,
                                     double sums[SORA_NUM_STATS]);

/// The metrics of `count` samples from their summed kernel stats: NaN for
/// no samples and for a metric that the model does not report.
sora_metrics sora_metrics_from_sums(const sora_model_desc *d,
                                    const double sums[SORA_NUM_STATS],
                                    int64_t count);

/// Sums `count` values of `data` over the ranks with the installed
/// allreduce (nothing in a world of one).
sora_status sora_allreduce(void *data, int64_t count, sora_reduce_type type);

/// Sets the "<input>.scale" and "<input>.shift" parameters of every f32
/// input as the data source's `scaling` says (enum sora_data_scaling), from
/// the first `rows` rows of `data` (the training part); nothing for
/// SORA_SCALE_NONE (scaling.c).
sora_status sora_fit_scaling(sora_model *m, const sora_dataset *data,
                             int64_t rows);

#endif /* SORA_RT_INTERNAL_H */
