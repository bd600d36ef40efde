//===- PoolLowerings.cpp - Max and average pooling and their gradients ----===//
//
// Pooling windows always fit (no padding); small windows are unrolled and
// run on vectors of channels, the contiguous dimension of NHWC images. The
// samples are shared among the runtime's threads: a sample's windows read
// and write that sample only, so no sum is split.
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

/// body(e, r) for each sample r, the samples shared among threads: each
/// sample's windows read and write that sample only.
void forEachSample(KernelEmitter &k, const Pool &p,
                   const std::function<void(KernelEmitter &, Value *)> &body) {
  k.parallelLoop(k.n, p.out.h * p.out.w * p.out.c * p.taps(), body);
}

/// dst[r, ...] = value for every element of sample r of `dst`.
void fillSample(KernelEmitter &k, const Node &dst, Value *r, Value *value) {
  const int64_t floats = dst.type.elements();
  Value *first = mulIdx(k, r, floats);
  k.loop(
      floats, [&](Value *i) { k.store(&dst, addIdx(k, first, i), value); },
      "i");
}

/// for each output pixel (oh, ow) of sample r:
/// body(index of out[r, oh, ow, 0], index of in[r, oh*s, ow*s, 0])
void forEachWindow(KernelEmitter &k, const Pool &p, Value *r,
                   const std::function<void(Value *, Value *)> &body) {
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
}

/// Index offset of window tap (i, j) from the window's corner in `img`.
Value *tapOffset(KernelEmitter &k, const Image &img, Value *i, Value *j) {
  return mulSigned(k, addSigned(k, mulSigned(k, i, img.w), j), img.c);
}

