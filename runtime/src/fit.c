/*===- fit.c - The training loop of the train block -----------------------===*
 *
 * Mirrors Keras' Model.fit: the last `validation_split` of the samples is
 * held out (after `limit`), the rest is shuffled each epoch and trained on in
 * batches, and each epoch reports one line, as with verbose=2 (on a
 * terminal, with `progress`, a live bar first, as with verbose=1). Training
 * resumes where the instance stands: its completed epochs and its shuffling
 * generator (both saved in checkpoints) carry over from one fit to the next.
 *
 *===----------------------------------------------------------------------===*/
#include "dataset.h"
#include "internal.h"
#include "progress.h"
#include "watch.h"

#include <signal.h>
#include <stdatomic.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

sora_fit_options sora_fit_defaults(void) {
  sora_fit_options o;
  memset(&o, 0, sizeof o);
  o.verbose = 1;
  o.validation_split = -1;
  o.seed = -1;
  return o;
}

/* Stop requests are counted, not flagged: every fit running when one comes
   stops, and no fit clears a request meant for another running beside it.
   A lock-free atomic add is async-signal-safe. */
static atomic_uint g_stop_requests;

void sora_request_stop(void) { atomic_fetch_add(&g_stop_requests, 1); }

/// Whether a stop was requested since `*seen` was taken; updates `*seen`.
static bool stop_requested(unsigned *seen) {
  unsigned now = atomic_load(&g_stop_requests);
  bool requested = now != *seen;
  *seen = now;
  return requested;
}

/// After a non-finite loss: the first parameter tensor with a non-finite
/// value, or NULL if all are finite (then the data is suspect).
static const char *first_bad_tensor(sora_model *m) {
  const sora_model_desc *d = m->desc;
  for (int64_t i = 0; i < d->num_params; ++i) {
    const sora_param_desc *p = &d->params[i];
    for (int64_t j = 0; j < p->size; ++j)
      if (!isfinite(m->params[p->offset + j]))
        return p->name;
  }
  return NULL;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/// True if the train block names this source.
static bool has_source(const sora_data_spec *s) {
  return s->images != NULL || s->path != NULL;
}

/// The file that holds a source's features (`labels`: its labels), for
/// messages.
static const char *source_file(const sora_data_spec *s, bool labels) {
  if (s->kind == SORA_DATA_CSV)
    return s->path;
  return labels ? s->labels : s->images;
}

/// Loads `spec` and checks that its rows have the sizes the model expects.
/// `what` ("data" or "test") names the source in messages.
static sora_status load_checked(const sora_model_desc *d,
                                const sora_data_spec *spec,
                                const char *data_dir, const char *what,
                                sora_dataset *ds) {
  sora_status status = sora_dataset_load_inputs(spec, d->num_inputs, d->inputs,
                                                data_dir, d->source_dir, ds);
  if (status != SORA_OK)
    return status;
  if (ds->sample_size != d->input_size) {
    status = sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': %s '%s' has %" PRId64
                       " values per sample, but the model takes %" PRId64,
                       d->name ? d->name : "", what, source_file(spec, false),
                       ds->sample_size, d->input_size);
  } else if (ds->label_size != d->label_size) {
    status = sora_fail(SORA_ERR_ARGUMENT,
                       "model '%s': %s labels '%s' give %" PRId64
                       " values per sample (onehot: %" PRId64
                       "), but the model's loss expects %" PRId64,
                       d->name ? d->name : "", what, source_file(spec, true),
                       ds->label_size, spec->onehot, d->label_size);
  }
  if (status != SORA_OK)
    sora_dataset_free(ds);
  return status;
}

/// The metrics that lines show: those the train block asks for and that
/// apply to the model.
typedef struct shown_metrics {
  bool accuracy, mae, rmse, top_k_accuracy, precision, recall, auc;
} shown_metrics;

