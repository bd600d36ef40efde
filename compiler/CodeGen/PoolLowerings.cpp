//===- PoolLowerings.cpp - Max and average pooling and their gradients ----===//
//
// Pooling windows always fit (no padding); small windows are unrolled and
// run on vectors of channels, the contiguous dimension of NHWC images.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"

#include <limits>

namespace sora::ir::image {

namespace {

using namespace llvm;

/// A pooling window's geometry, `rows` by `cols`; `in` is the pooled image,
/// `out` the result.
struct Pool {
  Image in, out;
  int64_t rows, cols, stride;
  int64_t taps() const { return rows * cols; }
};
Pool poolOf(const Node &n, const Node *in, const Node *out) {
  return {imageOf(in), imageOf(out), n.attrs.size(), n.attrs.width(),
          n.attrs.stride()};
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
                    Value *ih = mulSigned(k, oh, p.stride),
                          *iw = mulSigned(k, ow, p.stride);
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
  return mulSigned(k, addSigned(k, mulSigned(k, i, img.w), j), img.c);
}

/// for each output element and each tap of its window, channels innermost:
/// body(index in out, index in in)
void forEachPoolTap(KernelEmitter &k, const Pool &p,
                    const std::function<void(Value *, Value *)> &body) {
  forEachWindow(k, p, [&](Value *out, Value *corner) {
    k.loop(
        p.rows,
        [&](Value *i) {
          k.loop(
              p.cols,
              [&](Value *j) {
                Value *tap = addSigned(k, corner, tapOffset(k, p.in, i, j));
                k.loop(
                    p.out.c,
                    [&](Value *c) {
                      body(addSigned(k, out, c), addSigned(k, tap, c));
                    },
                    "c");
              },
              "j");
        },
        "i");
  });
}

/// Windows of at most this many taps are unrolled: each output is then one
/// expression of its taps, computed on vectors of channels.
constexpr int64_t kUnrolledWindow = 16;

/// body(index of channel c, channels used) for the vectors of channels c =
/// 0, L, 2L, ... of a pixel with `channels` channels: unrolled for a few,
/// else a loop over the full vectors and one masked vector after it. (The
/// pooling loops are written with explicit vectors: LLVM's vectoriser would
/// guard each pixel's channel loop with overlap checks of its taps' rows,
/// which fail, and run it scalar.)
void forEachChannelVector(KernelEmitter &k, Vec &vec, int64_t channels,
                          const std::function<void(Value *, int64_t)> &body) {
  const int64_t L = vec.lanes, full = channels / L, rest = channels % L;
  if (full <= 4) {
    for (int64_t v = 0; v < full; ++v)
      body(k.i64(v * L), L);
  } else {
    k.loop(
        full, [&](Value *v) { body(mulSigned(k, v, L), L); }, "cv");
  }
  if (rest)
    body(k.i64(full * L), rest);
}

} // namespace

// y[r,oh,ow,c] = max_{i < rows, j < cols} x[r, oh*s+i, ow*s+j, c]
void lowerMaxPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Pool p = poolOf(n, x, &n);
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  if (p.taps() <= kUnrolledWindow) {
    Vec vec = imageVectors(k);
    forEachWindow(k, p, [&](Value *out, Value *corner) {
      forEachChannelVector(k, vec, p.out.c, [&](Value *c, int64_t used) {
        Value *first = addSigned(k, corner, c), *best = vec.splat(ninf);
        for (int64_t i = 0; i < p.rows; ++i)
          for (int64_t j = 0; j < p.cols; ++j) {
            Value *v = vec.load(
                k.buffer(x),
                addSigned(k, first, k.i64((i * p.in.w + j) * p.in.c)), used);
            best = k.b.CreateSelect(k.b.CreateFCmpOGT(v, best), v, best);
          }
        vec.store(k.buffer(&n), addSigned(k, out, c), best, used);
      });
    });
    return;
  }
  k.forEachElement(&n, [&](Value *i) { k.store(&n, i, ninf); });
  forEachPoolTap(k, p, [&](Value *yi, Value *xi) {
    Value *v = k.load(x, xi), *best = k.load(&n, yi);
    k.store(&n, yi, k.b.CreateSelect(k.b.CreateFCmpOGT(v, best), v, best));
  });
}

