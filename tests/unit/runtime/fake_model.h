//===- fake_model.h - A hand-written model description for the tests -----===//
//
// The kernels are plain functions that record what they receive, so the tests
// can check how the runtime batches, splits, shuffles and counts steps. Each
// input row holds its sample index in x[0] (see write_index_dataset), so the
// "loss" of a row is its index and a row is "correct" when its index is even.
// The train kernel changes the parameters and the optimizer state in ways
// that depend on the batches' contents and order, so that tests comparing
// two runs bit for bit see any difference in what was trained on.
//
//===----------------------------------------------------------------------===//
#ifndef SORA_RT_FAKE_MODEL_H
#define SORA_RT_FAKE_MODEL_H

#include "sora/runtime.h"

#include <cstdint>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace sora_test {

/// One kernel call.
struct Call {
  char kind; // 't'rain, 'e'valuate or 'p'redict
  int64_t n;
  int64_t step;
  std::vector<int64_t> samples; // x[0] of each row
  bool labels_match = true;     // each y row is the one-hot of sample % 3
  std::vector<float> x;         // the rows, as received
  unsigned fp_state = 0;        // x86's MXCSR in the kernel (else 0)
};

inline bool operator==(const Call &a, const Call &b) {
  return a.kind == b.kind && a.n == b.n && a.step == b.step &&
         a.samples == b.samples && a.labels_match == b.labels_match;
}

/// The optimizer-state block the last kernel call received.
inline float *&last_opt_state() {
  static float *p = nullptr;
  return p;
}

/// The train step (as the kernel is told it) during which the train kernel
/// asks for a stop, as Ctrl-C would; -1: none.
inline int64_t &stop_at_step() {
  static int64_t s = -1;
  return s;
}

/// Every kernel call since the last clear, in order.
inline std::vector<Call> &calls() {
  static std::vector<Call> c;
  return c;
}

constexpr int64_t kInput = 4;  // 2x2 images
constexpr int64_t kLabel = 3;  // onehot: 3
constexpr int64_t kOutput = 2; // predict writes 2 floats per row

inline Call record(char kind, const float *x, const float *y, int64_t n,
                   int64_t step) {
  Call c{kind, n, step, {}, true, std::vector<float>(x, x + n * kInput)};
#if defined(__x86_64__) || defined(__i386__)
  c.fp_state = _mm_getcsr();
#endif
  for (int64_t r = 0; r < n; ++r) {
    auto sample = static_cast<int64_t>(x[r * kInput]);
    c.samples.push_back(sample);
    if (y)
      for (int64_t k = 0; k < kLabel; ++k)
        c.labels_match &= y[r * kLabel + k] == (k == sample % 3 ? 1.0f : 0.0f);
  }
  return c;
}

/// Loss sum = sum of the sample indices, correct = number of even indices.
inline void write_stats(const Call &c, void *out) {
  auto *stats = static_cast<double *>(out);
  for (int64_t s : c.samples) {
    stats[0] += static_cast<double>(s);
    stats[1] += s % 2 == 0 ? 1.0 : 0.0;
  }
}

inline void fake_train(float *params, float *opt_state, void *, const float *x,
                       const float *y, int64_t n, int64_t step, void *out) {
  Call c = record('t', x, y, n, step);
  static_cast<double *>(out)[0] = static_cast<double *>(out)[1] = 0;
  write_stats(c, out);
  params[0] += 1.0f; // an "update" the tests can see
  // Order-sensitive updates: a different batch order gives other values.
  for (int64_t s : c.samples) {
    params[1] = params[1] * 0.5f + static_cast<float>(s);
    opt_state[1] = opt_state[1] * 0.25f + static_cast<float>(s);
  }
  opt_state[0] = static_cast<float>(step);
  last_opt_state() = opt_state;
  calls().push_back(c);
  if (step == stop_at_step())
    sora_request_stop();
}

inline void fake_evaluate(float *, float *opt_state, void *, const float *x,
                          const float *y, int64_t n, int64_t step, void *out) {
  last_opt_state() = opt_state;
  Call c = record('e', x, y, n, step);
  static_cast<double *>(out)[0] = static_cast<double *>(out)[1] = 0;
  write_stats(c, out);
  calls().push_back(c);
}