/// for each output element of sample r and each tap of its window,
/// channels innermost: body(index in out, index in in)
void forEachPoolTap(KernelEmitter &k, const Pool &p, Value *r,
                    const std::function<void(Value *, Value *)> &body) {
  forEachWindow(k, p, r, [&](Value *out, Value *corner) {
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

// y[r,oh,ow,c] = max_{i < rows, j < cols} x[r, oh*s+i, ow*s+j, c], on
// vectors of channels, the taps in row-major order (unrolled when few). Each
// output is stored once, through a fused epilogue if any (the rounding of
// `precision = bf16`, a reshape), so the pooled image need not be written.
void lowerMaxPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Pool p = poolOf(n, x, &n);
  forEachSample(k, p, [&](KernelEmitter &e, Value *r) {
    Vec vec(e);
    Value *xBase = e.buffer(x);
    forEachWindow(e, p, r, [&](Value *out, Value *corner) {
      forEachChannelVector(e, vec, p.out.c, [&](Value *c, int64_t used) {
        Value *first = addSigned(e, corner, c);
        auto tap = [&](Value *offset, Value *best) {
          Value *v = vec.load(xBase, addSigned(e, first, offset), used);
          return e.b.CreateSelect(e.b.CreateFCmpOGT(v, best), v, best);
        };
        Value *best = vec.splat(e.f32(-std::numeric_limits<float>::infinity()));
        if (p.taps() <= kUnrolledWindow) {
          for (int64_t i = 0; i < p.rows; ++i)
            for (int64_t j = 0; j < p.cols; ++j)
              best = tap(e.i64((i * p.in.w + j) * p.in.c), best);
        } else {
          best = e.reduce(
              e.i64(0), e.i64(p.rows), {best},
              [&](Value *i, const Accs &a) {
                return e.reduce(
                    e.i64(0), e.i64(p.cols), a,
                    [&](Value *j, const Accs &b) {
                      return Accs{tap(tapOffset(e, p.in, i, j), b[0])};
                    },
                    "j");
              },
              "i")[0];
        }
        e.storeResult(n, addSigned(e, out, c), best, c, used);
      });
    });
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
  // Windows overlap unless the stride covers them in both directions (a
  // one-row window may overlap along the row only: the rows never move).
  bool apart = (p.stride >= p.rows || p.out.h == 1) &&
               (p.stride >= p.cols || p.out.w == 1);
  forEachSample(k, p, [&](KernelEmitter &e, Value *r) {
    Value *ninf = e.f32(-std::numeric_limits<float>::infinity());
    // A fused epilogue (fusion checked that the windows tile the image)
    // takes each element as it is stored: this path stores every one.
    if (apart && (p.taps() <= kUnrolledWindow || k.hasEpilogue(n))) {
      bool gaps = (p.out.h > 1 && p.stride > p.rows) ||
                  (p.out.w > 1 && p.stride > p.cols) ||
                  (p.out.h - 1) * p.stride + p.rows < p.in.h ||
                  (p.out.w - 1) * p.stride + p.cols < p.in.w;
      if (gaps)
        fillSample(e, n, r, e.f32(0));
      Vec vec(e);
      auto *intType =
          FixedVectorType::get(e.b.getInt32Ty(), unsigned(vec.lanes));
      auto tapNumber = [&](int64_t t) {
        return ConstantInt::get(intType, uint64_t(t));
      };
      forEachWindow(e, p, r, [&](Value *out, Value *corner) {
        forEachChannelVector(e, vec, p.out.c, [&](Value *c, int64_t used) {
          Value *first = addSigned(e, corner, c), *best = vec.splat(ninf);
          Value *argmax = tapNumber(0);
          std::vector<Value *> taps;
          for (int64_t i = 0; i < p.rows; ++i)
            for (int64_t j = 0; j < p.cols; ++j) {
              Value *xi = addSigned(e, first, e.i64((i * p.in.w + j) * p.in.c));
              Value *v = vec.load(e.buffer(x), xi, used);
              Value *better = e.b.CreateFCmpOGT(v, best);
              best = e.b.CreateSelect(better, v, best);
              argmax = e.b.CreateSelect(better, tapNumber(int64_t(taps.size())),
                                        argmax);
              taps.push_back(xi);
            }
          Value *g = vec.load(e.buffer(dy), addSigned(e, out, c), used);
          for (size_t t = 0; t < taps.size(); ++t)
            e.storeResult(n, taps[t],
                          e.b.CreateSelect(
                              e.b.CreateICmpEQ(argmax, tapNumber(int64_t(t))),
                              g, vec.zero()),
                          c, used);
        });
      });
      return;
    }
    fillSample(e, n, r, e.f32(0));
    forEachWindow(e, p, r, [&](Value *out, Value *corner) {
      e.loop(
          p.out.c,
          [&](Value *c) {
            Value *first = addSigned(e, corner, c);
            // (best value, its index) over the taps in row-major order.
            std::vector<Value *> best = {ninf, first};
            best = e.reduce(
                e.i64(0), e.i64(p.rows), best,
                [&](Value *i, const std::vector<Value *> &acc) {
                  return e.reduce(
                      e.i64(0), e.i64(p.cols), acc,
                      [&](Value *j, const std::vector<Value *> &a) {
                        Value *xi =
                            addSigned(e, first, tapOffset(e, p.in, i, j));
                        Value *v = e.load(x, xi);
                        Value *better = e.b.CreateFCmpOGT(v, a[0]);
                        return std::vector<Value *>{
                            e.b.CreateSelect(better, v, a[0]),
                            e.b.CreateSelect(better, xi, a[1])};
                      },
                      "j");
                },
                "i");
            Value *argmax = best[1];
            accumulateInto(e, &n, argmax, e.load(dy, addSigned(e, out, c)));
          },
          "c");
    });
  });
}

// y[r,oh,ow,c] = sum_{i < rows, j < cols} x[r, oh*s+i, ow*s+j, c] / taps
void lowerAvgPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Pool p = poolOf(n, x, &n);
  forEachSample(k, p, [&](KernelEmitter &e, Value *r) {
    Value *inv = e.f32(1.0 / double(p.taps()));
    fillSample(e, n, r, e.f32(0));
    forEachPoolTap(e, p, r, [&](Value *yi, Value *xi) {
      accumulateInto(e, &n, yi, e.b.CreateFMul(e.load(x, xi), inv));
    });
  });
}

// dx[r, oh*s+i, ow*s+j, c] += dy[r,oh,ow,c] / taps for every tap (i, j)
void lowerAvgPool2DGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0];
  Pool p = poolOf(n, &n, dy);
  forEachSample(k, p, [&](KernelEmitter &e, Value *r) {
    Value *inv = e.f32(1.0 / double(p.taps()));
    fillSample(e, n, r, e.f32(0));
    forEachPoolTap(e, p, r, [&](Value *yi, Value *xi) {
      accumulateInto(e, &n, xi, e.b.CreateFMul(e.load(dy, yi), inv));
    });
  });
}

} // namespace sora::ir::image
