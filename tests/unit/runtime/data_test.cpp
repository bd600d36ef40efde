//===- data_test.cpp - Finding data files and loading IDX -----------------===//
#include "sora/runtime.h"
#include "test_util.h"

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using sora_test::Bytes;
using sora_test::idx;
using sora_test::TempDir;

std::string last_error() { return sora_last_error(); }

sora_data_spec spec(const char *images, const char *labels, double scale = 1.0,
                    int64_t onehot = 0) {
  sora_data_spec s = {};
  s.kind = SORA_DATA_IDX;
  s.images = images;
  s.labels = labels;
  s.scale = scale;
  s.onehot = onehot;
  return s;
}

/// Three 2x3 images with distinct pixels and labels 2, 0, 1.
const Bytes kPixels = {0,  1,  2,  3,  4,  5,  10,  20,  30,
                       40, 50, 60, 70, 80, 90, 100, 200, 255};
const Bytes kLabels = {2, 0, 1};

class Data : public ::testing::Test {
protected:
  void SetUp() override {
    sora_test::write_raw(dir.file("img"), idx({3, 2, 3}, kPixels));
    sora_test::write_raw(dir.file("lbl"), idx({3}, kLabels));
    sora_test::write_gz(dir.file("img.gz"), idx({3, 2, 3}, kPixels));
    sora_test::write_gz(dir.file("lbl.gz"), idx({3}, kLabels));
  }

  /// Loads `images` and `labels` from the temp dir.
  sora_status load(const std::string &images, const std::string &labels,
                   double scale = 1.0, int64_t onehot = 0) {
    sora_data_spec s = spec(images.c_str(), labels.c_str(), scale, onehot);
    return sora_dataset_load_idx(&s, dir.path().c_str(), nullptr, &ds);
  }

  /// Expects loading `images` with good labels to fail with `status` and a
  /// message that names the file and contains `what`.
  void expect_images_error(const Bytes &contents, sora_status status,
                           const std::string &what) {
    sora_test::write_raw(dir.file("bad"), contents);
    EXPECT_EQ(load("bad", "lbl"), status);
    EXPECT_NE(last_error().find(dir.file("bad")), std::string::npos)
        << last_error();
    EXPECT_NE(last_error().find(what), std::string::npos) << last_error();
    EXPECT_EQ(ds.x, nullptr);
    EXPECT_EQ(ds.y, nullptr);
  }

  void TearDown() override { sora_dataset_free(&ds); }

  TempDir dir;
  sora_dataset ds = {};
};

TEST_F(Data, LoadsRawIdx) {
  ASSERT_EQ(load("img", "lbl"), SORA_OK) << last_error();
  EXPECT_EQ(ds.count, 3);
  EXPECT_EQ(ds.sample_size, 6);
  EXPECT_EQ(ds.label_size, 1);
  for (size_t i = 0; i < kPixels.size(); ++i)
    EXPECT_EQ(ds.x[i], static_cast<float>(kPixels[i]));
  EXPECT_EQ(ds.y[0], 2.0f);
  EXPECT_EQ(ds.y[1], 0.0f);
  EXPECT_EQ(ds.y[2], 1.0f);
}

TEST_F(Data, GzipLoadsLikeRaw) {
  sora_dataset raw = {};
  sora_data_spec s = spec("img", "lbl", 0.5, 3);
  ASSERT_EQ(sora_dataset_load_idx(&s, dir.path().c_str(), nullptr, &raw),
            SORA_OK);
  ASSERT_EQ(load("img.gz", "lbl.gz", 0.5, 3), SORA_OK) << last_error();
  EXPECT_EQ(ds.count, raw.count);
  EXPECT_EQ(ds.sample_size, raw.sample_size);
  EXPECT_EQ(ds.label_size, raw.label_size);
  EXPECT_EQ(std::vector<float>(ds.x, ds.x + 18),
            std::vector<float>(raw.x, raw.x + 18));
  EXPECT_EQ(std::vector<float>(ds.y, ds.y + 9),
            std::vector<float>(raw.y, raw.y + 9));
  sora_dataset_free(&raw);
  EXPECT_EQ(raw.x, nullptr);
}