static shown_metrics metrics_shown(const sora_model_desc *d) {
  shown_metrics s = {.accuracy = (d->metrics & SORA_METRIC_ACCURACY) != 0 &&
                                 d->accuracy_kind != SORA_ACCURACY_NONE,
                     .mae = (d->metrics & SORA_METRIC_MAE) != 0,
                     .rmse = (d->metrics & SORA_METRIC_RMSE) != 0,
                     .top_k_accuracy =
                         (d->metrics & SORA_METRIC_TOP_K_ACCURACY) != 0,
                     .precision = (d->metrics & SORA_METRIC_PRECISION) != 0,
                     .recall = (d->metrics & SORA_METRIC_RECALL) != 0,
                     .auc = (d->metrics & SORA_METRIC_AUC) != 0};
  return s;
}

/// Writes the Keras-style "loss: ... - accuracy: ... - mae: ..." into `out`
/// (`size` bytes), each name after `prefix` ("val_").
static void format_metrics(char *out, size_t size, const char *prefix,
                           const sora_metrics *v, shown_metrics shown) {
  int n = snprintf(out, size, "%sloss: %.4f", prefix, v->loss);
  const struct {
    bool shown;
    const char *name;
    double value;
  } rest[] = {{shown.accuracy, "accuracy", v->accuracy},
              {shown.mae, "mae", v->mae},
              {shown.rmse, "rmse", v->rmse},
              {shown.top_k_accuracy, "top_k_accuracy", v->top_k_accuracy},
              {shown.precision, "precision", v->precision},
              {shown.recall, "recall", v->recall},
              {shown.auc, "auc", v->auc}};
  for (size_t i = 0; i < sizeof rest / sizeof rest[0]; ++i)
    if (rest[i].shown && n >= 0 && (size_t)n < size)
      n += snprintf(out + n, size - (size_t)n, " - %s%s: %.4f", prefix,
                    rest[i].name, rest[i].value);
}

static void print_metrics(const char *prefix, const sora_metrics *v,
                          shown_metrics shown) {
  char text[320];
  format_metrics(text, sizeof text, prefix, v, shown);
  printf(" - %s", text);
}

/// Gathering a batch reads rows scattered over the data set, each a fresh
/// stream for the hardware prefetcher: asking for the row this many places
/// ahead while one is copied makes the seed model's epochs 5 % shorter
/// (0.0975 -> 0.093 s, medians of 6 interleaved runs).
enum { kGatherAhead = 4 };

/// Asks for sample `s`'s row of features, where gather_row will read it.
static void prefetch_row(const sora_dataset *data, int64_t s) {
  int64_t n = data->sample_size;
  const char *row = data->x_bytes ? (const char *)(data->x_bytes + s * n)
                                  : (const char *)(data->x + s * n);
  size_t bytes = (size_t)n * (data->x_bytes ? 1 : sizeof(float));
  for (size_t b = 0; b < bytes; b += 64)
    __builtin_prefetch(row + b);
}

/// Copies sample `s` into a batch row: its features from the kept IDX bytes
/// where there are some (a quarter of the memory traffic of the floats;
/// the seed model's epochs 7-10 % shorter), and its label, which for a set
/// that is its own target is the row just gathered.
static void gather_row(const sora_dataset *data, const sora_widening *w,
                       int64_t s, float *x, float *y) {
  int64_t n = data->sample_size, labels = data->label_size;
  if (data->x_bytes)
    sora_widen_bytes(w, data->x_bytes + s * n, n, x);
  else
    memcpy(x, data->x + s * n, (size_t)n * sizeof(float));
  const float *label = data->y == data->x ? x : data->y + s * labels;
  memcpy(y, label, (size_t)labels * sizeof(float));
}

/*===--- Data parallelism (sora_set_allreduce) ---------------------------===*/

/// Rows [*lo, *lo + *count) of `total` that this rank takes: contiguous
/// shares that differ by at most one row.
static void rank_share(int64_t total, int64_t *lo, int64_t *count) {
  int64_t rank = sora_rank(), size = sora_world_size();
  int64_t begin = total * rank / size, end = total * (rank + 1) / size;
  *lo = begin;
  *count = end - begin;
}

