//===- DropoutLowerings.cpp - Dropout masks from a counter-based hash -----===//
#include "CodeGen/ImageLowerings.h"

#include <cmath>

namespace sora::ir::image {

namespace {

using namespace llvm;

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull; // 2^64 / golden ratio

/// splitmix64's finalizer: a bijection of 64-bit integers in which every
/// input bit flips about half of the output bits.
Value *mix64(KernelEmitter &k, Value *z) {
  IRBuilder<> &b = k.b;
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 30)),
                  b.getInt64(0xBF58476D1CE4E5B9ull));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 27)),
                  b.getInt64(0x94D049BB133111EBull));
  return b.CreateXor(z, b.CreateLShr(z, 31));
}

/// dst[i] = src[i] / (1 - rate) where dropout keeps element i, else 0.
/// Element i (flat, batch row included) is kept when the i-th output of a
/// splitmix64 stream keyed by (seed, salt, step) is >= rate in [0, 1): a
/// counter-based generator, so the forward and backward kernels regenerate
/// the same mask with no state, and each step and layer gets a fresh one.
void applyDropoutMask(KernelEmitter &k, const Node &dst, const Node *src) {
  double rate = dst.attrs.rate();
  // The seed and salt fold to a constant; the step is only known at run time.
  uint64_t seed = uint64_t(dst.attrs.seed());
  uint64_t salt = uint64_t(dst.attrs.salt());
  // The top 24 bits m give u = m / 2^24, exact in float; u >= rate exactly
  // when m >= ceil(rate * 2^24).
  uint64_t threshold = uint64_t(std::ceil(rate * double(1 << 24)));
  k.forEachRow(&dst, [&](KernelEmitter &e, Value *base) {
    IRBuilder<> &b = e.b;
    Value *key = mix64(e, b.getInt64(seed));
    key = mix64(e, b.CreateAdd(key, b.getInt64(salt * kGolden)));
    key = mix64(e, b.CreateAdd(key, b.CreateMul(e.step, b.getInt64(kGolden))));
    Value *scale = e.f32(1.0 / (1.0 - rate));
    e.loop(
        dst.type.elements(),
        [&](Value *j) {
          Value *i = addIdx(e, base, j);
          Value *counter =
              b.CreateMul(b.CreateAdd(i, b.getInt64(1)), b.getInt64(kGolden));
          Value *bits = b.CreateLShr(mix64(e, b.CreateAdd(key, counter)), 40);
          Value *keep = b.CreateICmpUGE(bits, b.getInt64(threshold));
          Value *scaled = b.CreateFMul(e.load(src, i), scale);
          e.storeResult(dst, i, b.CreateSelect(keep, scaled, e.f32(0)), j);
        },
        "e");
  });
}
} // namespace

// y = x * keep / (1 - rate), keep = hash(seed, salt, step, index) >= rate
void lowerDropout(KernelEmitter &k, const Node &n) {
  applyDropoutMask(k, n, n.operands[0]);
}

// dx = dy * keep / (1 - rate), with the forward's mask
void lowerDropoutGrad(KernelEmitter &k, const Node &n) {
  applyDropoutMask(k, n, n.operands[0]);
}

} // namespace sora::ir::image
