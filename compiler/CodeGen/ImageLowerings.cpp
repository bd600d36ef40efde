//===- ImageLowerings.cpp - Convolution, pooling and dropout loops
//---------===//
//
// Images are [?, H, W, C] row-major and conv kernels [F, kh, kw, C], so one
// kernel row's (kw, c) taps are contiguous in both the image and the kernel.
// The convolutions loop over output pixels and, for each kernel row that
// falls inside the image, over the run of its valid (kw, c) taps: padding is
// skipped by clipping the window, never by reading outside a buffer, and the
// innermost loop walks both operands contiguously (a vectorisable dot
// product or axpy). Pooling windows always fit; their innermost loop is over
// channels. Every loop has a constant trip count except the batch and the
// clipped convolution windows (at most the kernel's size).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"

#include <llvm/IR/Intrinsics.h>

#include <cmath>
#include <limits>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

// Window positions may lie in the padding (negative), so index arithmetic is
// signed: nsw, never nuw.
Value *mulIdx(KernelEmitter &k, Value *a, int64_t c) {
  return k.b.CreateMul(a, k.i64(c), "", false, true);
}
Value *addIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateAdd(a, b, "", false, true);
}
Value *subIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateSub(a, b, "", false, true);
}

/// One sample of an image value [?, H, W, C].
struct Image {
  int64_t h, w, c;
};
Image imageOf(const Node *n) {
  return {n->type.dims[0], n->type.dims[1], n->type.dims[2]};
}

/// Index of element [r, y, x, 0] of `img`.
Value *pixel(KernelEmitter &k, const Image &img, Value *r, Value *y, Value *x) {
  Value *row = addIdx(k, mulIdx(k, r, img.h), y);
  return mulIdx(k, addIdx(k, mulIdx(k, row, img.w), x), img.c);
}

//===--- Convolution ------------------------------------------------------===//

/// A convolution's geometry: `in` is the image convolved, `out` the result
/// (its channels are the filters), `kernel` the square kernel's side.
struct Conv {
  Image in, out;
  int64_t kernel, stride, padTop, padLeft;
};
Conv convOf(const Node &n, const Node *in, const Node *out, int64_t kernel) {
  return {imageOf(in),
          imageOf(out),
          kernel,
          int64_t(n.attr("stride")),
          int64_t(n.attr("pad_top")),
          int64_t(n.attr("pad_left"))};
}

/// The kernel placed at one output pixel: its tap (0, 0) lies at input
/// (ih0, iw0), possibly in the padding; the taps inside the image are rows
/// [khLo, khHi) and columns [kwLo, kwHi).
struct Window {
  Value *ih0, *iw0, *khLo, *khHi, *kwLo, *kwHi;
};

Window windowAt(KernelEmitter &k, const Conv &cv, Value *oh, Value *ow) {
  auto smax = [&](Value *a, Value *b) {
    return k.b.CreateBinaryIntrinsic(Intrinsic::smax, a, b);
  };
  auto smin = [&](Value *a, Value *b) {
    return k.b.CreateBinaryIntrinsic(Intrinsic::smin, a, b);
  };
  Window win;
  win.ih0 = subIdx(k, mulIdx(k, oh, cv.stride), k.i64(cv.padTop));
  win.iw0 = subIdx(k, mulIdx(k, ow, cv.stride), k.i64(cv.padLeft));
  // Tap kh is inside when 0 <= ih0 + kh < H.
  win.khLo = smax(k.i64(0), subIdx(k, k.i64(0), win.ih0));
  win.khHi = smin(k.i64(cv.kernel), subIdx(k, k.i64(cv.in.h), win.ih0));
  win.kwLo = smax(k.i64(0), subIdx(k, k.i64(0), win.iw0));
  win.kwHi = smin(k.i64(cv.kernel), subIdx(k, k.i64(cv.in.w), win.iw0));
  return win;
}

/// The valid taps of kernel row `kh` of filter `f` at one output pixel of
/// sample `r`: indices x0 + j of the image and w0 + j of the kernel for j in
/// [lo, hi), one contiguous run of (kw, c) in both.
struct TapRun {
  Value *x0, *w0, *lo, *hi;
};

