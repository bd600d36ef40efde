/*===- checkpoint.c - Saving and loading models as safetensors ------------===*
 *
 * A checkpoint is a safetensors file (safetensors.h) of the model's tensors:
 * the weights, then the optimizer state, named as the descriptor names
 * them, and in its metadata the model's name and hash and the training
 * position (step, epoch, shuffling generator). A file of weights only (as
 * PyTorch writes one) loads too. The model is changed only once the whole
 * file has been read and checked.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"
#include "safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  MAX_DESC_RANK = 4 // sora_param_desc.shape
};

/// The metadata keys a checkpoint holds, in the order they are written.
enum { META_FORMAT, META_MODEL, META_HASH, META_STEP, META_EPOCH, META_RNG };
static const char *const meta_keys[] = {"format", "model", "model_hash",
                                        "step",   "epoch", "rng"};
#define NUM_META (sizeof meta_keys / sizeof meta_keys[0])

/*===--- The descriptor's tensors -----------------------------------------===*/

/// Tensor `i` of the model: the weights (offsets into the parameter block),
/// then the optimizer state (offsets into the optimizer-state block), in
/// descriptor order.
static const sora_param_desc *desc_tensor(const sora_model_desc *d, int64_t i) {
  return i < d->num_params ? &d->params[i] : &d->state[i - d->num_params];
}

/// Checks that the descriptor's tensors can be written and read: names
/// present, distinct and not the metadata key, ranks 0..4 and shapes whose
/// product is the size. Offsets were checked when the instance was created.
static sora_status check_tensors(const sora_model_desc *d) {
  const char *model = d->name ? d->name : "<unnamed>";
  int64_t total = d->num_params + d->num_state;
  for (int64_t i = 0; i < total; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    if (!p->name || !*p->name || strcmp(p->name, SORA_ST_METADATA_KEY) == 0)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': tensor %" PRId64 " has no usable name",
                       model, i);
    int64_t elements = 1;
    bool ok = p->rank >= 0 && p->rank <= MAX_DESC_RANK;
    for (int64_t k = 0; ok && k < p->rank; ++k)
      ok = sora_mul_checked(elements, p->shape[k], INT64_MAX / 4, &elements);
    if (!ok || elements != p->size)
      return sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': tensor '%s' has rank %" PRId64
                       " and a shape that does not hold its %" PRId64 " floats",
                       model, p->name, p->rank, p->size);
    for (int64_t j = 0; j < i; ++j) { // descriptors are small and trusted
      if (strcmp(p->name, desc_tensor(d, j)->name) == 0)
        return sora_fail(SORA_ERR_ARGUMENT,
                         "model '%s': two tensors are named '%s'", model,
                         p->name);
    }
  }
  return SORA_OK;
}

/*===--- Saving ---------------------------------------------------------===*/

sora_status sora_model_save(const sora_model *m, const char *path) {
  if (!m || !path || !*path)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_save: model or path is NULL or empty");
  const sora_model_desc *d = m->desc;
  sora_status status = check_tensors(d);
  if (status != SORA_OK)
    return status;

  int64_t count = d->num_params + d->num_state;
  sora_st_entry *tensors =
      malloc((size_t)(count > 0 ? count : 1) * sizeof *tensors);
  if (!tensors)
    return sora_fail(SORA_ERR_MEMORY, "out of memory saving checkpoint '%s'",
                     path);
  for (int64_t i = 0; i < count; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    const float *block = i < d->num_params ? m->params : m->opt_state;
    tensors[i] = (sora_st_entry){p, block + p->offset};
  }
  char hash[24], step[24], epoch[24], rng[4 * 16 + 1];
  snprintf(hash, sizeof hash, "%" PRId64, d->model_hash);
  snprintf(step, sizeof step, "%" PRId64, m->step);
  snprintf(epoch, sizeof epoch, "%" PRId64, m->epoch);
  for (int k = 0; k < 4; ++k)
    snprintf(rng + 16 * k, sizeof rng - 16 * (size_t)k, "%016" PRIx64,
             m->rng.s[k]);
  const char *values[NUM_META] = {
      "sora", d->name ? d->name : "", hash, step, epoch, rng};
  sora_st_meta meta[NUM_META];
  for (size_t k = 0; k < NUM_META; ++k)
    meta[k] = (sora_st_meta){meta_keys[k], values[k]};
  // An unseeded generator is not written: the next fit seeds it afresh.
  status = sora_st_write(path, tensors, count, meta,
                         m->rng_seeded ? NUM_META : NUM_META - 1);
  free(tensors);
  return status;
}