/// Floats of a data-parallel step's allreduce: the gradients, the kernel's
/// stats and the stop request. They lie in scratch, where grad_step leaves
/// the gradients at the start: the activations after them are dead once it
/// returns, and the compiler sizes scratch to hold the whole block. So the
/// gradients are reduced in place, where apply_update reads them, with no
/// staging copy out and back (a quarter of a 2-rank step of the seed model).
static int64_t comm_floats(const sora_model_desc *d) {
  return d->grad_floats + SORA_NUM_STATS + 1;
}

/// One data-parallel step of a global batch of `global` rows of which this
/// rank holds `local` (possibly none): the local mean gradient weighted by
/// local / global, the kernel's stats and the stop request go out in one
/// allreduce (comm_floats, in scratch); every rank then applies the same
/// update. `out` gets the global batch's stats, `*stop` whether any rank
/// was asked to stop (this one if `*stop` is true on entry).
static sora_status train_batch_parallel(sora_model *m, const float *x,
                                        const float *y, int64_t local,
                                        int64_t global,
                                        double out[SORA_NUM_STATS],
                                        bool *stop) {
  const sora_model_desc *d = m->desc;
  int64_t g = d->grad_floats;
  float *comm = (float *)m->scratch; /* the gradients, then the rest */
  if (local > 0) {
    double stats[SORA_NUM_STATS] = {0.0};
    unsigned fp = sora_fp_flush();
    d->grad_step(m->params, m->opt_state, m->scratch, x, y, local, m->step + 1,
                 stats);
    sora_fp_restore(fp);
    float weight = (float)((double)local / (double)global);
    if (weight != 1.0f)
      for (int64_t i = 0; i < g; ++i)
        comm[i] *= weight;
    for (int i = 0; i < SORA_NUM_STATS; ++i)
      comm[g + i] = (float)stats[i];
  } else {
    memset(comm, 0, (size_t)(g + SORA_NUM_STATS) * sizeof *comm);
  }
  comm[g + SORA_NUM_STATS] = *stop ? 1.0f : 0.0f;
  sora_status status = sora_allreduce(comm, comm_floats(d), SORA_REDUCE_FLOAT);
  if (status != SORA_OK)
    return status;
  // Read before apply_update, whose own intermediates may lie past g.
  for (int i = 0; i < SORA_NUM_STATS; ++i)
    out[i] = comm[g + i];
  *stop = comm[g + SORA_NUM_STATS] > 0.0f;
  ++m->step; // as sora_model_train_batch: the kernel sees this step's number
  unsigned fp = sora_fp_flush();
  d->apply_update(m->params, m->opt_state, m->scratch, NULL, NULL, 0, m->step,
                  NULL);
  sora_fp_restore(fp);
  return SORA_OK;
}

/// sora_model_evaluate over `count` rows, split across the ranks and their
/// sums reduced: every rank gets the metrics of all the rows.
static sora_status evaluate_all(sora_model *m, const float *x, const float *y,
                                int64_t count, sora_metrics *out) {
  if (sora_world_size() <= 1)
    return sora_model_evaluate(m, x, y, (size_t)count, out);
  const sora_model_desc *d = m->desc;
  int64_t lo, n;
  rank_share(count, &lo, &n);
  double sums[SORA_NUM_STATS] = {0.0};
  sora_status status = sora_model_evaluate_sums(
      m, x + lo * d->input_size, y + lo * d->label_size, (size_t)n, sums);
  if (status == SORA_OK)
    status = sora_allreduce(sums, SORA_NUM_STATS, SORA_REDUCE_DOUBLE);
  if (status != SORA_OK)
    return status;
  *out = sora_metrics_from_sums(d, sums, count);
  return SORA_OK;
}

