/*===- model.c - Model instances: storage, init, predict, train, evaluate -===*/
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/// The model's name for messages.
static const char *model_name(const sora_model_desc *d) {
  return d->name ? d->name : "<unnamed>";
}

/// The largest pack buffer, in floats: its bytes (and alignment) must fit a
/// size_t, also on 32-bit targets.
#define PACK_MAX_FLOATS ((int64_t)(SIZE_MAX / 64))

/// Rejects descriptions whose sizes would make the runtime misbehave.
static sora_status check_desc(const sora_model_desc *d) {
  if (d->input_size <= 0 || d->output_size <= 0 || d->label_size < 0 ||
      d->params_floats < 0 || d->opt_state_floats < 0 || d->scratch_bytes < 0 ||
      d->max_batch <= 0 || d->num_params < 0 ||
      (d->num_params > 0 && !d->params) || d->num_state < 0 ||
      (d->num_state > 0 && !d->state))
    return sora_fail(SORA_ERR_ARGUMENT,
                     "model '%s': invalid description (negative size, "
                     "max_batch < 1 or missing parameter or state table)",
                     model_name(d));
  for (int64_t i = 0; i < d->num_state; ++i) {
    const sora_param_desc *s = &d->state[i];
    if (s->offset < 0 || s->size < 0 ||
        s->size > d->opt_state_floats - s->offset)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': optimizer state '%s' lies outside the "
                       "optimizer-state block",
                       model_name(d), s->name ? s->name : "<unnamed>");
  }
  int64_t slots;
  sora_status status = sora_check_inputs("model", model_name(d), d->num_inputs,
                                         d->inputs, &slots);
  if (status != SORA_OK)
    return status;
  if (d->num_inputs > 0 && slots != d->input_size)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "model '%s': its inputs take %lld slots per sample, but "
                     "input_size is %lld",
                     model_name(d), (long long)slots, (long long)d->input_size);
  int64_t pack;
  if (d->num_inputs > 1 &&
      !sora_mul_checked(d->max_batch, d->input_size, PACK_MAX_FLOATS, &pack))
    return sora_fail(SORA_ERR_ARGUMENT,
                     "model '%s': max_batch %lld rows of %lld slots are too "
                     "large",
                     model_name(d), (long long)d->max_batch,
                     (long long)d->input_size);
  return SORA_OK;
}

/// Floats of the _inputs functions' pack buffer: max_batch rows, only for a
/// model of several inputs (one input is already packed). 0 for a size
/// check_desc refuses.
static int64_t pack_floats(const sora_model_desc *d) {
  int64_t floats;
  if (d->num_inputs <= 1 ||
      !sora_mul_checked(d->max_batch, d->input_size, PACK_MAX_FLOATS, &floats))
    return 0;
  return floats;
}

sora_status sora_model_create(const sora_model_desc *desc, sora_model **out) {
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_create: out is NULL");
  *out = NULL;
  if (!desc)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_create: desc is NULL");
  sora_status status = check_desc(desc);
  if (status != SORA_OK)
    return status;

  sora_model *m = calloc(1, sizeof *m);
  if (!m)
    return sora_fail(SORA_ERR_MEMORY, "out of memory creating model '%s'",
                     model_name(desc));
  m->desc = desc;
  m->params = sora_alloc_floats(desc->params_floats);
  m->opt_state = sora_alloc_floats(desc->opt_state_floats);
  m->scratch = sora_alloc((size_t)desc->scratch_bytes);
  if (pack_floats(desc) > 0)
    m->pack = sora_alloc_floats(pack_floats(desc));
  if (!m->params || !m->opt_state || !m->scratch ||
      (pack_floats(desc) > 0 && !m->pack)) {
    sora_model_destroy(m);
    return sora_fail(SORA_ERR_MEMORY, "out of memory creating model '%s'",
                     model_name(desc));
  }
  status = sora_model_init(m, desc->has_train ? desc->seed : 0);
  if (status != SORA_OK) {
    sora_model_destroy(m);
    return status;
  }
  *out = m;
  return SORA_OK;
}

static size_t align64(size_t v) { return (v + 63) / 64 * 64; }

size_t sora_model_memory_bytes(const sora_model_desc *desc) {
  if (!desc)
    return 0;
  // The struct, then each block on a 64-byte boundary, plus room to align
  // the start.
  return SORA_MODEL_HEADER_BYTES + 64 +
         align64((size_t)desc->params_floats * sizeof(float)) +
         align64((size_t)desc->opt_state_floats * sizeof(float)) +
         align64((size_t)desc->scratch_bytes) +
         align64((size_t)pack_floats(desc) * sizeof(float));
}