/*===--- Loading ----------------------------------------------------------===*/

/// Parses a decimal int64 string of metadata; non-negative unless
/// `allow_negative`.
static bool parse_decimal(const char *s, bool allow_negative, int64_t *out) {
  bool negative = allow_negative && *s == '-';
  if (negative)
    ++s;
  if (!*s)
    return false;
  uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9')
      return false;
    unsigned digit = (unsigned)(*s - '0');
    if (v > (limit - digit) / 10)
      return false;
    v = v * 10 + digit;
  }
  // Negating in unsigned arithmetic, then converting, avoids overflow for
  // INT64_MIN.
  *out = negative ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/// The training position of a sora checkpoint's metadata.
typedef struct position {
  int64_t step, epoch;
  sora_rng rng;
  bool rng_seeded;
  /// Saved by another model (model_hash differs): its weights may still be
  /// this model's, but not its optimizer state or position.
  bool foreign;
  int64_t foreign_hash;
} position;

/// Reads the sora metadata (if the file has it) and refuses a checkpoint of
/// another model.
static sora_status read_position(const sora_st_file *st,
                                 const char *const meta[NUM_META],
                                 const sora_model_desc *d, position *pos) {
  memset(pos, 0, sizeof *pos);
  if (!meta[META_FORMAT] || strcmp(meta[META_FORMAT], "sora") != 0)
    return SORA_OK; // e.g. PyTorch's {"format": "pt"}: weights only
  if (meta[META_HASH]) {
    int64_t hash;
    if (!parse_decimal(meta[META_HASH], true, &hash))
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': metadata model_hash '%.*s' is not "
                       "a decimal integer",
                       st->path, SORA_ST_QUOTED(meta[META_HASH]));
    if (hash != d->model_hash) {
      pos->foreign = true;
      pos->foreign_hash = hash;
      return SORA_OK;
    }
  }
  if (meta[META_STEP] && !parse_decimal(meta[META_STEP], false, &pos->step))
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': metadata step '%.*s' is not a "
                     "non-negative integer",
                     st->path, SORA_ST_QUOTED(meta[META_STEP]));
  if (meta[META_EPOCH] && !parse_decimal(meta[META_EPOCH], false, &pos->epoch))
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s': metadata epoch '%.*s' is not a "
                     "non-negative integer",
                     st->path, SORA_ST_QUOTED(meta[META_EPOCH]));
  if (meta[META_RNG]) {
    bool ok = strlen(meta[META_RNG]) == 64;
    for (int k = 0; ok && k < 64; ++k) {
      int h = sora_hex_digit(meta[META_RNG][k]);
      ok = h >= 0;
      pos->rng.s[k / 16] = pos->rng.s[k / 16] << 4 | (uint64_t)(ok ? h : 0);
    }
    // xoshiro never leaves the all-zero state: it cannot be a saved one.
    ok = ok && (pos->rng.s[0] | pos->rng.s[1] | pos->rng.s[2] | pos->rng.s[3]);
    if (!ok)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s': metadata rng '%.*s' is not 64 hex "
                       "digits of a generator state",
                       st->path, SORA_ST_QUOTED(meta[META_RNG]));
    pos->rng_seeded = true;
  }
  return SORA_OK;
}