inline void fake_predict(float *, float *opt_state, void *scratch,
                         const float *x, const float *, int64_t n, int64_t step,
                         void *out) {
  last_opt_state() = opt_state;
  Call c = record('p', x, nullptr, n, step);
  auto *y = static_cast<float *>(out);
  for (int64_t r = 0; r < n; ++r) {
    y[r * kOutput] = x[r * kInput] * 2;
    y[r * kOutput + 1] = -1;
  }
  static_cast<unsigned char *>(scratch)[0] = 1; // scratch must be writable
  calls().push_back(c);
}

/// Two parameters: a Glorot-initialised [3, 4] weight and a zero bias.
inline const sora_param_desc *fake_params() {
  static const sora_param_desc p[] = {
      {"dense.weight",
       0,
       12,
       2,
       {3, 4, 0, 0},
       SORA_INIT_GLOROT_UNIFORM,
       4,
       3,
       0.0},
      {"dense.bias", 12, 3, 1, {3, 0, 0, 0}, SORA_INIT_ZEROS, 4, 3, 0.0},
  };
  return p;
}

/// Adam-like optimizer state: m and v for each parameter (30 floats).
inline const sora_param_desc *fake_state() {
  static const sora_param_desc s[] = {
      {"optimizer.dense.weight.m",
       0,
       12,
       2,
       {3, 4, 0, 0},
       SORA_INIT_ZEROS,
       0,
       0,
       0.0},
      {"optimizer.dense.bias.m",
       12,
       3,
       1,
       {3, 0, 0, 0},
       SORA_INIT_ZEROS,
       0,
       0,
       0.0},
      {"optimizer.dense.weight.v",
       15,
       12,
       2,
       {3, 4, 0, 0},
       SORA_INIT_ZEROS,
       0,
       0,
       0.0},
      {"optimizer.dense.bias.v",
       27,
       3,
       1,
       {3, 0, 0, 0},
       SORA_INIT_ZEROS,
       0,
       0,
       0.0},
  };
  return s;
}

constexpr int64_t kFakeHash = 0x5eed5eed5eedLL;

/// An idx source with every field set.
inline sora_data_spec idx_source(const char *images, const char *labels,
                                 int64_t onehot = kLabel) {
  return {images,         labels, 1.0, onehot,  SORA_DATA_IDX,
          nullptr,        0,      0,   nullptr, SORA_TARGET_LABELS,
          SORA_SCALE_NONE};
}

/// A csv source with every field set.
inline sora_data_spec csv_source(const char *path, int64_t label_column,
                                 int64_t onehot = kLabel, double scale = 1.0) {
  return {nullptr,        nullptr,      scale, onehot,  SORA_DATA_CSV,
          path,           label_column, 0,     nullptr, SORA_TARGET_LABELS,
          SORA_SCALE_NONE};
}

/// A model over `dir`'s "x.idx"/"y.idx" (see write_index_dataset).
inline sora_model_desc fake_desc(const char *source_dir) {
  sora_model_desc d = {};
  d.name = "fake";
  d.source_dir = source_dir;
  d.input_size = kInput;
  d.output_size = kOutput;
  d.label_size = kLabel;
  d.params_floats = 15;
  d.opt_state_floats = 30;
  d.scratch_bytes = 16;
  d.max_batch = 4;
  d.num_params = 2;
  d.params = fake_params();
  d.has_train = 1;
  d.batch_size = 4;
  d.epochs = 2;
  d.seed = 42;
  d.validation_split = 0.0;
  d.shuffle = 0;
  d.metrics = SORA_METRIC_LOSS | SORA_METRIC_ACCURACY;
  d.loss = SORA_LOSS_CATEGORICAL_CROSSENTROPY;
  d.data = idx_source("x.idx", "y.idx");
  d.test = idx_source(nullptr, nullptr, 0);
  d.train_step = fake_train;
  d.evaluate = fake_evaluate;
  d.predict = fake_predict;
  d.num_state = 4;
  d.state = fake_state();
  d.model_hash = kFakeHash;
  d.accuracy_kind = SORA_ACCURACY_CATEGORICAL;
  return d;
}

} // namespace sora_test

#endif // SORA_RT_FAKE_MODEL_H