sora_status sora_model_create_in(const sora_model_desc *desc, void *memory,
                                 size_t bytes, sora_model **out) {
  _Static_assert(sizeof(struct sora_model) <= SORA_MODEL_HEADER_BYTES,
                 "SORA_MODEL_HEADER_BYTES is too small");
  if (!out)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_create_in: out is NULL");
  *out = NULL;
  if (!desc || !memory)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_create_in: desc or memory is NULL");
  sora_status status = check_desc(desc);
  if (status != SORA_OK)
    return status;
  size_t need = sora_model_memory_bytes(desc);
  if (bytes < need)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_create_in: model '%s' needs %zu bytes, got "
                     "%zu",
                     model_name(desc), need, bytes);
  char *p = (char *)align64((size_t)(uintptr_t)memory);
  memset(p, 0, need - 64);
  sora_model *m = (sora_model *)p;
  p += SORA_MODEL_HEADER_BYTES;
  m->desc = desc;
  m->borrowed = true;
  m->params = (float *)p;
  p += align64((size_t)desc->params_floats * sizeof(float));
  m->opt_state = (float *)p;
  p += align64((size_t)desc->opt_state_floats * sizeof(float));
  m->scratch = p;
  p += align64((size_t)desc->scratch_bytes);
  if (pack_floats(desc) > 0)
    m->pack = (float *)p;
  status = sora_model_init(m, desc->has_train ? desc->seed : 0);
  if (status != SORA_OK)
    return status;
  *out = m;
  return SORA_OK;
}

void sora_model_destroy(sora_model *m) {
  if (!m || m->borrowed)
    return;
  sora_free(m->params);
  sora_free(m->opt_state);
  sora_free(m->scratch);
  sora_free(m->pack);
  free(m);
}

const sora_model_desc *sora_model_describe(const sora_model *m) {
  return m ? m->desc : NULL;
}

float *sora_model_params(sora_model *m) { return m ? m->params : NULL; }

int64_t sora_model_step(const sora_model *m) { return m ? m->step : 0; }

int64_t sora_model_epoch(const sora_model *m) { return m ? m->epoch : 0; }

/// The golden-ratio constant of splitmix64: spreads parameter indices apart.
#define GOLDEN UINT64_C(0x9E3779B97F4A7C15)

