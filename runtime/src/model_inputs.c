/*===- model_inputs.c - Several inputs, integer ids, the _inputs calls ----===*
 *
 * A sample is one packed row of input_size 4-byte slots; input k holds
 * slots [offset, offset + size). An integer input's slots hold int32_t ids
 * as bit patterns, so they are only ever copied (memcpy), never converted.
 * The _inputs functions take one array per input and pack them, max_batch
 * rows at a time, into the instance's pack buffer, then run the kernels as
 * the packed-row functions do.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <string.h>

static const char *name_or(const char *name, const char *fallback) {
  return name ? name : fallback;
}

sora_status sora_check_inputs(const char *kind, const char *name,
                              int64_t num_inputs, const sora_input_desc *inputs,
                              int64_t *slots) {
  *slots = 0;
  if (num_inputs < 0 || (num_inputs > 0 && !inputs))
    return sora_fail(
        SORA_ERR_ARGUMENT,
        "%s '%s': invalid description (%lld inputs, input table %s)", kind,
        name, (long long)num_inputs, inputs ? "set" : "missing");
  int64_t next = 0;
  for (int64_t k = 0; k < num_inputs; ++k) {
    const sora_input_desc *in = &inputs[k];
    const char *input = name_or(in->name, "<unnamed>");
    if (in->offset != next || in->size < 1 ||
        in->size > SORA_MAX_TENSOR_FLOATS - next)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "%s '%s': input '%s' has offset %lld and size %lld; "
                       "the inputs must tile the row in order (this one "
                       "starting at %lld, at least one slot each)",
                       kind, name, input, (long long)in->offset,
                       (long long)in->size, (long long)next);
    if ((in->integer != 0 && in->integer != 1) || in->id_limit < 0 ||
        in->id_limit > (int64_t)INT32_MAX + 1)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "%s '%s': input '%s' has integer %lld and id_limit "
                       "%lld (integer is 0 or 1; the limit is in [0, 2^31])",
                       kind, name, input, (long long)in->integer,
                       (long long)in->id_limit);
    next += in->size;
  }
  *slots = next;
  return SORA_OK;
}

/// True if input `in` has ids to check.
static bool checked(const sora_input_desc *in) {
  return in->integer && in->id_limit > 0;
}

/// The error for id `id` in slot `slot` of input `in`, sample `sample`.
static sora_status bad_id(const sora_input_desc *in, size_t sample,
                          int64_t slot, int32_t id) {
  return sora_fail(SORA_ERR_ARGUMENT,
                   "sample %zu: input '%s'[%lld]: id %d outside [0, %lld)",
                   sample, name_or(in->name, "<unnamed>"), (long long)slot,
                   (int)id, (long long)in->id_limit);
}

sora_status sora_check_ids(const sora_model_desc *d, const float *x, size_t n,
                           size_t first) {
  if (!x)
    return SORA_OK;
  for (int64_t k = 0; k < d->num_inputs; ++k) {
    const sora_input_desc *in = &d->inputs[k];
    if (!checked(in))
      continue;
    for (size_t r = 0; r < n; ++r) {
      const float *row = x + r * (size_t)d->input_size + in->offset;
      for (int64_t j = 0; j < in->size; ++j) {
        int32_t id;
        memcpy(&id, row + j, sizeof id);
        if (id < 0 || id >= in->id_limit)
          return bad_id(in, first + r, j, id);
      }
    }
  }
  return SORA_OK;
}

/// The ids of every checked integer input in per-input arrays.
static sora_status check_input_ids(const sora_model_desc *d,
                                   const void *const *inputs, size_t n) {
  if (n == 0)
    return SORA_OK; // no rows: `inputs` may be NULL
  for (int64_t k = 0; k < d->num_inputs; ++k) {
    const sora_input_desc *in = &d->inputs[k];
    if (!checked(in))
      continue;
    const int32_t *ids = inputs[k];
    for (size_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < in->size; ++j) {
        int32_t id = ids[r * (size_t)in->size + (size_t)j];
        if (id < 0 || id >= in->id_limit)
          return bad_id(in, r, j, id);
      }
  }
  return SORA_OK;
}

/// Checks the per-input pointers of a call on `n` rows.
static sora_status check_pointers(const sora_model_desc *d, const char *fn,
                                  const void *const *inputs, size_t n) {
  if (n == 0)
    return SORA_OK;
  if (!inputs)
    return sora_fail(SORA_ERR_ARGUMENT, "%s: inputs is NULL", fn);
  for (int64_t k = 0; k < d->num_inputs; ++k)
    if (!inputs[k])
      return sora_fail(SORA_ERR_ARGUMENT, "%s: input %lld ('%s') is NULL", fn,
                       (long long)k, name_or(d->inputs[k].name, "<unnamed>"));
  return SORA_OK;
}

/// Packs rows [first, first + n) of the per-input arrays into m->pack.
static void pack_rows(sora_model *m, const void *const *inputs, size_t first,
                      size_t n) {
  const sora_model_desc *d = m->desc;
  for (int64_t k = 0; k < d->num_inputs; ++k) {
    const sora_input_desc *in = &d->inputs[k];
    size_t bytes = (size_t)in->size * 4;
    const char *src = (const char *)inputs[k] + first * bytes;
    for (size_t r = 0; r < n; ++r)
      memcpy(m->pack + r * (size_t)d->input_size + in->offset, src + r * bytes,
             bytes);
  }
}

/// The first argument of a call with at most one input: its packed rows.
static const float *packed(const void *const *inputs) {
  return inputs ? (const float *)inputs[0] : NULL;
}

sora_status sora_model_predict_inputs(sora_model *m, const void *const *inputs,
                                      size_t n, float *y) {
  if (!m || m->desc->num_inputs <= 1)
    return sora_model_predict(m, packed(inputs), n, y);
  const sora_model_desc *d = m->desc;
  if (!d->predict)
    return sora_model_predict(m, NULL, n, y); // reports the missing kernel
  sora_status status =
      check_pointers(d, "sora_model_predict_inputs", inputs, n);
  if (status == SORA_OK && n > 0 && !y)
    status = sora_fail(SORA_ERR_ARGUMENT, "sora_model_predict_inputs: y is "
                                          "NULL");
  if (status == SORA_OK)
    status = check_input_ids(d, inputs, n);
  if (status != SORA_OK)
    return status;
  for (size_t done = 0; done < n;) {
    size_t chunk = n - done;
    if (chunk > (size_t)d->max_batch)
      chunk = (size_t)d->max_batch;
    pack_rows(m, inputs, done, chunk);
    unsigned fp = sora_fp_flush();
    d->predict(m->params, m->opt_state, m->scratch, m->pack, NULL,
               (int64_t)chunk, m->step, y + done * d->output_size);
    sora_fp_restore(fp);
    done += chunk;
  }
  return SORA_OK;
}

sora_status sora_model_train_step_inputs(sora_model *m,
                                         const void *const *inputs,
                                         const float *y, size_t n,
                                         float *loss) {
  if (!m || m->desc->num_inputs <= 1)
    return sora_model_train_step(m, packed(inputs), y, n, loss);
  const sora_model_desc *d = m->desc;
  // n must fit the pack buffer before anything is packed.
  sora_status status =
      sora_model_check_train(d, n > (size_t)INT64_MAX ? 0 : (int64_t)n);
  if (status == SORA_OK)
    status = check_pointers(d, "sora_model_train_step_inputs", inputs, n);
  if (status != SORA_OK)
    return status;
  pack_rows(m, inputs, 0, n);
  // The packed function checks y and the ids (numbered as here: n fits one
  // pack, so row r is sample r).
  return sora_model_train_step(m, m->pack, y, n, loss);
}

sora_status sora_model_evaluate_inputs(sora_model *m, const void *const *inputs,
                                       const float *y, size_t n,
                                       sora_metrics *out) {
  if (!m || m->desc->num_inputs <= 1)
    return sora_model_evaluate(m, packed(inputs), y, n, out);
  const sora_model_desc *d = m->desc;
  if (!out || !d->evaluate)
    return sora_model_evaluate(m, NULL, y, 0, out); // reports which
  sora_status status =
      check_pointers(d, "sora_model_evaluate_inputs", inputs, n);
  if (status == SORA_OK && n > 0 && !y)
    status =
        sora_fail(SORA_ERR_ARGUMENT, "sora_model_evaluate_inputs: y is NULL");
  if (status == SORA_OK)
    status = check_input_ids(d, inputs, n);
  if (status != SORA_OK)
    return status;
  // Chunk by chunk as sora_model_evaluate does, adding the same sums in the
  // same order.
  double sums[SORA_NUM_STATS] = {0.0};
  for (size_t done = 0; done < n;) {
    size_t chunk = n - done;
    if (chunk > (size_t)d->max_batch)
      chunk = (size_t)d->max_batch;
    pack_rows(m, inputs, done, chunk);
    status = sora_model_evaluate_sums(m, m->pack, y + done * d->label_size,
                                      chunk, sums);
    if (status != SORA_OK)
      return status;
    done += chunk;
  }
  *out = sora_metrics_from_sums(d, sums, (int64_t)n);
  return SORA_OK;
}
