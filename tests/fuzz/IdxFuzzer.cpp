//===- IdxFuzzer.cpp - libFuzzer target for the IDX reader ----------------===//
//
// sora_dataset_load_idx (and sora_model_fit on the same files) on an images
// file and a labels file cut from the input:
//
//   byte 0      flags: bits 0-3 the onehot width (0: one float per label),
//               bit 4 set: the fit model takes the loaded sample size (so
//               it trains), clear: it takes 4 floats (2x2 images)
//   bytes 1-2   the images file's length, little-endian (clamped)
//   then        the images file, then the labels file (the rest)
//
// Either file may be raw or gzip. A load that succeeds must give rows that
// hold what the files say (scaled bytes, one-hot rows with a single 1); one
// that fails must name a file.
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"
#include "FuzzModel.h"

#include <cstdint>

using sora_fuzz::broken;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sora_fuzz::MemFile images("images"), labels("labels");
  if (size < 3)
    return 0;
  int64_t onehot = data[0] & 0x0f;
  bool fit_trains = (data[0] & 0x10) != 0;
  size_t images_len = (size_t)data[1] | (size_t)data[2] << 8;
  data += 3;
  size -= 3;
  if (images_len > size)
    images_len = size;
  images.write(data, images_len);
  labels.write(data + images_len, size - images_len);

  sora_data_spec spec = {};
  spec.kind = SORA_DATA_IDX;
  spec.images = images.path();
  spec.labels = labels.path();
  spec.scale = 1.0 / 255;
  spec.onehot = onehot;
  sora_dataset ds;
  sora_status status = sora_dataset_load_idx(&spec, nullptr, nullptr, &ds);
  sora_fuzz::report("load", status);
  if (status != SORA_OK) {
    sora_fuzz::expect_error_names(status, images.path(), labels.path());
    if (ds.x || ds.y || ds.count)
      broken("a failed load left a dataset behind");
    // fit must fail the same way.
    sora_fuzz::fit_on(spec, 4, onehot ? onehot : 1, images.path(),
                      labels.path());
    return 0;
  }

  int64_t label_size = onehot ? onehot : 1;
  if (ds.count < 1 || ds.sample_size < 1 || ds.label_size != label_size)
    broken("bad dataset sizes");
  for (int64_t i = 0; i < ds.count * ds.sample_size; ++i)
    if (!(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f))
      broken("a pixel outside [0, 1]");
  for (int64_t r = 0; r < ds.count; ++r) {
    const float *y = ds.y + r * label_size;
    if (onehot == 0) {
      if (!(y[0] >= 0 && y[0] <= 255 && y[0] == (float)(int)y[0]))
        broken("a label that is not a byte");
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
  sora_fuzz::fit_on(spec, input, label_size, images.path(), labels.path());
  return 0;
}