/// Fills `values` with `size` draws of N(0, stddev^2): Marsaglia's polar
/// method on 53-bit uniforms from `rng`, in double, each pair of accepted
/// points giving two values. Only sqrt and log come from libm; rounding to
/// float hides their last-bit differences between libraries, so a seed
/// gives the same weights everywhere.
static void fill_normal(sora_rng *rng, float *values, int64_t size,
                        double stddev) {
  for (int64_t k = 0; k < size;) {
    double u, v, s;
    do {
      u = (double)(sora_rng_next(rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
      v = (double)(sora_rng_next(rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s) * stddev;
    values[k++] = (float)(u * f);
    if (k < size)
      values[k++] = (float)(v * f);
  }
}

/// Each parameter has its own generator, seeded from `seed` and its index,
/// so that a tensor's values do not depend on the sizes of earlier ones.
sora_status sora_model_init(sora_model *m, int64_t seed) {
  if (!m)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_init: model is NULL");
  const sora_model_desc *d = m->desc;
  for (int64_t i = 0; i < d->num_params; ++i) {
    const sora_param_desc *p = &d->params[i];
    const char *name = p->name ? p->name : "<unnamed>";
    if (p->offset < 0 || p->size < 0 || p->size > d->params_floats - p->offset)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': parameter '%s' lies outside the "
                       "parameter block",
                       model_name(d), name);
    float *values = m->params + p->offset;
    uint64_t mix = (uint64_t)seed ^ ((uint64_t)i * GOLDEN);
    sora_rng rng;
    sora_rng_seed(&rng, sora_splitmix64(&mix));
    if ((p->init == SORA_INIT_NORMAL || p->init == SORA_INIT_UNIFORM) &&
        !(p->init_scale >= 0.0 && p->init_scale <= FLT_MAX))
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': parameter '%s' has init_scale %g (a "
                       "finite float >= 0 is needed)",
                       model_name(d), name, p->init_scale);
    switch (p->init) {
    case SORA_INIT_ZEROS:
      memset(values, 0, (size_t)p->size * sizeof(float));
      break;
    case SORA_INIT_ONES:
      for (int64_t k = 0; k < p->size; ++k)
        values[k] = 1.0f;
      break;
    case SORA_INIT_NORMAL:
      fill_normal(&rng, values, p->size, p->init_scale);
      break;
    case SORA_INIT_UNIFORM: {
      float limit = (float)p->init_scale;
      for (int64_t k = 0; k < p->size; ++k)
        values[k] = (2.0f * sora_rng_uniform(&rng) - 1.0f) * limit;
      break;
    }
    case SORA_INIT_GLOROT_UNIFORM: {
      if (p->fan_in < 0 || p->fan_out < 0 || p->fan_in + p->fan_out <= 0)
        return sora_fail(SORA_ERR_ARGUMENT,
                         "model '%s': parameter '%s' has fan_in %lld and "
                         "fan_out %lld",
                         model_name(d), name, (long long)p->fan_in,
                         (long long)p->fan_out);
      float limit = (float)sqrt(6.0 / (double)(p->fan_in + p->fan_out));
      for (int64_t k = 0; k < p->size; ++k)
        values[k] = (2.0f * sora_rng_uniform(&rng) - 1.0f) * limit;
      break;
    }
    default:
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': parameter '%s' has unknown init kind %lld",
                       model_name(d), name, (long long)p->init);
    }
  }
  // A fresh start: Adam's moments and its bias correction's step restart,
  // and the next fit starts at epoch 1 with a freshly seeded shuffle.
  memset(m->opt_state, 0, (size_t)d->opt_state_floats * sizeof(float));
  m->step = 0;
  m->epoch = 0;
  memset(&m->rng, 0, sizeof m->rng);
  m->rng_seeded = false;
  return SORA_OK;
}

sora_status sora_model_predict(sora_model *m, const float *x, size_t n,
                               float *y) {
  if (!m)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_predict: model is NULL");
  const sora_model_desc *d = m->desc;
  if (!d->predict)
    return sora_fail(SORA_ERR_STATE, "model '%s' has no predict kernel",
                     model_name(d));
  if (n > 0 && (!x || !y))
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_predict: x or y is NULL");
  sora_status status = sora_check_ids(d, x, n, 0);
  if (status != SORA_OK)
    return status;
  for (size_t done = 0; done < n;) {
    size_t chunk = n - done;
    if (chunk > (size_t)d->max_batch)
      chunk = (size_t)d->max_batch;
    unsigned fp = sora_fp_flush();
    d->predict(m->params, m->opt_state, m->scratch, x + done * d->input_size,
               NULL, (int64_t)chunk, m->step, y + done * d->output_size);
    sora_fp_restore(fp);
    done += chunk;
  }
  return SORA_OK;
}

int64_t sora_argmax(const float *row, int64_t n) {
  if (n < 1)
    return -1;
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (row[j] > row[best])
      best = j;
  return best;
}

sora_status sora_model_check_train(const sora_model_desc *d, int64_t n) {
  if (!d->train_step)
    return sora_fail(SORA_ERR_STATE, "model '%s' has no train block",
                     model_name(d));
  if (n < 1 || n > d->max_batch)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "model '%s': a train step takes 1..%lld rows, not %lld",
                     model_name(d), (long long)d->max_batch, (long long)n);
  return SORA_OK;
}

sora_status sora_model_train_batch(sora_model *m, const float *x,
                                   const float *y, int64_t n,
                                   double out[SORA_NUM_STATS]) {
  const sora_model_desc *d = m->desc;
  sora_status status = sora_model_check_train(d, n);
  if (status != SORA_OK)
    return status;
  if (!x || !y)
    return sora_fail(SORA_ERR_ARGUMENT, "model '%s': x or y is NULL",
                     model_name(d));
  ++m->step; // the kernel sees the number of this step, from 1
  memset(out, 0, SORA_NUM_STATS * sizeof *out);
  unsigned fp = sora_fp_flush();
  d->train_step(m->params, m->opt_state, m->scratch, x, y, n, m->step, out);
  sora_fp_restore(fp);
  return SORA_OK;
}

sora_status sora_model_train_step(sora_model *m, const float *x, const float *y,
                                  size_t n, float *loss) {
  if (!m)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_train_step: model is NULL");
  if (n > (size_t)INT64_MAX)
    n = 0; // rejected below as out of range
  // The ids are checked once the step's arguments are known to be sound.
  sora_status status = sora_model_check_train(m->desc, (int64_t)n);
  if (status == SORA_OK && y)
    status = sora_check_ids(m->desc, x, n, 0);
  if (status != SORA_OK)
    return status;
  double out[SORA_NUM_STATS];
  status = sora_model_train_batch(m, x, y, (int64_t)n, out);
  if (status == SORA_OK && loss)
    *loss = (float)(out[SORA_STAT_LOSS] / (double)n);
  return status;
}