TEST_F(Data, Scale) {
  ASSERT_EQ(load("img", "lbl", 1.0 / 255), SORA_OK);
  for (size_t i = 0; i < kPixels.size(); ++i)
    EXPECT_FLOAT_EQ(ds.x[i], kPixels[i] / 255.0f);
  EXPECT_EQ(ds.x[17], 1.0f);
}

// fit gathers its batches from the bytes an IDX load keeps (a quarter of
// the memory traffic), converting them again as the load did: every byte
// value under every scale must give the float the load gave, bit for bit,
// which is (float)(byte * scale) computed in double precision. The scales
// include some whose single-precision shortcut must not be taken (1e300:
// infinite as a float; 1e-45: the product underflows).
TEST_F(Data, KeepsTheBytesWithTheirExactConversion) {
  Bytes every(256);
  for (int v = 0; v < 256; ++v)
    every[v] = static_cast<uint8_t>(v);
  sora_test::write_raw(dir.file("every"), idx({4, 8, 8}, every));
  sora_test::write_raw(dir.file("every_lbl"), idx({4}, {0, 1, 2, 3}));
  for (double scale : {1.0, 1.0 / 255, 2.0 / 255, 0.1, 3.7, 1.0 / 3, -0.5,
                       1e-3, 1e300, 1e-45, 0.0}) {
    sora_dataset_free(&ds);
    ASSERT_EQ(load("every", "every_lbl", scale), SORA_OK) << last_error();
    ASSERT_NE(ds.x_bytes, nullptr);
    EXPECT_EQ(ds.x_byte_scale, scale);
    for (int v = 0; v < 256; ++v) {
      ASSERT_EQ(ds.x_bytes[v], v);
      float expected = static_cast<float>(v * scale);
      ASSERT_EQ(std::memcmp(&ds.x[v], &expected, sizeof expected), 0)
          << "byte " << v << " scale " << scale << ": " << ds.x[v] << " vs "
          << expected;
    }
  }
}

TEST_F(Data, OneHot) {
  ASSERT_EQ(load("img", "lbl", 1.0, 4), SORA_OK);
  EXPECT_EQ(ds.label_size, 4);
  std::vector<float> expected = {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0};
  EXPECT_EQ(std::vector<float>(ds.y, ds.y + 12), expected);
}

TEST_F(Data, OneHotTooNarrow) {
  EXPECT_EQ(load("img", "lbl", 1.0, 2), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find(dir.file("lbl")), std::string::npos);
  EXPECT_NE(last_error().find("label 2"), std::string::npos) << last_error();
}

TEST_F(Data, BadMagic) {
  Bytes b = idx({3, 2, 3}, kPixels);
  b[0] = 0x42;
  expect_images_error(b, SORA_ERR_FORMAT, "magic");
  // A text file is not an IDX file either.
  expect_images_error(Bytes{'h', 'e', 'l', 'l', 'o', '\n'}, SORA_ERR_FORMAT,
                      "not an IDX file");
}

TEST_F(Data, UnsupportedElementType) {
  expect_images_error(idx({3, 2, 3}, kPixels, 0x0D), SORA_ERR_FORMAT,
                      "element type 0x0d");
}

TEST_F(Data, BadRank) {
  expect_images_error(Bytes{0, 0, 8, 0}, SORA_ERR_FORMAT, "rank 0");
  expect_images_error(Bytes{0, 0, 8, 200}, SORA_ERR_FORMAT, "rank 200");
}

TEST_F(Data, TooShort) {
  expect_images_error(Bytes{0, 0}, SORA_ERR_FORMAT, "2 bytes");
  expect_images_error(Bytes{}, SORA_ERR_FORMAT, "0 bytes");
  expect_images_error(Bytes{0, 0, 8, 3, 0, 0, 0, 3, 0}, SORA_ERR_FORMAT,
                      "truncated IDX header");
}

TEST_F(Data, TruncatedData) {
  Bytes b = idx({3, 2, 3}, kPixels);
  b.pop_back();
  expect_images_error(b, SORA_ERR_FORMAT, "truncated");
}

TEST_F(Data, TrailingData) {
  Bytes b = idx({3, 2, 3}, kPixels);
  b.push_back(7);
  expect_images_error(b, SORA_ERR_FORMAT, "after");
}