/// What one run of the training loop needs besides the model.
typedef struct fit_plan {
  const sora_fit_options *o;
  const sora_dataset *data;
  int64_t count;    /* samples used (after `limit`)                   */
  int64_t split_at; /* [0, split_at) train, [split_at, count) validate */
  int64_t epochs;   /* train up to this epoch                         */
  uint64_t seed;    /* of the shuffling generator, if not yet seeded  */
  shown_metrics shown;
  unsigned stops_seen; /* stop requests counted when the fit began     */
  /* The validation rows: data's [split_at, count), or the train block's
     `validation` source. */
  const float *val_x, *val_y;
  int64_t val_count;
} fit_plan;

/// Trains epochs m->epoch + 1 .. plan->epochs (or until the callback stops
/// it), advancing the instance's epoch count and generator after each.
static sora_status train_epochs(sora_model *m, const fit_plan *plan) {
  const sora_model_desc *d = m->desc;
  const sora_fit_options *o = plan->o;
  const sora_dataset *data = plan->data;
  int64_t split_at = plan->split_at;
  int64_t val_count = plan->val_count;
  // Data-parallel over the ranks of sora_set_allreduce; only rank 0 prints.
  bool parallel = sora_world_size() > 1;
  bool verbose = o->verbose && sora_rank() == 0;
  bool live = verbose && o->progress;
  sora_progress bar = {.columns = live ? sora_terminal_columns() : 80};
  unsigned stops_seen = plan->stops_seen;

  // The batch buffers are allocated once, not per step. Their sizes cannot
  // overflow: rows and row sizes are each at most SORA_MAX_TENSOR_FLOATS.
  int64_t batch_rows = d->batch_size < split_at ? d->batch_size : split_at;
  sora_status status = SORA_OK;
  int64_t *order = sora_alloc((size_t)split_at * sizeof *order);
  float *batch_x = sora_alloc_floats(batch_rows * d->input_size);
  float *batch_y = sora_alloc_floats(batch_rows * d->label_size);
  // Early stopping watches from this fit's first epoch, as a Keras callback
  // does from the start of each fit; the best epoch's parameters are kept
  // aside when they are to be restored.
  const sora_early_stopping *es = d->early_stopping;
  sora_watch watch = {0}, plateau = {0};
  float *best_params = NULL;
  if (!order || !batch_x || !batch_y) {
    status = SORA_ERR_MEMORY;
    goto done;
  }
  if (es) {
    status = sora_watch_begin(d, "early stopping", es->monitor, es->min_delta,
                              es->patience, val_count, &watch);
    if (status != SORA_OK)
      goto done;
    if (es->restore_best &&
        !(best_params = sora_alloc_floats(d->params_floats))) {
      status = SORA_ERR_MEMORY;
      goto done;
    }
  }
  if (d->plateau) {
    status = sora_watch_begin(d, "reduce_on_plateau", d->plateau->monitor,
                              d->plateau->min_delta, d->plateau->patience,
                              val_count, &plateau);
    if (status != SORA_OK)
      goto done;
  }
  // One generator for all epochs, kept by the instance: epoch k's order
  // depends only on the seed and k, however the epochs are split into fits.
  if (!m->rng_seeded) {
    sora_rng_seed(&m->rng, plan->seed);
    m->rng_seeded = true;
  }

  int64_t first_epoch = m->epoch + 1;
  sora_widening widening = sora_widening_for(data->x_byte_scale);
  // The profile's rows are process-wide: only a profiled build touches them.
  if (d->num_profile > 0)
    sora_profile_reset();
  // The ranks start together: else the first epoch's time would hold the
  // wait for the slowest rank to load its data (four epochs' time, seen).
  if (parallel) {
    float ready = 0.0f;
    status = sora_allreduce(&ready, 1, SORA_REDUCE_FLOAT);
    if (status != SORA_OK)
      goto done;
  }
  for (int64_t epoch = first_epoch; epoch <= plan->epochs; ++epoch) {
    if (verbose) {
      printf("Epoch %" PRId64 "/%" PRId64 "\n", epoch, plan->epochs);
      fflush(stdout);
    }
    double start = now_seconds();
    bar.start = bar.next_draw = start;
    // Each epoch shuffles the samples in their original order, as Keras
    // does, so that the order does not depend on earlier epochs' orders
    // (which a resumed run has not seen). The generator advances only once
    // the epoch is complete.
    for (int64_t i = 0; i < split_at; ++i)
      order[i] = i;
    sora_rng rng = m->rng;
    if (d->shuffle)
      sora_rng_shuffle(&rng, order, split_at);

    double sums[SORA_NUM_STATS] = {0.0};
    int64_t steps = 0;
    // A fit interrupted in this epoch (then saved and loaded) resumes after
    // the steps it had finished: the same batches in the same order. One
    // interrupted after the epoch's last step has all of them, and goes on
    // with the epoch's end (its validation, its count).
    int64_t steps_per_epoch = (split_at + d->batch_size - 1) / d->batch_size;
    int64_t skip = m->step - (epoch - 1) * steps_per_epoch;
    if (skip < 0 || skip > steps_per_epoch)
      skip = 0;
    int64_t resume_at =
        skip < steps_per_epoch ? skip * d->batch_size : split_at;
    int64_t trained = split_at - resume_at; // samples this fit
    for (int64_t first = resume_at; first < split_at; first += d->batch_size) {
      int64_t n =
          split_at - first < d->batch_size ? split_at - first : d->batch_size;
      // Data-parallel: this rank's contiguous share of the global batch.
      int64_t lo = 0, rows = n;
      if (parallel)
        rank_share(n, &lo, &rows);
      for (int64_t r = 0; r < rows; ++r) {
        if (r + kGatherAhead < rows)
          prefetch_row(data, order[first + lo + r + kGatherAhead]);
        gather_row(data, &widening, order[first + lo + r],
                   batch_x + r * d->input_size, batch_y + r * d->label_size);
      }
      double stats[SORA_NUM_STATS];
      // Every rank learns of a stop request in the step's allreduce.
      bool stop = parallel && stop_requested(&stops_seen);
      if (parallel)
        status =
            train_batch_parallel(m, batch_x, batch_y, rows, n, stats, &stop);
      else
        status = sora_model_train_batch(m, batch_x, batch_y, n, stats);
      if (status != SORA_OK)
        goto done;
      if (!isfinite(stats[SORA_STAT_LOSS])) {
        sora_progress_clear(&bar);
        const char *bad = first_bad_tensor(m);
        status = sora_fail(
            SORA_ERR_NUMERIC,
            "the loss became %s at step %" PRId64 " (epoch %" PRId64
            "); %s%s%s",
            isnan(stats[SORA_STAT_LOSS]) ? "NaN" : "infinite", m->step, epoch,
            bad ? "the first tensor with a non-finite value is '" : "",
            bad ? bad
                : "every parameter is still finite: is there a NaN or "
                  "an infinity in the data?",
            bad ? "' (lower the learning rate?)" : "");
        goto done;
      }
      for (int i = 0; i < SORA_NUM_STATS; ++i)
        sums[i] += stats[i];
      ++steps;
      if (parallel ? stop : stop_requested(&stops_seen)) {
        sora_progress_clear(&bar);
        status = sora_fail(SORA_INTERRUPTED,
                           "training interrupted after step %" PRId64
                           " (epoch %" PRId64 ", %" PRId64 " of its %" PRId64
                           " steps)",
                           m->step, epoch, skip + steps, steps_per_epoch);
        goto done;
      }
      if (live) {
        double t = now_seconds();
        int64_t seen = first + n - resume_at;
        if (t >= bar.next_draw || first + n == split_at) {
          int64_t total = (split_at + d->batch_size - 1) / d->batch_size;
          sora_metrics running = sora_metrics_from_sums(d, sums, seen);
          char text[320];
          format_metrics(text, sizeof text, "", &running, plan->shown);
          sora_progress_draw(&bar, skip + steps, total, text, t);
          bar.next_draw = t + 0.1;
        }
      }
    }

    sora_metrics train = sora_metrics_from_sums(d, sums, trained);
    sora_metrics val = {NAN, NAN, 0, NAN, NAN, NAN, NAN, NAN, NAN};
    if (val_count > 0) {
      status = evaluate_all(m, plan->val_x, plan->val_y, val_count, &val);
      if (status != SORA_OK)
        goto done;
    }
    sora_epoch_report r = {.epoch = epoch,
                           .epochs = plan->epochs,
                           .steps = steps,
                           .loss = train.loss,
                           .accuracy = train.accuracy,
                           .val_loss = val.loss,
                           .val_accuracy = val.accuracy,
                           .mae = train.mae,
                           .rmse = train.rmse,
                           .val_mae = val.mae,
                           .val_rmse = val.rmse,
                           .top_k_accuracy = train.top_k_accuracy,
                           .precision = train.precision,
                           .recall = train.recall,
                           .auc = train.auc,
                           .val_top_k_accuracy = val.top_k_accuracy,
                           .val_precision = val.precision,
                           .val_recall = val.recall,
                           .val_auc = val.auc};
    r.seconds = now_seconds() - start;
    m->rng = rng;
    m->epoch = epoch;
    if (es) {
      r.stopping = sora_watch_early_stop(&watch, &r, es->patience);
      r.best_epoch = watch.best_epoch;
      if (best_params && watch.best_epoch == epoch)
        memcpy(best_params, m->params,
               (size_t)d->params_floats * sizeof *best_params);
    }

    if (verbose) {
      sora_progress_clear(&bar);
      printf("%" PRId64 "/%" PRId64 " - %.2fs", steps, steps, r.seconds);
      print_metrics("", &train, plan->shown);
      if (val_count > 0)
        print_metrics("val_", &val, plan->shown);
      printf("\n");
      if (r.stopping)
        printf("Epoch %" PRId64 ": early stopping: %s has not improved on "
               "%.4f (epoch %" PRId64 ") for %" PRId64 " epochs\n",
               epoch, es->monitor, watch.best, watch.best_epoch, watch.wait);
      fflush(stdout);
    }
    if (d->plateau)
      sora_watch_plateau_epoch(m, &plateau, &r, verbose);
    if (o->callback && o->callback(&r, o->user))
      break;
    if (r.stopping)
      break;
  }
  // Keras restores the best weights when training ends, stopped or not.
  if (best_params && watch.best_epoch > 0 && watch.best_epoch != m->epoch) {
    memcpy(m->params, best_params,
           (size_t)d->params_floats * sizeof *best_params);
    if (verbose) {
      printf("Restoring the weights of epoch %" PRId64 " (%s: %.4f)\n",
             watch.best_epoch, es->monitor, watch.best);
      fflush(stdout);
    }
  }
  if (verbose && m->epoch >= first_epoch)
    sora_profile_print(d, m->epoch - first_epoch + 1);

done:
  if (bar.width > 0) { // an error: let its message start a line
    sora_progress_clear(&bar);
    fflush(stdout);
  }
  sora_free(order);
  sora_free(batch_x);
  sora_free(batch_y);
  sora_free(best_params);
  return status;
}