sora_status sora_model_evaluate_sums(sora_model *m, const float *x,
                                     const float *y, size_t n,
                                     double sums[SORA_NUM_STATS]) {
  const sora_model_desc *d = m->desc;
  if (!d->evaluate)
    return sora_fail(SORA_ERR_STATE, "model '%s' has no evaluate kernel",
                     model_name(d));
  if (n > 0 && (!x || !y))
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_evaluate: x or y is NULL");
  for (size_t done = 0; done < n;) {
    size_t chunk = n - done;
    if (chunk > (size_t)d->max_batch)
      chunk = (size_t)d->max_batch;
    double stats[SORA_NUM_STATS] = {0.0};
    unsigned fp = sora_fp_flush();
    d->evaluate(m->params, m->opt_state, m->scratch, x + done * d->input_size,
                y + done * d->label_size, (int64_t)chunk, m->step, stats);
    sora_fp_restore(fp);
    for (int i = 0; i < SORA_NUM_STATS; ++i)
      sums[i] += stats[i];
    done += chunk;
  }
  return SORA_OK;
}

/// a / b, 0 where b is 0 (Keras' divide_no_nan).
static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

/// Keras' AUC (ROC, "interpolation"): the true and false positive rates at
/// each of the SORA_AUC_THRESHOLDS thresholds from the buckets' counts, and
/// the trapezoids between neighbouring thresholds.
static double roc_auc(const double sums[SORA_NUM_STATS]) {
  const double *pos = sums + SORA_STAT_AUC_POSITIVES;
  const double *neg = sums + SORA_STAT_AUC_NEGATIVES;
  double positives = 0, negatives = 0;
  for (int b = 0; b < SORA_AUC_THRESHOLDS; ++b) {
    positives += pos[b];
    negatives += neg[b];
  }
  // Threshold i counts the elements of the buckets above i.
  double tp = positives - pos[0], fp = negatives - neg[0];
  double tpr = ratio(tp, positives), fpr = ratio(fp, negatives), auc = 0;
  for (int i = 1; i < SORA_AUC_THRESHOLDS; ++i) {
    tp -= pos[i];
    fp -= neg[i];
    double next_tpr = ratio(tp, positives), next_fpr = ratio(fp, negatives);
    auc += (fpr - next_fpr) * (tpr + next_tpr) / 2;
    tpr = next_tpr;
    fpr = next_fpr;
  }
  return auc;
}

sora_metrics sora_metrics_from_sums(const sora_model_desc *d,
                                    const double sums[SORA_NUM_STATS],
                                    int64_t count) {
  // The mean of no samples is undefined: NaN, not a misleading 0. So is a
  // metric that does not apply or was not asked for.
  double n = (double)count;
  bool any = count > 0;
  double tp = sums[SORA_STAT_TRUE_POSITIVES];
  sora_metrics out = {
      .loss = any ? sums[SORA_STAT_LOSS] / n : NAN,
      .accuracy = any && d->accuracy_kind != SORA_ACCURACY_NONE
                      ? sums[SORA_STAT_CORRECT] / n
                      : NAN,
      .count = count,
      .mae = any && (d->metrics & SORA_METRIC_MAE)
                 ? sums[SORA_STAT_ABS_ERROR] / n
                 : NAN,
      .rmse = any && (d->metrics & SORA_METRIC_RMSE)
                  ? sqrt(sums[SORA_STAT_SQUARED_ERROR] / n)
                  : NAN,
      .top_k_accuracy = any && (d->metrics & SORA_METRIC_TOP_K_ACCURACY)
                            ? sums[SORA_STAT_TOP_K_CORRECT] / n
                            : NAN,
      .precision = any && (d->metrics & SORA_METRIC_PRECISION)
                       ? ratio(tp, tp + sums[SORA_STAT_FALSE_POSITIVES])
                       : NAN,
      .recall = any && (d->metrics & SORA_METRIC_RECALL)
                    ? ratio(tp, tp + sums[SORA_STAT_FALSE_NEGATIVES])
                    : NAN,
      .auc = any && (d->metrics & SORA_METRIC_AUC) ? roc_auc(sums) : NAN};
  return out;
}

sora_status sora_model_evaluate(sora_model *m, const float *x, const float *y,
                                size_t n, sora_metrics *out) {
  if (!m || !out)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_evaluate: model or out is NULL");
  sora_status status = SORA_OK;
  if (m->desc->evaluate && y)
    status = sora_check_ids(m->desc, x, n, 0);
  if (status != SORA_OK)
    return status;
  double sums[SORA_NUM_STATS] = {0.0};
  status = sora_model_evaluate_sums(m, x, y, n, sums);
  if (status != SORA_OK)
    return status;
  *out = sora_metrics_from_sums(m->desc, sums, (int64_t)n);
  return SORA_OK;
}
