/*===- fit.c - The training loop of the train block -----------------------===*
 *
 * Mirrors Keras' Model.fit: the last `validation_split` of the samples is
 * held out (after `limit`), the rest is shuffled each epoch and trained on in
 * batches, and each epoch reports one line, as with verbose=2.
 *
 *===----------------------------------------------------------------------===*/
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

sora_fit_options sora_fit_defaults(void) {
  sora_fit_options o;
  memset(&o, 0, sizeof o);
  o.verbose = 1;
  o.validation_split = -1;
  o.seed = -1;
  return o;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/// Loads `spec` and checks that its rows have the sizes the model expects.
/// `what` ("data" or "test") names the source in messages.
static sora_status load_checked(const sora_model_desc *d,
                                const sora_data_spec *spec,
                                const char *data_dir, const char *what,
                                sora_dataset *ds) {
  sora_status status = sora_dataset_load_idx(spec, data_dir, d->source_dir, ds);
  if (status != SORA_OK)
    return status;
  if (ds->sample_size != d->input_size) {
    status = sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': %s images '%s' have %" PRId64
                       " values per sample, but the model takes %" PRId64,
                       d->name ? d->name : "", what, spec->images,
                       ds->sample_size, d->input_size);
  } else if (ds->label_size != d->label_size) {
    status = sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': %s labels '%s' give %" PRId64
                       " values per sample (onehot: %" PRId64
                       "), but the model's loss expects %" PRId64,
                       d->name ? d->name : "", what, spec->labels,
                       ds->label_size, spec->onehot, d->label_size);
  }
  if (status != SORA_OK)
    sora_dataset_free(ds);
  return status;
}

/// Prints the Keras-style "loss: ... - accuracy: ..." tail of a line.
static void print_metrics(const char *prefix, double loss, double accuracy,
                          int with_accuracy) {
  printf(" - %sloss: %.4f", prefix, loss);
  if (with_accuracy)
    printf(" - %saccuracy: %.4f", prefix, accuracy);
}