TapRun tapRun(KernelEmitter &k, const Conv &cv, const Window &win, Value *r,
              Value *f, Value *kh) {
  Value *ih = addIdx(k, win.ih0, kh);
  Value *kernelRow = addIdx(k, mulIdx(k, f, cv.kernel), kh);
  // x0 is negative when iw0 is, but x0 + j never is: j >= kwLo * C.
  return {pixel(k, cv.in, r, ih, win.iw0),
          mulIdx(k, mulIdx(k, kernelRow, cv.kernel), cv.in.c),
          mulIdx(k, win.kwLo, cv.in.c), mulIdx(k, win.kwHi, cv.in.c)};
}

/// for each sample r, output pixel (oh, ow) and filter f:
/// body(r, window, index of out[r, oh, ow, f], f)
void forEachOutput(KernelEmitter &k, const Conv &cv,
                   const std::function<void(Value *, const Window &, Value *,
                                            Value *)> &body) {
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        k.loop(
            cv.out.h,
            [&](Value *oh) {
              k.loop(
                  cv.out.w,
                  [&](Value *ow) {
                    Window win = windowAt(k, cv, oh, ow);
                    Value *out = pixel(k, cv.out, r, oh, ow);
                    k.loop(
                        cv.out.c,
                        [&](Value *f) { body(r, win, addIdx(k, out, f), f); },
                        "f");
                  },
                  "ow");
            },
            "oh");
      },
      "row");
}

/// The two gradients of a convolution scatter dy over the taps that
/// produced it: for every valid tap (image index xi, kernel index wi) of
/// every output element, accumulate(dy there, xi, wi).
void scatterConvGradient(
    KernelEmitter &k, const Conv &cv, const Node *dy,
    const std::function<void(Value *, Value *, Value *)> &accumulate) {
  forEachOutput(k, cv, [&](Value *r, const Window &win, Value *yi, Value *f) {
    Value *g = k.load(dy, yi);
    k.loop(
        win.khLo, win.khHi,
        [&](Value *kh) {
          TapRun run = tapRun(k, cv, win, r, f, kh);
          k.loop(
              run.lo, run.hi,
              [&](Value *j) {
                accumulate(g, addIdx(k, run.x0, j), addIdx(k, run.w0, j));
              },
              "j");
        },
        "kh");
  });
}

/// dst[i] = 0 for every element of `dst`.
void zero(KernelEmitter &k, const Node &dst) {
  k.forEachElement(&dst, [&](Value *i) { k.store(&dst, i, k.f32(0)); });
}

/// dst[i] += v
void accumulateInto(KernelEmitter &k, const Node *dst, Value *i, Value *v) {
  k.store(dst, i, k.b.CreateFAdd(k.load(dst, i), v));
}

// y[r,oh,ow,f] = sum_{kh,kw,c} x[r, oh*s+kh-pt, ow*s+kw-pl, c] w[f,kh,kw,c]
void lowerConv2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, x, &n, w->type.dims[1]);
  forEachOutput(k, cv, [&](Value *r, const Window &win, Value *yi, Value *f) {
    Value *sum = k.reduce(
        win.khLo, win.khHi, {k.f32(0)},
        [&](Value *kh, const std::vector<Value *> &acc) {
          TapRun run = tapRun(k, cv, win, r, f, kh);
          return k.reduce(
              run.lo, run.hi, acc,
              [&](Value *j, const std::vector<Value *> &a) {
                Value *prod = k.b.CreateFMul(k.load(x, addIdx(k, run.x0, j)),
                                             k.load(w, addIdx(k, run.w0, j)));
                return std::vector<Value *>{k.b.CreateFAdd(a[0], prod)};
              },
              "j");
        },
        "kh")[0];
    k.store(&n, yi, sum);
  });
}

// dx[r,ih,iw,c] = sum over (oh,ow,f,kh,kw) with ih = oh*s+kh-pt and
//                 iw = ow*s+kw-pl of dy[r,oh,ow,f] w[f,kh,kw,c]
void lowerConv2DGradInput(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, &n, dy, w->type.dims[1]);
  zero(k, n);
  scatterConvGradient(k, cv, dy, [&](Value *g, Value *xi, Value *wi) {
    accumulateInto(k, &n, xi, k.b.CreateFMul(g, k.load(w, wi)));
  });
}