TEST_F(Data, HugeOrZeroDimensions) {
  // 2^32-1 x 2^32-1 bytes: rejected from the header, before any allocation.
  expect_images_error(idx({0xFFFFFFFF, 0xFFFFFFFF}, {}), SORA_ERR_FORMAT,
                      "too large");
  expect_images_error(idx({3, 0, 3}, {}), SORA_ERR_FORMAT, "dimension 1 is 0");
  expect_images_error(idx({0}, {}), SORA_ERR_FORMAT, "dimension 0 is 0");
}

TEST_F(Data, LabelsMustBeOneDimensional) {
  sora_test::write_raw(dir.file("lbl2"), idx({3, 1}, kLabels));
  EXPECT_EQ(load("img", "lbl2"), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find("one dimension"), std::string::npos);
}

TEST_F(Data, CountMismatch) {
  sora_test::write_raw(dir.file("lbl4"), idx({4}, {0, 1, 2, 3}));
  EXPECT_EQ(load("img", "lbl4"), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find("3 samples"), std::string::npos) << last_error();
  EXPECT_NE(last_error().find("4 labels"), std::string::npos);
  EXPECT_NE(last_error().find(dir.file("lbl4")), std::string::npos);
}

TEST_F(Data, MissingFile) {
  EXPECT_EQ(load("nope", "lbl"), SORA_ERR_IO);
  EXPECT_NE(last_error().find("nope"), std::string::npos);
  EXPECT_EQ(load("img", "nope.gz"), SORA_ERR_IO);
  EXPECT_NE(last_error().find("nope.gz"), std::string::npos);
}

