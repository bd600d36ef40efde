/*===- scaling.c - standardize: and normalize: from the training rows ----===*
 *
 * The model scales each f32 input itself (x * scale + shift per feature,
 * parameters "<input>.scale" and "<input>.shift"); a fit that starts a
 * fresh instance sets those parameters from the training part of its data
 * here. Being parameters, they are then checkpointed, baked into inference
 * builds and exported with the weights like any other.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/// The parameter named "<input><suffix>", or NULL.
static const sora_param_desc *param_of(const sora_model_desc *d,
                                       const char *input, const char *suffix) {
  size_t length = strlen(input);
  for (int64_t i = 0; i < d->num_params; ++i) {
    const char *name = d->params[i].name;
    if (name && strncmp(name, input, length) == 0 &&
        strcmp(name + length, suffix) == 0)
      return &d->params[i];
  }
  return NULL;
}

/// Scale and shift of one feature from its statistics over the rows. A
/// constant feature (max == min) keeps scale 1: centred by standardize: (as
/// sklearn's StandardScaler), moved to 0 by normalize:.
static void feature_scaling(int64_t kind, double mean, double var, double min,
                            double max, float *scale, float *shift) {
  double s = 1.0, offset = kind == SORA_SCALE_STANDARDIZE ? mean : min;
  if (max > min)
    s = kind == SORA_SCALE_STANDARDIZE ? 1.0 / sqrt(var) : 1.0 / (max - min);
  *scale = (float)s;
  *shift = (float)(-offset * s);
}

/// Statistics of slots [in->offset, in->offset + in->size) over `rows`
/// packed rows of `x` into scale and shift. Row by row, so that the rows
/// are read in order; the variance in a second pass, about the mean.
static sora_status scale_input(const sora_model_desc *d, int64_t kind,
                               const sora_input_desc *in, const float *x,
                               int64_t rows, float *scale, float *shift) {
  int64_t n = in->size;
  double *mean = sora_alloc((size_t)n * 4 * sizeof *mean);
  if (!mean)
    return sora_fail(SORA_ERR_MEMORY, "no memory to scale input '%s'",
                     in->name);
  double *var = mean + n, *min = mean + 2 * n, *max = mean + 3 * n;
  for (int64_t j = 0; j < n; ++j) {
    mean[j] = var[j] = 0.0;
    min[j] = INFINITY;
    max[j] = -INFINITY;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * d->input_size + in->offset;
    for (int64_t j = 0; j < n; ++j) {
      double v = row[j];
      mean[j] += v;
      min[j] = v < min[j] ? v : min[j];
      max[j] = v > max[j] ? v : max[j];
    }
  }
  for (int64_t j = 0; j < n; ++j)
    mean[j] /= (double)rows;
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * d->input_size + in->offset;
    for (int64_t j = 0; j < n; ++j) {
      double e = row[j] - mean[j];
      var[j] += e * e;
    }
  }
  sora_status status = SORA_OK;
  for (int64_t j = 0; j < n; ++j) {
    var[j] /= (double)rows; // the population variance (ddof 0)
    if (!isfinite(mean[j]) || !isfinite(var[j])) {
      status = sora_fail(SORA_ERR_ARGUMENT,
                         "model '%s': feature %" PRId64
                         " of input '%s' is not finite in the training data "
                         "(a NaN or an infinity, or too large to scale)",
                         d->name ? d->name : "", j, in->name);
      break;
    }
    feature_scaling(kind, mean[j], var[j], min[j], max[j], &scale[j],
                    &shift[j]);
  }
  sora_free(mean);
  return status;
}

sora_status sora_fit_scaling(sora_model *m, const sora_dataset *data,
                             int64_t rows) {
  const sora_model_desc *d = m->desc;
  int64_t kind = d->data.scaling;
  if (kind == SORA_SCALE_NONE)
    return SORA_OK;
  const char *name = d->name ? d->name : "";
  if (kind != SORA_SCALE_STANDARDIZE && kind != SORA_SCALE_NORMALIZE)
    return sora_fail(SORA_ERR_STATE, "model '%s': unknown scaling %" PRId64,
                     name, kind);
  if (rows < 1 || rows > data->count)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "model '%s': %" PRId64 " rows to scale by, of %" PRId64,
                     name, rows, data->count);
  if (d->num_inputs < 1 || !d->inputs)
    return sora_fail(SORA_ERR_STATE,
                     "model '%s': its description names no inputs to scale",
                     name);
  for (int64_t k = 0; k < d->num_inputs; ++k) {
    const sora_input_desc *in = &d->inputs[k];
    if (in->integer) // ids are not measurements
      continue;
    const sora_param_desc *scale = param_of(d, in->name, ".scale");
    const sora_param_desc *shift = param_of(d, in->name, ".shift");
    if (!scale || !shift || scale->size != in->size || shift->size != in->size)
      return sora_fail(SORA_ERR_STATE,
                       "model '%s': input '%s' has no '%s.scale' and "
                       "'%s.shift' of %" PRId64 " floats to set",
                       name, in->name, in->name, in->name, in->size);
    sora_status status =
        scale_input(d, kind, in, data->x, rows, m->params + scale->offset,
                    m->params + shift->offset);
    if (status != SORA_OK)
      return status;
  }
  return SORA_OK;
}
