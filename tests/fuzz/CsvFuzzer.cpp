//===- CsvFuzzer.cpp - libFuzzer target for the CSV reader ----------------===//
//
// sora_dataset_load_csv (and sora_model_fit on the same file) on a CSV file
// cut from the input:
//
//   byte 0      flags: bits 0-3 the onehot width (0: one float per label),
//               bit 4 set: the fit model takes the loaded sample size (so
//               it trains), clear: it takes 4 floats
//   byte 1      bits 0-2 the label column, bits 3-4 the scale (1, 1/255,
//               -0.5 or 1e38, which overflows a float for most features)
//   then        the file (raw or gzip)
//
// A load that succeeds must give finite floats and, with onehot, rows with
// a single 1; one that fails must name the file.
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"
#include "FuzzModel.h"

#include <cmath>
#include <cstdint>

using sora_fuzz::broken;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sora_fuzz::MemFile file("csv");
  static const double scales[] = {1.0, 1.0 / 255, -0.5, 1e38};
  if (size < 2)
    return 0;
  int64_t onehot = data[0] & 0x0f;
  bool fit_trains = (data[0] & 0x10) != 0;
  int64_t label_column = data[1] & 0x07;
  double scale = scales[(data[1] >> 3) & 3];
  file.write(data + 2, size - 2);

  sora_data_spec spec = {};
  spec.kind = SORA_DATA_CSV;
  spec.path = file.path();
  spec.label_column = label_column;
  spec.scale = scale;
  spec.onehot = onehot;
  sora_dataset ds;
  sora_status status = sora_dataset_load_csv(&spec, nullptr, nullptr, &ds);
  sora_fuzz::report("load", status);
  int64_t label_size = onehot ? onehot : 1;
  if (status != SORA_OK) {
    sora_fuzz::expect_error_names(status, file.path());
    if (ds.x || ds.y || ds.count)
      broken("a failed load left a dataset behind");
    sora_fuzz::fit_on(spec, 4, label_size, file.path());
    return 0;
  }

  if (ds.count < 1 || ds.sample_size < 1 || ds.label_size != label_size)
    broken("bad dataset sizes");
  for (int64_t i = 0; i < ds.count * ds.sample_size; ++i)
    if (!std::isfinite(ds.x[i]))
      broken("a feature that is not finite");
  for (int64_t r = 0; r < ds.count; ++r) {
    const float *y = ds.y + r * label_size;
    if (onehot == 0) {
      if (!std::isfinite(y[0]))
        broken("a label that is not finite");
      continue;
    }
    int ones = 0;
    for (int64_t k = 0; k < onehot; ++k) {
      if (y[k] != 0.0f && y[k] != 1.0f)
        broken("a one-hot value other than 0 or 1");
      ones += y[k] == 1.0f;
    }
    if (ones != 1)
      broken("a one-hot row without exactly one 1");
  }
  int64_t input = fit_trains ? ds.sample_size : 4;
  sora_dataset_free(&ds);
  sora_fuzz::fit_on(spec, input, label_size, file.path());
  return 0;
}