sora_status sora_model_fit(sora_model *m, const char *data_dir,
                           const sora_fit_options *o) {
  if (!m)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_fit: model is NULL");
  sora_fit_options defaults = sora_fit_defaults();
  if (!o)
    o = &defaults;
  const sora_model_desc *d = sora_model_describe(m);
  const char *name = d->name ? d->name : "";
  if (!d->has_train || !d->train_step || !d->evaluate)
    return sora_fail(SORA_ERR_STATE, "model '%s' has no train block", name);
  if (!d->data.images)
    return sora_fail(SORA_ERR_STATE, "model '%s': the train block has no data",
                     name);
  if (d->batch_size < 1 || d->batch_size > d->max_batch)
    return sora_fail(SORA_ERR_STATE,
                     "model '%s': batch_size %" PRId64
                     " is outside 1..%" PRId64,
                     name, d->batch_size, d->max_batch);
  double validation_split =
      o->validation_split >= 0 ? o->validation_split : d->validation_split;
  if (!(validation_split >= 0.0 && validation_split < 1.0))
    return sora_fail(SORA_ERR_STATE,
                     "model '%s': validation_split %g is outside [0, 1)", name,
                     validation_split);
  if (o->epochs < 0 || o->limit < 0)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "sora_model_fit: negative epochs or limit");
  int64_t epochs = o->epochs > 0 ? o->epochs : d->epochs;
  if (epochs < 1)
    return sora_fail(SORA_ERR_STATE, "model '%s': epochs is %" PRId64, name,
                     epochs);
  int with_accuracy = (d->metrics & SORA_METRIC_ACCURACY) != 0;

  sora_dataset data = {0}, test = {0};
  int64_t *order = NULL;
  float *batch_x = NULL, *batch_y = NULL;
  sora_status status = load_checked(d, &d->data, data_dir, "data", &data);
  if (status != SORA_OK)
    return status;
  // Load the test set now: a missing file should fail before training.
  int want_test = o->test && d->test.images;
  if (want_test) {
    status = load_checked(d, &d->test, data_dir, "test", &test);
    if (status != SORA_OK)
      goto done;
  }

  int64_t count = data.count;
  if (o->limit > 0 && o->limit < count)
    count = o->limit;
  // Keras: the validation part is the tail, taken before any shuffling.
  int64_t split_at = (int64_t)((double)count * (1.0 - validation_split));
  int64_t val_count = count - split_at;
  if (split_at < 1) {
    status = sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': no training samples left out of %" PRId64
                       " after validation_split %g",
                       name, count, validation_split);
    goto done;
  }

  // The batch buffers are allocated once, not per step. Their sizes cannot
  // overflow: rows and row sizes are each at most SORA_MAX_TENSOR_FLOATS.
  int64_t batch_rows = d->batch_size < split_at ? d->batch_size : split_at;
  order = sora_alloc((size_t)split_at * sizeof *order);
  batch_x = sora_alloc_floats(batch_rows * d->input_size);
  batch_y = sora_alloc_floats(batch_rows * d->label_size);
  if (!order || !batch_x || !batch_y) {
    status = SORA_ERR_MEMORY;
    goto done;
  }
  for (int64_t i = 0; i < split_at; ++i)
    order[i] = i;
  // One generator for the whole run: epoch k's order depends only on seed.
  sora_rng rng;
  sora_rng_seed(&rng, (uint64_t)(o->seed >= 0 ? o->seed : d->seed));

  size_t x_row = (size_t)d->input_size * sizeof(float);
  size_t y_row = (size_t)d->label_size * sizeof(float);
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    if (o->verbose) {
      printf("Epoch %" PRId64 "/%" PRId64 "\n", epoch, epochs);
      fflush(stdout);
    }
    double start = now_seconds();
    if (d->shuffle)
      sora_rng_shuffle(&rng, order, split_at);

    double loss_sum = 0.0, correct = 0.0;
    int64_t steps = 0;
    for (int64_t first = 0; first < split_at; first += d->batch_size) {
      int64_t n =
          split_at - first < d->batch_size ? split_at - first : d->batch_size;
      for (int64_t r = 0; r < n; ++r) {
        int64_t s = order[first + r];
        memcpy(batch_x + r * d->input_size, data.x + s * d->input_size, x_row);
        memcpy(batch_y + r * d->label_size, data.y + s * d->label_size, y_row);
      }
      double stats[2];
      status = sora_model_train_batch(m, batch_x, batch_y, n, stats);
      if (status != SORA_OK)
        goto done;
      loss_sum += stats[0];
      correct += stats[1];
      ++steps;
    }

    sora_epoch_report r = {.epoch = epoch,
                           .epochs = epochs,
                           .steps = steps,
                           .loss = loss_sum / (double)split_at,
                           .accuracy = correct / (double)split_at,
                           .val_loss = NAN,
                           .val_accuracy = NAN};
    if (val_count > 0) {
      sora_metrics val;
      status = sora_model_evaluate(m, data.x + split_at * d->input_size,
                                   data.y + split_at * d->label_size,
                                   (size_t)val_count, &val);
      if (status != SORA_OK)
        goto done;
      r.val_loss = val.loss;
      r.val_accuracy = val.accuracy;
    }
    r.seconds = now_seconds() - start;

    if (o->verbose) {
      printf("%" PRId64 "/%" PRId64 " - %.2fs", steps, steps, r.seconds);
      print_metrics("", r.loss, r.accuracy, with_accuracy);
      if (val_count > 0)
        print_metrics("val_", r.val_loss, r.val_accuracy, with_accuracy);
      printf("\n");
      fflush(stdout);
    }
    if (o->callback && o->callback(&r, o->user))
      break;
  }

  if (want_test) {
    status =
        sora_model_evaluate(m, test.x, test.y, (size_t)test.count, o->test);
    if (status != SORA_OK)
      goto done;
    if (o->verbose) {
      printf("test: loss: %.4f", o->test->loss);
      if (with_accuracy)
        printf(" - accuracy: %.4f", o->test->accuracy);
      printf("\n");
      fflush(stdout);
    }
  }

done:
  sora_free(order);
  sora_free(batch_x);
  sora_free(batch_y);
  sora_dataset_free(&data);
  sora_dataset_free(&test);
  return status;
}
