//===- FuzzModel.h - A tiny model description for the data fuzz targets --===//
//
// sora_model_fit on a data source the fuzzer wrote: the loader again, then
// the check of the rows against the model's input and label sizes, the
// batching and the training loop. The kernels only add up what they are
// given (reading every float of every row, so that ASan sees any row that
// is not all there).
//
//===----------------------------------------------------------------------===//
#ifndef SORA_FUZZ_MODEL_H
#define SORA_FUZZ_MODEL_H

#include "FuzzFile.h"
#include "sora/runtime.h"

#include <cstdint>

namespace sora_fuzz {

inline int64_t &fit_input_size() {
  static int64_t n = 4;
  return n;
}
inline int64_t &fit_label_size() {
  static int64_t n = 1;
  return n;
}

inline void sum_rows(const float *x, const float *y, int64_t n, void *out) {
  double s = 0;
  for (int64_t i = 0; i < n * fit_input_size(); ++i)
    s += x[i];
  for (int64_t i = 0; y && i < n * fit_label_size(); ++i)
    s += y[i];
  static_cast<double *>(out)[0] = s;
  static_cast<double *>(out)[1] = 0;
}

inline void fuzz_train(float *, float *, void *, const float *x, const float *y,
                       int64_t n, int64_t, void *out) {
  sum_rows(x, y, n, out);
}

inline void fuzz_predict(float *, float *, void *, const float *x,
                         const float *, int64_t n, int64_t, void *out) {
  double s[2];
  sum_rows(x, nullptr, n, s);
  for (int64_t r = 0; r < n; ++r)
    static_cast<float *>(out)[r] = static_cast<float>(s[0] != s[0]);
}

/// Trains one epoch of a model with `input` floats per sample and `label`
/// floats per label on `data`. Aborts if fit fails without naming one of
/// the paths (fit fails only when loading or checking the data).
inline void fit_on(const sora_data_spec &data, int64_t input, int64_t label,
                   const char *path, const char *other = nullptr) {
  fit_input_size() = input;
  fit_label_size() = label;
  sora_model_desc d = {};
  d.name = "fuzz";
  d.input_size = input;
  d.output_size = 1;
  d.label_size = label;
  d.max_batch = 4;
  d.has_train = 1;
  d.batch_size = 3;
  d.epochs = 1;
  d.seed = 1;
  d.shuffle = 1;
  d.metrics = SORA_METRIC_LOSS | SORA_METRIC_ACCURACY;
  d.loss = SORA_LOSS_CATEGORICAL_CROSSENTROPY;
  d.data = data;
  d.train_step = fuzz_train;
  d.evaluate = fuzz_train;
  d.predict = fuzz_predict;
  d.accuracy_kind = SORA_ACCURACY_CATEGORICAL;
  sora_model *m = nullptr;
  if (sora_model_create(&d, &m) != SORA_OK)
    broken(sora_last_error());
  sora_fit_options o = sora_fit_defaults();
  o.verbose = 0;
  o.validation_split = 0.25;
  o.limit = 64; // the loader still reads everything; training stays short
  sora_status status = sora_model_fit(m, nullptr, &o);
  report("fit", status);
  // A single sample leaves none to train on after the split: the one
  // failure that is about the model, not the file.
  if (status != SORA_OK &&
      !std::strstr(sora_last_error(), "no training samples left"))
    expect_error_names(status, path, other);
  sora_model_destroy(m);
}

} // namespace sora_fuzz

#endif // SORA_FUZZ_MODEL_H
