//===- ImageLowerings.h - Shared pieces of the image lowerings --*- C++ -*-===//
//
// Images are [?, H, W, C] row-major and conv kernels [F, kh, kw, C]. The
// lowerings of convolution (ConvLowerings.cpp), of its filter gradient
// (ConvFilterGradient.cpp), of pooling (PoolLowerings.cpp) and of dropout
// (DropoutLowerings.cpp) share the index arithmetic and geometry here;
// ImageLowerings.cpp registers them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/KernelEmitter.h"
#include "CodeGen/VectorOps.h"

namespace sora::ir::image {

// Window positions may lie in the padding (negative), so index arithmetic is
// signed: nsw, never nuw.
inline llvm::Value *mulSigned(KernelEmitter &k, llvm::Value *a, int64_t c) {
  return k.b.CreateMul(a, k.i64(c), "", false, true);
}
inline llvm::Value *addSigned(KernelEmitter &k, llvm::Value *a,
                              llvm::Value *b) {
  return k.b.CreateAdd(a, b, "", false, true);
}
llvm::Value *smaxIdx(KernelEmitter &k, llvm::Value *a, llvm::Value *b);
llvm::Value *sminIdx(KernelEmitter &k, llvm::Value *a, llvm::Value *b);

/// One sample of an image value [?, H, W, C].
struct Image {
  int64_t h, w, c;
};
Image imageOf(const Node *n);

/// Index of element [r, y, x, 0] of `img`.
llvm::Value *pixel(KernelEmitter &k, const Image &img, llvm::Value *r,
                   llvm::Value *y, llvm::Value *x);

/// dst[i] = 0 for every element of `dst`.
void zero(KernelEmitter &k, const Node &dst);
/// Emits body(c) for each case c < cases, the one run being c == `index`
/// (code specialised to a constant, picked at run time).
void forEachCase(KernelEmitter &k, llvm::Value *index, int64_t cases,
                 const std::function<void(int64_t)> &body);

/// dst[i] += v
void accumulateInto(KernelEmitter &k, const Node *dst, llvm::Value *i,
                    llvm::Value *v);

/// A convolution's geometry: `in` is the image convolved, `out` the result
/// (its channels are the filters), the kernel kh rows by kw columns (conv1d
/// is a convolution of one-row images by one-row kernels).
struct Conv {
  Image in, out;
  int64_t kh, kw, stride, padTop, padLeft;
};
/// The geometry of conv op `n` whose kernel is `kernel` ([F, kh, kw, C]).
Conv convOf(const Node &n, const Node *in, const Node *out, const Node *kernel);

/// How many vector accumulators one register tile may hold: most of the
/// register file (32 zmm registers with AVX-512, 16 ymm or xmm registers
/// below it), the rest left for the operands.
inline int64_t accumulatorBudget(const KernelEmitter &k) {
  return k.vectorWidth >= 16 ? 24 : 12;
}

void lowerConv2D(KernelEmitter &k, const Node &n);
void lowerConv2DGradInput(KernelEmitter &k, const Node &n);
void lowerConv2DGradFilter(KernelEmitter &k, const Node &n);
void lowerMaxPool2D(KernelEmitter &k, const Node &n);
void lowerMaxPool2DGrad(KernelEmitter &k, const Node &n);
void lowerAvgPool2D(KernelEmitter &k, const Node &n);
void lowerAvgPool2DGrad(KernelEmitter &k, const Node &n);
void lowerDropout(KernelEmitter &k, const Node &n);
void lowerDropoutGrad(KernelEmitter &k, const Node &n);

} // namespace sora::ir::image
