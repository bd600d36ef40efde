//===- memory_test.cpp - Aligned allocation -------------------------------===//
#include "sora/runtime.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace {

TEST(Memory, AlignedAndZeroed) {
  for (size_t bytes : {0, 1, 3, 63, 64, 65, 1000, 1 << 20}) {
    auto *p = static_cast<unsigned char *>(sora_alloc(bytes));
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    for (size_t i = 0; i < bytes; ++i)
      ASSERT_EQ(p[i], 0) << bytes;
    sora_free(p);
  }
  sora_free(nullptr);
}

#ifdef __linux__
TEST(Memory, LargeBlocksLieOnHugePageBoundaries) {
  // A data set or a large model's parameters: 2 MiB-aligned and zeroed, so
  // that transparent huge pages can back it (memory.c).
  for (size_t bytes : {size_t(2) << 20, (size_t(5) << 20) + 3}) {
    auto *p = static_cast<unsigned char *>(sora_alloc(bytes));
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (2 << 20), 0u) << bytes;
    EXPECT_EQ(p[0] | p[bytes / 2] | p[bytes - 1], 0) << bytes;
    sora_free(p);
  }
}
#endif

TEST(Memory, ImpossibleSizeFails) {
  EXPECT_EQ(sora_alloc(SIZE_MAX), nullptr);
  EXPECT_NE(std::string(sora_last_error()).find("allocate"), std::string::npos);
}

} // namespace
