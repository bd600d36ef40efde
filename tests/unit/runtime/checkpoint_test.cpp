//===- checkpoint_test.cpp - safetensors checkpoints and resumed training -===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

std::string last_error() { return sora_last_error(); }

Bytes text(const std::string &s) { return Bytes(s.begin(), s.end()); }

/// The little-endian bytes of `values` (the tests run on little-endian
/// hosts, like the safetensors format).
Bytes floats(const std::vector<float> &values) {
  Bytes b(values.size() * sizeof(float));
  if (!values.empty())
    std::memcpy(b.data(), values.data(), b.size());
  return b;
}

/// A safetensors file: the 8-byte length of `header`, `header` as given,
/// then `data`.
Bytes safetensors(const std::string &header, const Bytes &data) {
  Bytes b;
  uint64_t n = header.size();
  for (int k = 0; k < 8; ++k)
    b.push_back(static_cast<uint8_t>(n >> (8 * k)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

/// The header entry of one F32 tensor.
std::string entry(const std::string &name, const std::string &shape,
                  int64_t begin, int64_t end) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

/// The weights of the fake model, as PyTorch's save_file would write them:
/// values 1..15.
const std::string kWeightsHeader = "{" + entry("dense.weight", "[3,4]", 0, 48) +
                                   "," + entry("dense.bias", "[3]", 48, 60) +
                                   ",\"__metadata__\":{\"format\":\"pt\"}}";

std::vector<float> one_to_fifteen() {
  std::vector<float> v;
  for (int i = 1; i <= 15; ++i)
    v.push_back(static_cast<float>(i));
  return v;
}

class Checkpoint : public ::testing::Test {
protected:
  void SetUp() override {
    desc.shuffle = 1;
    write_index_dataset(dir, "x.idx", "y.idx", 10);
  }

  sora_model *create(const sora_model_desc &d) {
    sora_model *m = nullptr;
    EXPECT_EQ(sora_model_create(&d, &m), SORA_OK) << last_error();
    models.push_back(m);
    return m;
  }
  sora_model *create() { return create(desc); }

  void TearDown() override {
    for (sora_model *m : models)
      sora_model_destroy(m);
  }

  static sora_status fit(sora_model *m, int64_t epochs) {
    sora_fit_options o = sora_fit_defaults();
    o.verbose = 0;
    o.epochs = epochs;
    return sora_model_fit(m, nullptr, &o);
  }

  static std::vector<float> params(sora_model *m) {
    const float *p = sora_model_params(m);
    return std::vector<float>(p, p + sora_model_describe(m)->params_floats);
  }

  /// Creates `*a`, trains it for one epoch and saves it as "a.safetensors",
  /// whose bytes go to `*file`.
  void save_after_one_epoch(sora_model **a, Bytes *file) {
    *a = create();
    ASSERT_EQ(fit(*a, 1), SORA_OK) << last_error();
    std::string path = dir.file("a.safetensors");
    ASSERT_EQ(sora_model_save(*a, path.c_str()), SORA_OK) << last_error();
    *file = read_raw(path);
  }

  /// The optimizer state, seen through a predict call's kernel.
  static std::vector<float> state(sora_model *m) {
    float x[kInput] = {0}, y[kOutput];
    EXPECT_EQ(sora_model_predict(m, x, 1, y), SORA_OK);
    const float *s = last_opt_state();
    return std::vector<float>(s, s + sora_model_describe(m)->opt_state_floats);
  }

  /// Expects loading `path` into `m` to fail with `status`, a message naming
  /// the file and containing `what`, and `m` unchanged.
  void expect_refused(sora_model *m, const std::string &path,
                      sora_status status, const std::string &what) {
    std::vector<float> before = params(m), state_before = state(m);
    int64_t step = sora_model_step(m), epoch = sora_model_epoch(m);
    EXPECT_EQ(sora_model_load(m, path.c_str()), status) << last_error();
    EXPECT_NE(last_error().find(path), std::string::npos) << last_error();
    EXPECT_NE(last_error().find(what), std::string::npos) << last_error();
    EXPECT_EQ(params(m), before);
    EXPECT_EQ(state(m), state_before);
    EXPECT_EQ(sora_model_step(m), step);
    EXPECT_EQ(sora_model_epoch(m), epoch);
  }

  /// Writes `contents` as "bad.safetensors" and expects it refused.
  void expect_refused(sora_model *m, const Bytes &contents,
                      const std::string &what) {
    write_raw(dir.file("bad.safetensors"), contents);
    expect_refused(m, dir.file("bad.safetensors"), SORA_ERR_FORMAT, what);
  }

  TempDir dir;
  sora_model_desc desc = fake_desc(dir.path().c_str());
  std::vector<sora_model *> models;
};

TEST_F(Checkpoint, RoundTrip) {
  sora_model *a = create();
  ASSERT_EQ(fit(a, 2), SORA_OK) << last_error();
  ASSERT_EQ(sora_model_step(a), 6);
  std::string path = dir.file("a.safetensors");
  ASSERT_EQ(sora_model_save(a, path.c_str()), SORA_OK) << last_error();
  // Written under a temporary name, renamed: nothing else is left behind.
  int files = 0;
  for (const auto &e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(files, 3);

  sora_model *b = create();
  ASSERT_EQ(sora_model_init(b, 7), SORA_OK);
  ASSERT_NE(params(b), params(a));
  ASSERT_EQ(sora_model_load(b, path.c_str()), SORA_OK) << last_error();
  EXPECT_EQ(params(b), params(a)); // bit for bit: float == compares values
  EXPECT_EQ(std::memcmp(sora_model_params(a), sora_model_params(b),
                        15 * sizeof(float)),
            0);
  EXPECT_EQ(state(b), state(a));
  EXPECT_NE(state(a)[0], 0.0f); // the state was not trivially zero
  EXPECT_EQ(sora_model_step(b), 6);
  EXPECT_EQ(sora_model_epoch(b), 2);
  // Saving the loaded model gives the same file: the generator came too.
  ASSERT_EQ(sora_model_save(b, dir.file("b.safetensors").c_str()), SORA_OK);
  EXPECT_EQ(read_raw(dir.file("b.safetensors")), read_raw(path));
}

TEST_F(Checkpoint, FileLayout) {
  sora_model *a;
  Bytes file;
  ASSERT_NO_FATAL_FAILURE(save_after_one_epoch(&a, &file));
  ASSERT_GE(file.size(), 8u);
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k)
    n = n << 8 | file[k];
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(file.size(), 8 + n + (15 + 30) * sizeof(float));
  std::string header(file.begin() + 8, file.begin() + 8 + n);

  std::string tensors =
      "{" + entry("dense.weight", "[3,4]", 0, 48) + "," +
      entry("dense.bias", "[3]", 48, 60) + "," +
      entry("optimizer.dense.weight.m", "[3,4]", 60, 108) + "," +
      entry("optimizer.dense.bias.m", "[3]", 108, 120) + "," +
      entry("optimizer.dense.weight.v", "[3,4]", 120, 168) + "," +
      entry("optimizer.dense.bias.v", "[3]", 168, 180) + ",";
  EXPECT_EQ(header.substr(0, tensors.size()), tensors);
  std::string meta = "\"__metadata__\":{\"format\":\"sora\",\"model\":\"fake\","
                     "\"model_hash\":\"" +
                     std::to_string(kFakeHash) +
                     "\",\"step\":\"3\",\"epoch\":\"1\",\"rng\":\"";
  ASSERT_EQ(header.substr(tensors.size(), meta.size()), meta);
  size_t rng = tensors.size() + meta.size();
  ASSERT_GE(header.size(), rng + 64 + 3);
  EXPECT_EQ(header.find_first_not_of("0123456789abcdef", rng), rng + 64);
  EXPECT_EQ(header.substr(rng + 64, 3), "\"}}");
  EXPECT_EQ(header.find_first_not_of(' ', rng + 67), std::string::npos);

  // The data: the weights, then the state, little-endian floats.
  EXPECT_EQ(std::memcmp(file.data() + 8 + n, sora_model_params(a), 60), 0);
  std::vector<float> s = state(a);
  EXPECT_EQ(std::memcmp(file.data() + 8 + n + 60, s.data(), 120), 0);
}

TEST_F(Checkpoint, UnseededGeneratorIsNotSaved) {
  sora_model *a = create();
  std::string path = dir.file("fresh.safetensors");
  ASSERT_EQ(sora_model_save(a, path.c_str()), SORA_OK);
  Bytes file = read_raw(path);
  std::string all(file.begin(), file.end());
  EXPECT_NE(all.find("\"epoch\":\"0\"}}"), std::string::npos);
  EXPECT_EQ(all.find("rng"), std::string::npos);
}

TEST_F(Checkpoint, WeightsOnlyStartsAfresh) {
  std::string path = dir.file("torch.safetensors");
  write_raw(path, safetensors(kWeightsHeader, floats(one_to_fifteen())));

  // A model that has trained: state, step, epoch and generator in use.
  sora_model *a = create();
  ASSERT_EQ(fit(a, 2), SORA_OK);
  ASSERT_NE(state(a), std::vector<float>(30, 0.0f));
  ASSERT_EQ(sora_model_load(a, path.c_str()), SORA_OK) << last_error();
  EXPECT_EQ(params(a), one_to_fifteen());
  EXPECT_EQ(state(a), std::vector<float>(30, 0.0f));
  EXPECT_EQ(sora_model_step(a), 0);
  EXPECT_EQ(sora_model_epoch(a), 0);

  // Its next fit is a fresh model's: the same batches, seeded afresh.
  calls().clear();
  ASSERT_EQ(fit(a, 2), SORA_OK);
  std::vector<Call> resumed = calls();
  sora_model *b = create();
  calls().clear();
  ASSERT_EQ(fit(b, 2), SORA_OK);
  EXPECT_EQ(resumed, calls());
}

TEST_F(Checkpoint, HeaderWithoutMetadataPaddingOrSpaces) {
  sora_model *a = create();
  std::string header = " {\n \"dense.bias\" : { \"shape\" : [ 3 ] , "
                       "\"data_offsets\" : [ 48 , 60 ] , \"dtype\" : \"F32\" "
                       "} ,\t" +
                       entry("\\u0064ense.w\\u0065ight", "[3,4]", 0, 48) +
                       "}\r\n";
  write_raw(dir.file("w.safetensors"),
            safetensors(header, floats(one_to_fifteen())));
  ASSERT_EQ(sora_model_load(a, dir.file("w.safetensors").c_str()), SORA_OK)
      << last_error();
  EXPECT_EQ(params(a), one_to_fifteen());
}

// A checkpoint belongs to a model by its weights' names and shapes: one
// saved with another optimizer or train block (another model_hash) gives
// its weights, and its optimizer state and position are dropped, with a
// note that says so.
TEST_F(Checkpoint, TakesTheWeightsOfAnotherOptimizersCheckpoint) {
  sora_model *a;
  Bytes file;
  save_after_one_epoch(&a, &file);
  std::string path = dir.file("a.safetensors");
  sora_model_desc other = desc;
  other.name = "other";
  other.model_hash = kFakeHash + 1;
  sora_model *b = create(other);
  ASSERT_EQ(sora_model_load(b, path.c_str()), SORA_OK) << last_error();
  EXPECT_EQ(params(b), params(a));
  EXPECT_EQ(state(b), std::vector<float>(state(a).size(), 0.0f));
  EXPECT_EQ(sora_model_step(b), 0);
  EXPECT_NE(std::string(sora_last_note()).find("optimizer state"),
            std::string::npos)
      << sora_last_note();
  // The same model's own checkpoint gives its state too, and no note.
  sora_model *c = create();
  ASSERT_EQ(sora_model_load(c, path.c_str()), SORA_OK) << last_error();
  EXPECT_STREQ(sora_last_note(), "");
  EXPECT_EQ(state(c), state(a));
}

TEST_F(Checkpoint, RefusesMissingWrongShapedAndExtraTensors) {
  sora_model *a = create();
  Bytes data = floats(one_to_fifteen());
  expect_refused(
      a, safetensors("{" + entry("dense.weight", "[3,4]", 0, 48) + "}", data),
      "has no tensor 'dense.bias'");
  expect_refused(a,
                 safetensors("{" + entry("dense.weight", "[4,3]", 0, 48) + "," +
                                 entry("dense.bias", "[3]", 48, 60) + "}",
                             data),
                 "tensor 'dense.weight' has shape [3, 4] in the model but "
                 "[4, 3] in checkpoint '" +
                     dir.file("bad.safetensors") + "'");
  expect_refused(a,
                 safetensors("{" + entry("dense.weight", "[12]", 0, 48) + "," +
                                 entry("dense.bias", "[3]", 48, 60) + "}",
                             data),
                 "has shape [3, 4] in the model but [12]");
  Bytes more = floats({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  expect_refused(a,
                 safetensors("{" + entry("dense.weight", "[3,4]", 0, 48) + "," +
                                 entry("dense.bias", "[3]", 48, 60) + "," +
                                 entry("extra.weight", "[1]", 60, 64) + "}",
                             more),
                 "has tensor 'extra.weight', which model 'fake' lacks");
  // Optimizer state is all or nothing.
  Bytes with_m = floats(std::vector<float>(15 + 12, 1.0f));
  expect_refused(
      a,
      safetensors("{" + entry("dense.weight", "[3,4]", 0, 48) + "," +
                      entry("dense.bias", "[3]", 48, 60) + "," +
                      entry("optimizer.dense.weight.m", "[3,4]", 60, 108) + "}",
                  with_m),
      "has optimizer state 'optimizer.dense.weight.m' but not "
      "'optimizer.dense.bias.m'");
}

TEST_F(Checkpoint, RefusesBrokenFiles) {
  sora_model *a;
  Bytes good;
  ASSERT_NO_FATAL_FAILURE(save_after_one_epoch(&a, &good));
  sora_model *b = create();

  // Truncated: in the data, in the header, in the length.
  expect_refused(b, Bytes(good.begin(), good.end() - 4),
                 "outside the data section");
  expect_refused(b, Bytes(good.begin(), good.begin() + 100),
                 "runs past the end of the file");
  expect_refused(b, Bytes(good.begin(), good.begin() + 5),
                 "is not a safetensors file");
  expect_refused(b, Bytes(), "is not a safetensors file");

  // Garbage.
  expect_refused(b, safetensors("not json", {}), "malformed header at byte 0");
  expect_refused(b, text("PK\x03\x04 this is a zip file, not a checkpoint"),
                 "exceeds the limit");
  Bytes beyond = safetensors("{}", {});
  beyond[0] = 200; // 200 bytes announced, 2 present
  expect_refused(b, beyond, "header length 200 runs past the end");
  Bytes huge = good;
  huge[7] = 0x80;
  expect_refused(b, huge, "exceeds the limit");

  // Data offsets outside the data, or not as long as the shape says: the
  // weight's entry and the bias's.
  Bytes data = floats(one_to_fifteen());
  const std::string w = entry("dense.weight", "[3,4]", 0, 48);
  struct Case {
    std::string weight, bias, what;
  } cases[] = {
      {w, entry("dense.bias", "[3]", 48, 64),
       "data_offsets [48, 64] outside the data section of 60 bytes"},
      {w, entry("dense.bias", "[3]", 56, 48), "outside the data section"},
      {entry("dense.weight", "[3,4]", 0, 44),
       entry("dense.bias", "[3]", 48, 60),
       "needs 48 bytes of F32, but its data_offsets span 44"},
      {w, entry("dense.bias", "[3]", 40, 52), "overlap"},
      {w, entry("dense.weight", "[3]", 48, 60),
       "tensor 'dense.weight' appears twice"},
  };
  for (const Case &c : cases)
    expect_refused(b, safetensors("{" + c.weight + "," + c.bias + "}", data),
                   c.what);
  expect_refused(
      b,
      safetensors("{\"dense.weight\":{\"dtype\":\"F16\",\"shape\":[3,4],"
                  "\"data_offsets\":[0,24]}," +
                      entry("dense.bias", "[3]", 48, 60) + "}",
                  data),
      "has dtype F16; only F32 is supported");
  expect_refused(
      b,
      safetensors("{\"dense.weight\":{\"dtype\":\"F32\",\"shape\":[99999999999,"
                  "99999999999,99999999999],\"data_offsets\":[0,48]}}",
                  data),
      "needs more than");
}

TEST_F(Checkpoint, RefusesMalformedJson) {
  sora_model *a = create();
  Bytes data = floats(one_to_fifteen());
  const std::string w = entry("dense.weight", "[3,4]", 0, 48);
  const std::string bias = entry("dense.bias", "[3]", 48, 60);
  struct Case {
    std::string header, what;
  } cases[] = {
      {"", "expected '{'"},
      {"{", "expected '\"'"},
      {"[]", "expected '{'"},
      {"{" + w + "," + bias, "expected '}'"},
      {"{" + w + "," + bias + ",}", "expected '\"'"},
      {"{" + w + " " + bias + "}", "expected '}'"},
      {"{" + w + "," + bias + "} x", "unexpected text after"},
      {"{" + w + "," + bias + "}{}", "unexpected text after"},
      {"{\"dense.weight\" {}}", "expected ':'"},
      {"{\"dense.weight\":{}}", "empty tensor entry"},
      {"{\"dense.weight\":[]}", "expected '{'"},
      {"{\"dense.weight\":{\"dtype\":\"F32\"}}", "lacks 'shape'"},
      {"{\"dense.weight\":{\"dtype\":\"F32\",\"shape\":[3,4]}}",
       "lacks 'data_offsets'"},
      {"{\"dense.weight\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}",
       "unknown or repeated field 'dtype'"},
      {"{\"dense.weight\":{\"dtype\":\"F32\",\"strides\":[1]}}",
       "unknown or repeated field 'strides'"},
      {"{\"dense.weight\":{\"dtype\":F32}}", "expected '\"'"},
      {"{\"dense.weight\":{\"shape\":[3,-4]}}",
       "expected a non-negative integer"},
      {"{\"dense.weight\":{\"shape\":[3,4.0]}}", "expected a whole number"},
      {"{\"dense.weight\":{\"shape\":[3,4e1]}}", "expected a whole number"},
      {"{\"dense.weight\":{\"shape\":[03,4]}}", "leading zero"},
      {"{\"dense.weight\":{\"shape\":[3,4,]}}", "non-negative integer"},
      {"{\"dense.weight\":{\"shape\":[99999999999999999999]}}",
       "integer too large"},
      {"{\"dense.weight\":{\"shape\":[1,1,1,1,1,1,1,1,1]}}", "too many"},
      {"{\"dense.weight\":{\"data_offsets\":[0]}}", "needs two integers"},
      {"{\"dense.weight\":{\"data_offsets\":[0,1,2]}}", "too many"},
      {"{\"dense.weight\":{\"shape\":[3,4]", "expected '}'"},
      {"{\"dense.weight", "unterminated string"},
      {"{\"dense.weight\\", "unterminated string"},
      {"{\"dense\nweight\":{}}", "control character"},
      {"{\"dense\\xweight\":{}}", "invalid escape"},
      {"{\"dense\\u12\":{}}", "invalid \\u escape"},
      {"{\"dense\\ud800\":{}}", "unpaired surrogate"},
      {"{\"dense\\udc00\":{}}", "unpaired surrogate"},
      {"{\"dense\\ud800\\u0041\":{}}", "unpaired surrogate"},
      {"{\"dense\\u0000\":{}}", "\\u0000"},
      {"{\"__metadata__\":{\"step\":3}}", "metadata values must be strings"},
      {"{\"__metadata__\":{\"step\":\"3\",\"step\":\"4\"}}",
       "metadata key 'step' appears twice"},
      {"{\"__metadata__\":{},\"__metadata__\":{}}",
       "'__metadata__' appears twice"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.header);
    expect_refused(a, safetensors(c.header, data), c.what);
  }
}

TEST_F(Checkpoint, RefusesBadMetadata) {
  sora_model *a = create();
  Bytes data = floats(one_to_fifteen());
  auto with_meta = [&](const std::string &meta) {
    return safetensors(
        kWeightsHeader.substr(0, kWeightsHeader.find("\"__metadata__\"")) +
            "\"__metadata__\":{\"format\":\"sora\"," + meta + "}}",
        data);
  };
  expect_refused(a, with_meta("\"step\":\"-1\""), "step '-1'");
  expect_refused(a, with_meta("\"epoch\":\"x\""), "epoch 'x'");
  expect_refused(a, with_meta("\"epoch\":\"99999999999999999999\""),
                 "epoch '99999999999999999999'");
  expect_refused(a, with_meta("\"model_hash\":\"12ab\""), "model_hash '12ab'");
  expect_refused(a, with_meta("\"rng\":\"abc\""), "rng 'abc'");
  expect_refused(a, with_meta("\"rng\":\"" + std::string(64, '0') + "\""),
                 "rng '0000");
  expect_refused(a, with_meta("\"rng\":\"" + std::string(63, '1') + "g\""),
                 "rng '1111");

  // Valid sora metadata is taken; other formats' metadata is ignored.
  write_raw(dir.file("ok.safetensors"),
            with_meta("\"step\":\"17\",\"epoch\":\"3\",\"rng\":\"" +
                      std::string(64, 'f') + "\",\"unknown\":\"x\""));
  ASSERT_EQ(sora_model_load(a, dir.file("ok.safetensors").c_str()), SORA_OK)
      << last_error();
  EXPECT_EQ(sora_model_step(a), 17);
  EXPECT_EQ(sora_model_epoch(a), 3);
  write_raw(dir.file("pt.safetensors"),
            safetensors(kWeightsHeader.substr(0, kWeightsHeader.size() - 2) +
                            ",\"step\":\"x\",\"model_hash\":\"1\"}}",
                        data));
  ASSERT_EQ(sora_model_load(a, dir.file("pt.safetensors").c_str()), SORA_OK)
      << last_error();
  EXPECT_EQ(sora_model_step(a), 0);
}

/// No corruption of a valid file crashes the loader or half-loads it.
TEST_F(Checkpoint, SurvivesEveryTruncationAndByteChange) {
  sora_model *a;
  Bytes good;
  ASSERT_NO_FATAL_FAILURE(save_after_one_epoch(&a, &good));
  sora_model *b = create();
  std::string bad = dir.file("bad.safetensors");
  for (size_t len = 0; len < good.size(); ++len) {
    write_raw(bad, Bytes(good.begin(), good.begin() + len));
    ASSERT_EQ(sora_model_load(b, bad.c_str()), SORA_ERR_FORMAT) << len;
  }
  size_t header_end = 8 + good[0] + 256 * good[1];
  const uint8_t replacements[] = {'"', '\\', '}', ',', '9', 0xff};
  for (size_t i = 0; i < header_end; ++i) {
    for (uint8_t r : replacements) {
      if (good[i] == r)
        continue;
      Bytes changed = good;
      changed[i] = r;
      write_raw(bad, changed);
      // Some changes are harmless (a digit of the step, the generator).
      std::vector<float> before = params(b);
      int64_t step = sora_model_step(b);
      sora_status st = sora_model_load(b, bad.c_str());
      ASSERT_TRUE(st == SORA_OK || st == SORA_ERR_FORMAT)
          << i << " " << int(r) << ": " << last_error();
      if (st != SORA_OK) {
        ASSERT_EQ(params(b), before) << i;
        ASSERT_EQ(sora_model_step(b), step);
      }
    }
  }
}

TEST_F(Checkpoint, SaveAndLoadArguments) {
  sora_model *a = create();
  EXPECT_EQ(sora_model_save(nullptr, "x"), SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_save(a, nullptr), SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_save(a, ""), SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_load(nullptr, "x"), SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_load(a, nullptr), SORA_ERR_ARGUMENT);

  std::string nowhere = dir.file("no/such/dir/a.safetensors");
  EXPECT_EQ(sora_model_save(a, nowhere.c_str()), SORA_ERR_IO);
  EXPECT_NE(last_error().find(nowhere), std::string::npos) << last_error();
  EXPECT_EQ(sora_model_load(a, nowhere.c_str()), SORA_ERR_IO);
  EXPECT_NE(last_error().find(nowhere), std::string::npos) << last_error();
  EXPECT_EQ(sora_model_load(a, dir.path().c_str()), SORA_ERR_IO);

  // A descriptor whose tensors cannot be named apart cannot be saved.
  sora_param_desc twins[] = {
      {"w", 0, 3, 1, {3}, SORA_INIT_ZEROS, 1, 1, 0.0},
      {"w", 3, 3, 1, {3}, SORA_INIT_ZEROS, 1, 1, 0.0},
  };
  sora_model_desc d = desc;
  d.params = twins;
  d.params_floats = 6;
  sora_model *t = create(d);
  EXPECT_EQ(sora_model_save(t, dir.file("t").c_str()), SORA_ERR_ARGUMENT);
  EXPECT_NE(last_error().find("two tensors are named 'w'"), std::string::npos);
  sora_param_desc bad_shape[] = {
      {"w", 0, 6, 2, {2, 2}, SORA_INIT_ZEROS, 1, 1, 0.0}};
  d.params = bad_shape;
  d.num_params = 1;
  sora_model *s = create(d);
  EXPECT_EQ(sora_model_load(s, dir.file("t").c_str()), SORA_ERR_ARGUMENT);
}

/// Escaped names are written so that they read back.
TEST_F(Checkpoint, NamesAreEscaped) {
  sora_param_desc odd[] = {
      {"a \"quoted\" \\ name\n", 0, 12, 2, {3, 4}, SORA_INIT_ZEROS, 4, 3, 0.0},
      {"b", 12, 3, 1, {3}, SORA_INIT_ZEROS, 4, 3, 0.0},
  };
  sora_model_desc d = desc;
  d.params = odd;
  d.num_state = 0;
  sora_model *a = create(d);
  sora_model_params(a)[0] = 5;
  std::string path = dir.file("odd.safetensors");
  ASSERT_EQ(sora_model_save(a, path.c_str()), SORA_OK) << last_error();
  sora_model *b = create(d);
  ASSERT_EQ(sora_model_load(b, path.c_str()), SORA_OK) << last_error();
  EXPECT_EQ(sora_model_params(b)[0], 5.0f);
}

/// The resume invariant: 4 epochs straight through, or 2, a checkpoint, a
/// new instance and 2 more, train on the same batches in the same order and
/// end with the same parameters, state, step and generator, bit for bit.
TEST_F(Checkpoint, ResumeIsBitForBit) {
  desc.validation_split = 0.2; // 23 samples: 18 train, 5 validate
  desc.batch_size = 3;
  desc.epochs = 4;
  write_index_dataset(dir, "x.idx", "y.idx", 23);

  sora_model *straight = create();
  calls().clear();
  ASSERT_EQ(fit(straight, 0), SORA_OK) << last_error();
  std::vector<Call> straight_calls = calls();
  ASSERT_EQ(sora_model_step(straight), 24);
  ASSERT_EQ(sora_model_epoch(straight), 4);

  sora_model *first = create();
  calls().clear();
  ASSERT_EQ(fit(first, 2), SORA_OK);
  EXPECT_EQ(sora_model_epoch(first), 2);
  std::string mid = dir.file("mid.safetensors");
  ASSERT_EQ(sora_model_save(first, mid.c_str()), SORA_OK);
  sora_model *second = create();
  ASSERT_EQ(sora_model_load(second, mid.c_str()), SORA_OK) << last_error();
  sora_fit_options o = sora_fit_defaults();
  ::testing::internal::CaptureStdout();
  sora_status st = sora_model_fit(second, nullptr, &o);
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(st, SORA_OK) << last_error();
  EXPECT_EQ(out.rfind("Epoch 3/4\n", 0), 0u) << out;
  EXPECT_NE(out.find("Epoch 4/4\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Epoch 1/4"), std::string::npos) << out;

  // The same kernel calls: sizes, steps, batch contents, validation.
  std::vector<Call> resumed_calls = calls();
  ASSERT_EQ(resumed_calls.size(), straight_calls.size());
  for (size_t i = 0; i < straight_calls.size(); ++i)
    EXPECT_EQ(resumed_calls[i], straight_calls[i]) << "call " << i;
  // The shuffle did shuffle, differently in each epoch.
  EXPECT_NE(straight_calls[0].samples, straight_calls[8].samples);

  EXPECT_EQ(std::memcmp(sora_model_params(second), sora_model_params(straight),
                        15 * sizeof(float)),
            0);
  EXPECT_EQ(state(second), state(straight));
  EXPECT_EQ(sora_model_step(second), 24);
  EXPECT_EQ(sora_model_epoch(second), 4);
  ASSERT_EQ(sora_model_save(straight, dir.file("s.safetensors").c_str()),
            SORA_OK);
  ASSERT_EQ(sora_model_save(second, dir.file("r.safetensors").c_str()),
            SORA_OK);
  EXPECT_EQ(read_raw(dir.file("s.safetensors")),
            read_raw(dir.file("r.safetensors")));

  // Trained to the target: fit has nothing to do, and says so.
  calls().clear();
  ::testing::internal::CaptureStdout();
  st = sora_model_fit(second, nullptr, &o);
  out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(st, SORA_OK);
  EXPECT_TRUE(calls().empty());
  EXPECT_EQ(out, "Nothing to train: 4 epochs completed, epochs is 4\n");
  EXPECT_EQ(sora_model_step(second), 24);
}

} // namespace