// dw[f,kh,kw,c] = sum_{r,oh,ow} dy[r,oh,ow,f] x[r, oh*s+kh-pt, ow*s+kw-pl, c]
void lowerConv2DGradFilter(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  Conv cv = convOf(n, x, dy, n.type.dims[1]);
  zero(k, n); // dw is not batched: one row
  scatterConvGradient(k, cv, dy, [&](Value *g, Value *xi, Value *wi) {
    accumulateInto(k, &n, wi, k.b.CreateFMul(g, k.load(x, xi)));
  });
}

//===--- Pooling ----------------------------------------------------------===//

/// A pooling window's geometry; `in` is the pooled image, `out` the result.
struct Pool {
  Image in, out;
  int64_t size, stride;
};
Pool poolOf(const Node &n, const Node *in, const Node *out) {
  return {imageOf(in), imageOf(out), int64_t(n.attr("size")),
          int64_t(n.attr("stride"))};
}

/// for each sample r and output pixel (oh, ow):
/// body(index of out[r, oh, ow, 0], index of in[r, oh*s, ow*s, 0])
void forEachWindow(KernelEmitter &k, const Pool &p,
                   const std::function<void(Value *, Value *)> &body) {
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        k.loop(
            p.out.h,
            [&](Value *oh) {
              k.loop(
                  p.out.w,
                  [&](Value *ow) {
                    Value *ih = mulIdx(k, oh, p.stride),
                          *iw = mulIdx(k, ow, p.stride);
                    body(pixel(k, p.out, r, oh, ow), pixel(k, p.in, r, ih, iw));
                  },
                  "ow");
            },
            "oh");
      },
      "row");
}

/// Index offset of window tap (i, j) from the window's corner in `img`.
Value *tapOffset(KernelEmitter &k, const Image &img, Value *i, Value *j) {
  return mulIdx(k, addIdx(k, mulIdx(k, i, img.w), j), img.c);
}

/// for each output element and each tap of its window, channels innermost:
/// body(index in out, index in in)
void forEachPoolTap(KernelEmitter &k, const Pool &p,
                    const std::function<void(Value *, Value *)> &body) {
  forEachWindow(k, p, [&](Value *out, Value *corner) {
    k.loop(
        p.size,
        [&](Value *i) {
          k.loop(
              p.size,
              [&](Value *j) {
                Value *tap = addIdx(k, corner, tapOffset(k, p.in, i, j));
                k.loop(
                    p.out.c,
                    [&](Value *c) {
                      body(addIdx(k, out, c), addIdx(k, tap, c));
                    },
                    "c");
              },
              "j");
        },
        "i");
  });
}

// y[r,oh,ow,c] = max_{i,j < size} x[r, oh*s+i, ow*s+j, c]
void lowerMaxPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  k.forEachElement(&n, [&](Value *i) { k.store(&n, i, ninf); });
  forEachPoolTap(k, poolOf(n, x, &n), [&](Value *yi, Value *xi) {
    Value *v = k.load(x, xi), *best = k.load(&n, yi);
    k.store(&n, yi, k.b.CreateSelect(k.b.CreateFCmpOGT(v, best), v, best));
  });
}

// dx[r, oh*s+i, ow*s+j, c] += dy[r,oh,ow,c] at the first (i, j), in
// row-major order, where x is the window's maximum (the one the forward's
// strict comparison keeps)
void lowerMaxPool2DGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  Pool p = poolOf(n, x, dy);
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  zero(k, n);
  forEachWindow(k, p, [&](Value *out, Value *corner) {
    k.loop(
        p.out.c,
        [&](Value *c) {
          Value *first = addIdx(k, corner, c);
          // (best value, its index) over the taps in row-major order.
          std::vector<Value *> best = {ninf, first};
          best = k.reduce(
              k.i64(0), k.i64(p.size), best,
              [&](Value *i, const std::vector<Value *> &acc) {
                return k.reduce(
                    k.i64(0), k.i64(p.size), acc,
                    [&](Value *j, const std::vector<Value *> &a) {
                      Value *xi = addIdx(k, first, tapOffset(k, p.in, i, j));
                      Value *v = k.load(x, xi);
                      Value *better = k.b.CreateFCmpOGT(v, a[0]);
                      return std::vector<Value *>{
                          k.b.CreateSelect(better, v, a[0]),
                          k.b.CreateSelect(better, xi, a[1])};
                    },
                    "j");
              },
              "i");
          Value *argmax = best[1];
          accumulateInto(k, &n, argmax, k.load(dy, addIdx(k, out, c)));
        },
        "c");
  });
}

