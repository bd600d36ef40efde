//===- test_util.h - Helpers for the runtime's unit tests -----------------===//
#ifndef SORA_RT_TEST_UTIL_H
#define SORA_RT_TEST_UTIL_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

namespace sora_test {

/// A fresh directory under the test temp dir, removed with its contents.
class TempDir {
public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "sora_rt_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data()))
      std::abort();
    path_ = buf.data();
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

using Bytes = std::vector<uint8_t>;

/// An IDX file: magic 00 00 `type` ndim, big-endian dims, then `data`.
inline Bytes idx(const std::vector<uint32_t> &dims, const Bytes &data,
                 uint8_t type = 0x08) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      b.push_back(static_cast<uint8_t>(d >> shift));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline void write_raw(const std::string &path, const Bytes &b) {
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!b.empty()) { // fwrite must not see the NULL of an empty vector
    ASSERT_EQ(std::fwrite(b.data(), 1, b.size(), f), b.size());
  }
  std::fclose(f);
}

inline void write_gz(const std::string &path, const Bytes &b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())),
            static_cast<int>(b.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

inline Bytes read_raw(const std::string &path) {
  Bytes b;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return b;
  int c;
  while ((c = std::fgetc(f)) != EOF)
    b.push_back(static_cast<uint8_t>(c));
  std::fclose(f);
  return b;
}

/// Writes `count` images of 2x2 pixels, every pixel of image i holding i
/// (mod 256), and labels i % `classes`, as `images` and `labels` in `dir`.
inline void write_index_dataset(const TempDir &dir, const std::string &images,
                                const std::string &labels, uint32_t count,
                                int classes = 3) {
  Bytes x, y;
  for (uint32_t i = 0; i < count; ++i) {
    for (int p = 0; p < 4; ++p)
      x.push_back(static_cast<uint8_t>(i));
    y.push_back(static_cast<uint8_t>(i % classes));
  }
  write_raw(dir.file(images), idx({count, 2, 2}, x));
  write_raw(dir.file(labels), idx({count}, y));
}

} // namespace sora_test

#endif // SORA_RT_TEST_UTIL_H