/// Matches the file's entries to the model's tensors: every weight present
/// with its shape, the optimizer state all present or all absent, nothing
/// else. `*has_state` says whether the state is there.
static sora_status match_model(sora_st_file *st, const sora_model_desc *d,
                               const position *pos, bool *has_state) {
  const char *model = d->name ? d->name : "<unnamed>";
  const sora_param_desc *present_state = NULL, *absent_state = NULL;
  // Another model's optimizer state is not this one's: left unread.
  int64_t dropped = 0;
  for (int64_t i = 0; pos->foreign && i < st->count; ++i)
    if (strncmp(st->tensors[i].name, "optimizer.", 10) == 0) {
      st->tensors[i].used = true;
      ++dropped;
    }
  int64_t tensors = d->num_params + (pos->foreign ? 0 : d->num_state);
  for (int64_t i = 0; i < tensors; ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    bool is_state = i >= d->num_params;
    sora_st_tensor *t = sora_st_find(st, p->name);
    if (!t) {
      if (!is_state)
        return sora_fail(SORA_ERR_FORMAT,
                         "checkpoint '%s' has no tensor '%s' (model '%s')",
                         st->path, p->name, model);
      absent_state = absent_state ? absent_state : p;
      continue;
    }
    if (is_state)
      present_state = present_state ? present_state : p;
    t->used = true;
    bool same = t->rank == p->rank;
    for (int64_t k = 0; same && k < p->rank; ++k)
      same = t->shape[k] == p->shape[k];
    if (!same) {
      char ours[160], theirs[160];
      sora_st_format_shape(p->shape, p->rank, ours, sizeof ours);
      sora_st_format_shape(t->shape, t->rank, theirs, sizeof theirs);
      return sora_fail(SORA_ERR_FORMAT,
                       "tensor '%s' has shape %s in the model but %s in "
                       "checkpoint '%s'",
                       p->name, ours, theirs, st->path);
    }
  }
  if (present_state && absent_state)
    return sora_fail(SORA_ERR_FORMAT,
                     "checkpoint '%s' has optimizer state '%s' but not '%s': "
                     "it is incomplete",
                     st->path, present_state->name, absent_state->name);
  for (int64_t i = 0; i < st->count; ++i)
    if (!st->tensors[i].used)
      return sora_fail(SORA_ERR_FORMAT,
                       "checkpoint '%s' has tensor '%.*s', which model '%s' "
                       "lacks: is it a checkpoint of another model?",
                       st->path, SORA_ST_QUOTED(st->tensors[i].name), model);
  *has_state = present_state != NULL;
  if (dropped)
    sora_set_note("checkpoint '%s' was saved with another optimizer or "
                  "train block (model_hash %" PRId64 ", not %" PRId64
                  "): its weights are loaded, its optimizer state (%" PRId64
                  " tensors) and training position are not",
                  st->path, pos->foreign_hash, d->model_hash, dropped);
  return SORA_OK;
}

sora_status sora_model_load(sora_model *m, const char *path) {
  if (!m || !path)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_load: model or path is NULL");
  const sora_model_desc *d = m->desc;
  sora_status status = check_tensors(d);
  if (status != SORA_OK)
    return status;

  sora_st_file st;
  const char *meta[NUM_META];
  float *params = NULL, *state = NULL;
  status = sora_st_open(&st, path, meta_keys, meta, NUM_META);
  if (status != SORA_OK)
    goto done;
  position pos;
  status = read_position(&st, meta, d, &pos);
  if (status != SORA_OK)
    goto done;
  bool has_state = false;
  sora_set_note("%s", "");
  status = match_model(&st, d, &pos, &has_state);
  if (status != SORA_OK)
    goto done;

  // Read into copies, so that a failure leaves the model as it was. Floats
  // of the blocks that no tensor covers keep their values.
  params = sora_alloc_floats(d->params_floats);
  state = sora_alloc_floats(d->opt_state_floats); // zeroed
  if (!params || !state) {
    status = sora_fail(SORA_ERR_MEMORY, "out of memory loading checkpoint '%s'",
                       path);
    goto done;
  }
  memcpy(params, m->params, (size_t)d->params_floats * sizeof(float));
  for (int64_t i = 0; i < d->num_params + (has_state ? d->num_state : 0); ++i) {
    const sora_param_desc *p = desc_tensor(d, i);
    float *block = i < d->num_params ? params : state;
    status = sora_st_read(&st, sora_st_find(&st, p->name), block + p->offset,
                          p->size);
    if (status != SORA_OK)
      goto done;
  }

  memcpy(m->params, params, (size_t)d->params_floats * sizeof(float));
  memcpy(m->opt_state, state, (size_t)d->opt_state_floats * sizeof(float));
  m->step = pos.step;
  m->epoch = pos.epoch;
  m->rng = pos.rng;
  m->rng_seeded = pos.rng_seeded;

done:
  sora_st_close(&st);
  sora_free(params);
  sora_free(state);
  return status;
}
