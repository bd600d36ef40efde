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

#include "CodeGen/Amx.h"
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

/// A convolution-shaped loop nest over every element of `out`:
///   out[r, y, x, o] = sum over a < kh, b < kw and i < in.c of
///                     in[r, y*s + a - padY, x*s + b - padX, i] * K(a, b, i, o)
/// the taps that fall outside `in` left out, with K(a, b, i, o) the float
/// kernel[row(a, b, i) + o - channel0]. The forward convolution reads its
/// kernel from a transposed copy ([kh, kw, C, F]: filters contiguous); the
/// input gradient of a stride-1 convolution is the same nest over dy with
/// the kernel flipped, read from w itself ([F, kh, kw, C]: channels
/// contiguous).
///
/// The nest runs on the runtime's threads, each output row of each sample
/// computed whole by one of them: `prepare` gives a thread's emitter the
/// kernel's base pointer (making the transposed copy on its stack), `row`
/// the index of K(a, b, i, 0) through that emitter.
struct ConvNest {
  const Node *in, *out;
  Image inImg, outImg;
  int64_t kh, kw, stride, padY, padX;
  std::function<llvm::Value *(KernelEmitter &)> prepare;
  std::function<llvm::Value *(KernelEmitter &, llvm::Value *a, int64_t b,
                              llvm::Value *i)>
      row;
  int64_t channel0;
  bool paddedRows; ///< every row holds whole vectors (no masked loads)
  /// Multiply bfloat16 pairs of input channels (vdpbf16ps): both operands
  /// are round_bf16 values and the channels come in pairs.
  bool bf16Pairs = false;
  /// Both operands are round_bf16 values (bfloat16 in f32), so that the
  /// nest may run on AMX tiles (AmxConv.cpp).
  bool bf16Operands = false;
};

/// The nest's kernel for output channels [o0, oEnd) as bfloat16 pairs of
/// input channels: vector ((a kw + b) C/2 + i/2) V + v holds K(a, b, i, o)
/// and K(a, b, i + 1, o) for the V vectors of channels o from o0 (the
/// lanes past oEnd zero), built from `kernel` on the stack of the thread.
llvm::Value *packPairs(KernelEmitter &k, Vec &vec, const ConvNest &c,
                       llvm::Value *kernel, int64_t o0, int64_t oEnd);

/// Whether nest `c`, for output channels [o0, oEnd), can run on AMX tiles
/// on this target: bfloat16 operands, stride 1, channels in pairs.
bool amxConvNestFits(const KernelEmitter &k, const ConvNest &c, int64_t o0,
                     int64_t oEnd);
/// Emits `c` for output channels [o0, oEnd) on AMX tiles, the samples
/// shared among threads (AmxConv.cpp).
void emitAmxConvNest(KernelEmitter &k, const ConvNest &c, int64_t o0,
                     int64_t oEnd);
/// Whether conv2d_grad_filter `n` of geometry `cv` can run on AMX tiles:
/// bfloat16 operands, stride 1, channels in tiles of 16.
bool amxFilterGradientFits(const KernelEmitter &k, const Node &n,
                           const Conv &cv);
void lowerAmxFilterGradient(KernelEmitter &k, const Node &n, const Conv &cv);

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
