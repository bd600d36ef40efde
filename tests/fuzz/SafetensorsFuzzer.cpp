//===- SafetensorsFuzzer.cpp - libFuzzer target for the checkpoint reader -===//
//
// sora_model_load of the input, as a safetensors file, into the small fixed
// model of the runtime's unit tests (tests/unit/runtime/fake_model.h: a
// [3, 4] weight, a [3] bias and Adam-like optimizer state). A load that
// fails must name the file and leave the model as it was; one that succeeds
// must survive a round trip: saved and loaded again, the same weights, step
// and epoch.
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"
#include "fake_model.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

using sora_fuzz::broken;

namespace {

/// A directory for the round trip's saved file, removed at exit.
const std::string &save_path() {
  static std::string path = [] {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::filesystem::is_directory("/dev/shm")
                           ? std::string("/dev/shm")
                           : std::string(base && *base ? base : "/tmp");
    tmpl += "/sora_fuzz_XXXXXX";
    if (!mkdtemp(tmpl.data()))
      broken("mkdtemp failed");
    static std::string dir = tmpl;
    std::atexit([] { std::filesystem::remove_all(dir); });
    return tmpl + "/roundtrip.safetensors";
  }();
  return path;
}

bool same_floats(const float *a, const float *b, int64_t n) {
  return std::memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sora_fuzz::MemFile file("checkpoint");
  static const sora_model_desc desc = sora_test::fake_desc(nullptr);
  file.write(data, size);

  sora_model *m = nullptr;
  if (sora_model_create(&desc, &m) != SORA_OK)
    broken(sora_last_error());
  float before[15];
  std::memcpy(before, sora_model_params(m), sizeof before);
  sora_status status = sora_model_load(m, file.path());
  sora_fuzz::report("load", status);
  if (status != SORA_OK) {
    sora_fuzz::expect_error_names(status, file.path());
    if (!same_floats(before, sora_model_params(m), 15) ||
        sora_model_step(m) != 0 || sora_model_epoch(m) != 0)
      broken("a failed load changed the model");
    sora_model_destroy(m);
    return 0;
  }

  const std::string &path = save_path();
  if (sora_model_save(m, path.c_str()) != SORA_OK)
    broken(sora_last_error());
  sora_model *again = nullptr;
  if (sora_model_create(&desc, &again) != SORA_OK ||
      sora_model_load(again, path.c_str()) != SORA_OK)
    broken(sora_last_error());
  if (!same_floats(sora_model_params(m), sora_model_params(again), 15) ||
      sora_model_step(m) != sora_model_step(again) ||
      sora_model_epoch(m) != sora_model_epoch(again))
    broken("a loaded checkpoint, saved and loaded again, differs");
  sora_model_destroy(again);
  sora_model_destroy(m);
  return 0;
}