sora_status sora_model_fit(sora_model *m, const char *data_dir,
                           const sora_fit_options *o) {
  if (!m)
    return sora_fail(SORA_ERR_ARGUMENT, "sora_model_fit: model is NULL");
  // A stop requested while the data loads ends the fit after its first step.
  unsigned stops_seen = atomic_load(&g_stop_requests);
  sora_fit_options defaults = sora_fit_defaults();
  if (!o)
    o = &defaults;
  const sora_model_desc *d = sora_model_describe(m);
  const char *name = d->name ? d->name : "";
  if (!d->has_train || !d->train_step || !d->evaluate)
    return sora_fail(SORA_ERR_STATE, "model '%s' has no train block", name);
  if (!has_source(&d->data))
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
  if (sora_world_size() > 1 &&
      (!d->grad_step || !d->apply_update || d->grad_floats < 0 ||
       d->grad_floats > d->params_floats))
    return sora_fail(SORA_ERR_STATE,
                     "model '%s' cannot train data-parallel over %d ranks: "
                     "its description has no grad_step and apply_update "
                     "kernels (every weight needs the same kind of update)",
                     name, sora_world_size());
  if (sora_world_size() > 1 &&
      comm_floats(d) * (int64_t)sizeof(float) > d->scratch_bytes)
    return sora_fail(SORA_ERR_STATE,
                     "model '%s' cannot train data-parallel over %d ranks: "
                     "its scratch (%" PRId64 " bytes) cannot hold the step's "
                     "allreduce block of %" PRId64 " floats (compiled by an "
                     "older sorac? compile it again)",
                     name, sora_world_size(), d->scratch_bytes, comm_floats(d));
  bool verbose = o->verbose && sora_rank() == 0;
  int64_t epochs = o->epochs > 0 ? o->epochs : d->epochs;
  if (epochs < 1)
    return sora_fail(SORA_ERR_STATE, "model '%s': epochs is %" PRId64, name,
                     epochs);
  shown_metrics shown = metrics_shown(d);
  bool train = m->epoch < epochs;

  // The train block's validation data replaces a split (sorac refuses
  // both; --validation-split is a split too).
  bool own_validation = has_source(&d->validation);
  if (own_validation && validation_split > 0)
    return sora_fail(SORA_ERR_ARGUMENT,
                     "model '%s': a validation_split of %g, but the train "
                     "block gives validation data of its own",
                     name, validation_split);

  sora_dataset data = {0}, test = {0}, validation = {0};
  sora_status status = SORA_OK;
  if (train) {
    status = load_checked(d, &d->data, data_dir, "data", &data);
    if (status != SORA_OK)
      return status;
  }
  // As the test set: a missing file fails before training.
  if (train && own_validation) {
    status =
        load_checked(d, &d->validation, data_dir, "validation", &validation);
    if (status != SORA_OK)
      goto done;
  }
  // Load the test set now: a missing file should fail before training.
  bool want_test = o->test && has_source(&d->test);
  if (want_test) {
    status = load_checked(d, &d->test, data_dir, "test", &test);
    if (status != SORA_OK)
      goto done;
  }

  if (train) {
    int64_t count = data.count;
    if (o->limit > 0 && o->limit < count)
      count = o->limit;
    // Keras: the validation part is the tail, taken before any shuffling.
    int64_t split_at = (int64_t)((double)count * (1.0 - validation_split));
    if (split_at < 1) {
      status = sora_fail(SORA_ERR_ARGUMENT,
                         "model '%s': no training samples left out of %" PRId64
                         " after validation_split %g",
                         name, count, validation_split);
      goto done;
    }
    // A fresh instance: the inputs' scaling from the training rows.
    if (m->step == 0 && m->epoch == 0) {
      status = sora_fit_scaling(m, &data, split_at);
      if (status != SORA_OK)
        goto done;
    }
    const sora_dataset *val = own_validation ? &validation : NULL;
    fit_plan plan = {.o = o,
                     .data = &data,
                     .count = count,
                     .split_at = split_at,
                     .epochs = epochs,
                     .seed = (uint64_t)(o->seed >= 0 ? o->seed : d->seed),
                     .shown = shown,
                     .stops_seen = stops_seen,
                     .val_x = val ? val->x : data.x + split_at * d->input_size,
                     .val_y = val ? val->y : data.y + split_at * d->label_size,
                     .val_count = val ? val->count : count - split_at};
    status = train_epochs(m, &plan);
    if (status != SORA_OK)
      goto done;
  } else if (verbose) {
    printf("Nothing to train: %" PRId64 " epochs completed, epochs is %" PRId64
           "\n",
           m->epoch, epochs);
    fflush(stdout);
  }

  if (want_test) {
    status = evaluate_all(m, test.x, test.y, test.count, o->test);
    if (status != SORA_OK)
      goto done;
    if (verbose) {
      char text[320];
      format_metrics(text, sizeof text, "", o->test, shown);
      printf("test: %s\n", text);
      fflush(stdout);
    }
  }

done:
  sora_dataset_free(&data);
  sora_dataset_free(&test);
  sora_dataset_free(&validation);
  return status;
}