// y[r,oh,ow,c] = sum_{i,j < size} x[r, oh*s+i, ow*s+j, c] / size^2
void lowerAvgPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Pool p = poolOf(n, x, &n);
  Value *inv = k.f32(1.0 / double(p.size * p.size));
  zero(k, n);
  forEachPoolTap(k, p, [&](Value *yi, Value *xi) {
    accumulateInto(k, &n, yi, k.b.CreateFMul(k.load(x, xi), inv));
  });
}

// dx[r, oh*s+i, ow*s+j, c] += dy[r,oh,ow,c] / size^2 for every i, j < size
void lowerAvgPool2DGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0];
  Pool p = poolOf(n, &n, dy);
  Value *inv = k.f32(1.0 / double(p.size * p.size));
  zero(k, n);
  forEachPoolTap(k, p, [&](Value *yi, Value *xi) {
    accumulateInto(k, &n, xi, k.b.CreateFMul(k.load(dy, yi), inv));
  });
}

//===--- Dropout ----------------------------------------------------------===//

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
  IRBuilder<> &b = k.b;
  double rate = dst.attr("rate");
  // The seed and salt fold to a constant; the step is only known at run time.
  uint64_t seed = uint64_t(int64_t(dst.attr("seed")));
  uint64_t salt = uint64_t(int64_t(dst.attr("salt")));
  Value *key = mix64(k, b.getInt64(seed));
  key = mix64(k, b.CreateAdd(key, b.getInt64(salt * kGolden)));
  key = mix64(k, b.CreateAdd(key, b.CreateMul(k.step, b.getInt64(kGolden))));
  // The top 24 bits m give u = m / 2^24, exact in float; u >= rate exactly
  // when m >= ceil(rate * 2^24).
  uint64_t threshold = uint64_t(std::ceil(rate * double(1 << 24)));
  Value *scale = k.f32(1.0 / (1.0 - rate));
  k.forEachElement(&dst, [&](Value *i) {
    Value *counter =
        b.CreateMul(b.CreateAdd(i, b.getInt64(1)), b.getInt64(kGolden));
    Value *bits = b.CreateLShr(mix64(k, b.CreateAdd(key, counter)), 40);
    Value *keep = b.CreateICmpUGE(bits, b.getInt64(threshold));
    Value *scaled = b.CreateFMul(k.load(src, i), scale);
    k.store(&dst, i, b.CreateSelect(keep, scaled, k.f32(0)));
  });
}

// y = x * keep / (1 - rate), keep = hash(seed, salt, step, index) >= rate
void lowerDropout(KernelEmitter &k, const Node &n) {
  applyDropoutMask(k, n, n.operands[0]);
}

// dx = dy * keep / (1 - rate), with the forward's mask
void lowerDropoutGrad(KernelEmitter &k, const Node &n) {
  applyDropoutMask(k, n, n.operands[0]);
}

} // namespace

void registerImageLowerings(LoweringTable &t) {
  auto set = [&](OpKind op, Lowering rule) { t[int(op)] = rule; };
  set(K::Conv2D, lowerConv2D);
  set(K::Conv2DGradInput, lowerConv2DGradInput);
  set(K::Conv2DGradFilter, lowerConv2DGradFilter);
  set(K::MaxPool2D, lowerMaxPool2D);
  set(K::MaxPool2DGrad, lowerMaxPool2DGrad);
  set(K::AvgPool2D, lowerAvgPool2D);
  set(K::AvgPool2DGrad, lowerAvgPool2DGrad);
  set(K::Dropout, lowerDropout);
  set(K::DropoutGrad, lowerDropoutGrad);
}

} // namespace sora::ir