// dx[r, oh*s+i, ow*s+j, c] += dy[r,oh,ow,c] at the first (i, j), in
// row-major order, where x is the window's maximum (the one the forward's
// strict comparison keeps). Windows that do not overlap (stride >= size)
// write each of their pixels once, dy or 0, with no accumulation; pixels
// that no window covers are zeroed first.
void lowerMaxPool2DGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  Pool p = poolOf(n, x, dy);
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  // Windows overlap unless the stride covers them in both directions (a
  // one-row window may overlap along the row only: the rows never move).
  bool apart = (p.stride >= p.rows || p.out.h == 1) &&
               (p.stride >= p.cols || p.out.w == 1);
  if (apart && p.taps() <= kUnrolledWindow) {
    bool gaps = (p.out.h > 1 && p.stride > p.rows) ||
                (p.out.w > 1 && p.stride > p.cols) ||
                (p.out.h - 1) * p.stride + p.rows < p.in.h ||
                (p.out.w - 1) * p.stride + p.cols < p.in.w;
    if (gaps)
      zero(k, n);
    Vec vec = imageVectors(k);
    auto *intType = FixedVectorType::get(k.b.getInt32Ty(), unsigned(vec.lanes));
    auto tapNumber = [&](int64_t t) {
      return ConstantInt::get(intType, uint64_t(t));
    };
    forEachWindow(k, p, [&](Value *out, Value *corner) {
      forEachChannelVector(k, vec, p.out.c, [&](Value *c, int64_t used) {
        Value *first = addSigned(k, corner, c), *best = vec.splat(ninf);
        Value *argmax = tapNumber(0);
        std::vector<Value *> taps;
        for (int64_t i = 0; i < p.rows; ++i)
          for (int64_t j = 0; j < p.cols; ++j) {
            Value *xi = addSigned(k, first, k.i64((i * p.in.w + j) * p.in.c));
            Value *v = vec.load(k.buffer(x), xi, used);
            Value *better = k.b.CreateFCmpOGT(v, best);
            best = k.b.CreateSelect(better, v, best);
            argmax = k.b.CreateSelect(better, tapNumber(int64_t(taps.size())),
                                      argmax);
            taps.push_back(xi);
          }
        Value *g = vec.load(k.buffer(dy), addSigned(k, out, c), used);
        for (size_t t = 0; t < taps.size(); ++t)
          vec.store(
              k.buffer(&n), taps[t],
              k.b.CreateSelect(k.b.CreateICmpEQ(argmax, tapNumber(int64_t(t))),
                               g, vec.zero()),
              used);
      });
    });
    return;
  }
  zero(k, n);
  forEachWindow(k, p, [&](Value *out, Value *corner) {
    k.loop(
        p.out.c,
        [&](Value *c) {
          Value *first = addSigned(k, corner, c);
          // (best value, its index) over the taps in row-major order.
          std::vector<Value *> best = {ninf, first};
          best = k.reduce(
              k.i64(0), k.i64(p.rows), best,
              [&](Value *i, const std::vector<Value *> &acc) {
                return k.reduce(
                    k.i64(0), k.i64(p.cols), acc,
                    [&](Value *j, const std::vector<Value *> &a) {
                      Value *xi = addSigned(k, first, tapOffset(k, p.in, i, j));
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
          accumulateInto(k, &n, argmax, k.load(dy, addSigned(k, out, c)));
        },
        "c");
  });
}

// y[r,oh,ow,c] = sum_{i < rows, j < cols} x[r, oh*s+i, ow*s+j, c] / taps
void lowerAvgPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Pool p = poolOf(n, x, &n);
  Value *inv = k.f32(1.0 / double(p.taps()));
  zero(k, n);
  forEachPoolTap(k, p, [&](Value *yi, Value *xi) {
    accumulateInto(k, &n, yi, k.b.CreateFMul(k.load(x, xi), inv));
  });
}

// dx[r, oh*s+i, ow*s+j, c] += dy[r,oh,ow,c] / taps for every tap (i, j)
void lowerAvgPool2DGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0];
  Pool p = poolOf(n, &n, dy);
  Value *inv = k.f32(1.0 / double(p.taps()));
  zero(k, n);
  forEachPoolTap(k, p, [&](Value *yi, Value *xi) {
    accumulateInto(k, &n, xi, k.b.CreateFMul(k.load(dy, yi), inv));
  });
}

} // namespace sora::ir::image