TEST_F(Data, BadArguments) {
  EXPECT_EQ(load("img", "lbl", 1.0, -1), SORA_ERR_ARGUMENT);
  sora_data_spec s = spec("img", nullptr);
  EXPECT_EQ(sora_dataset_load_idx(&s, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_ARGUMENT);
}

TEST_F(Data, CorruptGzipNeverCrashes) {
  // Every prefix of a gzip file, and every single-byte corruption of it,
  // either loads the right data or fails cleanly.
  Bytes gz = sora_test::read_raw(dir.file("img.gz"));
  ASSERT_GT(gz.size(), 20u);
  auto check = [&](const Bytes &contents) {
    sora_test::write_raw(dir.file("cut.gz"), contents);
    sora_status st = load("cut.gz", "lbl");
    if (st == SORA_OK) {
      EXPECT_EQ(std::vector<float>(ds.x, ds.x + 18),
                std::vector<float>(kPixels.begin(), kPixels.end()));
      sora_dataset_free(&ds);
    } else {
      EXPECT_NE(last_error().find(dir.file("cut.gz")), std::string::npos)
          << last_error();
    }
    return st;
  };
  // Even without its 8-byte trailer (CRC and size) a stream is incomplete.
  EXPECT_EQ(check(Bytes(gz.begin(), gz.end() - 4)), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find("truncated"), std::string::npos) << last_error();
  for (size_t len = 0; len < gz.size(); ++len)
    EXPECT_NE(check(Bytes(gz.begin(), gz.begin() + len)), SORA_OK) << len;
  for (size_t i = 0; i < gz.size(); ++i) {
    Bytes b = gz;
    b[i] ^= 0x5A;
    check(b);
  }
}

TEST(FindDataFile, AbsolutePath) {
  TempDir dir;
  sora_test::write_raw(dir.file("a"), {1});
  char out[4096];
  ASSERT_EQ(sora_find_data_file(dir.file("a").c_str(), "/nonexistent", nullptr,
                                out, sizeof out),
            SORA_OK);
  EXPECT_EQ(std::string(out), dir.file("a"));
  EXPECT_EQ(sora_find_data_file(dir.file("b").c_str(), nullptr, nullptr, out,
                                sizeof out),
            SORA_ERR_IO);
  EXPECT_NE(last_error().find(dir.file("b")), std::string::npos);
}

TEST(FindDataFile, SearchOrder) {
  TempDir data, source;
  std::filesystem::create_directories(data.file("sub"));
  std::filesystem::create_directories(source.file("sub"));
  sora_test::write_raw(data.file("sub/f"), {1});
  sora_test::write_raw(source.file("sub/f"), {1});
  char out[4096];

  ASSERT_EQ(sora_find_data_file("sub/f", data.path().c_str(),
                                source.path().c_str(), out, sizeof out),
            SORA_OK);
  EXPECT_EQ(std::string(out), data.file("sub/f"));
  // A trailing slash on a directory is fine.
  std::string slashed = data.path() + "/";
  ASSERT_EQ(
      sora_find_data_file("sub/f", slashed.c_str(), nullptr, out, sizeof out),
      SORA_OK);
  EXPECT_EQ(std::string(out), data.file("sub/f"));

  ASSERT_EQ(sora_find_data_file("sub/f", nullptr, source.path().c_str(), out,
                                sizeof out),
            SORA_OK);
  EXPECT_EQ(std::string(out), source.file("sub/f"));

  std::filesystem::remove(data.file("sub/f"));
  ASSERT_EQ(sora_find_data_file("sub/f", data.path().c_str(),
                                source.path().c_str(), out, sizeof out),
            SORA_OK);
  EXPECT_EQ(std::string(out), source.file("sub/f"));

  std::filesystem::remove(source.file("sub/f"));
  EXPECT_EQ(sora_find_data_file("sub/f", data.path().c_str(),
                                source.path().c_str(), out, sizeof out),
            SORA_ERR_IO);
  // The message lists where it looked.
  EXPECT_NE(last_error().find(data.path()), std::string::npos);
  EXPECT_NE(last_error().find(source.path()), std::string::npos);
  EXPECT_NE(last_error().find("/usr/share/datasets"), std::string::npos);

  // A directory is not a data file.
  EXPECT_EQ(
      sora_find_data_file("sub", data.path().c_str(), nullptr, out, sizeof out),
      SORA_ERR_IO);
}

TEST(FindDataFile, OutputTooSmall) {
  TempDir dir;
  sora_test::write_raw(dir.file("a"), {1});
  char out[4];
  EXPECT_EQ(
      sora_find_data_file("a", dir.path().c_str(), nullptr, out, sizeof out),
      SORA_ERR_ARGUMENT);
}

const char *const kFashion = "fashion-mnist/train-images-idx3-ubyte.gz";
const char *const kFashionLabels = "fashion-mnist/train-labels-idx1-ubyte.gz";

TEST(FindDataFile, SystemDatasets) {
  if (!std::filesystem::exists(std::string("/usr/share/datasets/") + kFashion))
    GTEST_SKIP() << "no Fashion-MNIST in /usr/share/datasets";
  TempDir dir;
  char out[4096];
  ASSERT_EQ(sora_find_data_file(kFashion, dir.path().c_str(),
                                dir.path().c_str(), out, sizeof out),
            SORA_OK);
  EXPECT_EQ(std::string(out), std::string("/usr/share/datasets/") + kFashion);
}

TEST(RealData, FashionMnistTrain) {
  if (!std::filesystem::exists(std::string("/usr/share/datasets/") + kFashion))
    GTEST_SKIP() << "no Fashion-MNIST in /usr/share/datasets";
  sora_data_spec s = spec(kFashion, kFashionLabels, 1.0 / 255, 10);
  sora_dataset ds = {};
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(sora_dataset_load_idx(&s, nullptr, nullptr, &ds), SORA_OK)
      << sora_last_error();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  RecordProperty("load_seconds", std::to_string(seconds));
  std::printf("loaded 60000 x 784 in %.3f s\n", seconds);
  EXPECT_EQ(ds.count, 60000);
  EXPECT_EQ(ds.sample_size, 784);
  EXPECT_EQ(ds.label_size, 10);
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < ds.count * ds.sample_size; ++i) {
    lo = std::min(lo, ds.x[i]);
    hi = std::max(hi, ds.x[i]);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  for (int64_t i = 0; i < ds.count; ++i) {
    float sum = 0;
    for (int k = 0; k < 10; ++k)
      sum += ds.y[i * 10 + k];
    ASSERT_EQ(sum, 1.0f) << i;
  }
  sora_dataset_free(&ds);
}

} // namespace
