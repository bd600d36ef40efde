//===- ConvLowerings.cpp - Convolution and its input gradient -------------===//
//
// The convolution and its input gradient are register tiles of explicit
// vectors along the channels (the contiguous dimension of NHWC images),
// specialised to each layer's shapes: they keep a few output pixels times a
// few vectors of output channels in registers over the whole reduction (a
// transposed copy of the forward kernel puts the filters contiguous). Each
// value loaded feeds several multiply-adds, and the bias and activation
// after a convolution run on its registers (a fused epilogue). Padding is
// never read: the taps outside the image are left out of the code (at the
// edges of a row, whose positions are constants) or out of the loop bounds
// (the rows). The output rows are shared among the runtime's threads, each
// computed whole by one thread, so the sums do not depend on their number.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"

#include <llvm/IR/Intrinsics.h>

#include <optional>

namespace sora::ir::image {

namespace {

using namespace llvm;

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
  win.ih0 = subIdx(k, mulSigned(k, oh, cv.stride), k.i64(cv.padTop));
  win.iw0 = subIdx(k, mulSigned(k, ow, cv.stride), k.i64(cv.padLeft));
  // Tap kh is inside when 0 <= ih0 + kh < H.
  win.khLo = smax(k.i64(0), subIdx(k, k.i64(0), win.ih0));
  win.khHi = smin(k.i64(cv.kh), subIdx(k, k.i64(cv.in.h), win.ih0));
  win.kwLo = smax(k.i64(0), subIdx(k, k.i64(0), win.iw0));
  win.kwHi = smin(k.i64(cv.kw), subIdx(k, k.i64(cv.in.w), win.iw0));
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
  Value *ih = addSigned(k, win.ih0, kh);
  Value *kernelRow = addSigned(k, mulSigned(k, f, cv.kh), kh);
  // x0 is negative when iw0 is, but x0 + j never is: j >= kwLo * C.
  return {pixel(k, cv.in, r, ih, win.iw0),
          mulSigned(k, mulSigned(k, kernelRow, cv.kw), cv.in.c),
          mulSigned(k, win.kwLo, cv.in.c), mulSigned(k, win.kwHi, cv.in.c)};
}

/// Multiply-adds of one sample of a convolution (at most: every tap).
int64_t sampleWork(const Conv &cv) {
  return cv.out.h * cv.out.w * cv.out.c * cv.kh * cv.kw * cv.in.c;
}

/// for each output pixel (oh, ow) and filter f of sample r:
/// body(r, window, index of out[r, oh, ow, f], f)
void forEachOutputOfSample(KernelEmitter &k, const Conv &cv, Value *r,
                           const std::function<void(Value *, const Window &,
                                                    Value *, Value *)> &body) {
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
                  [&](Value *f) { body(r, win, addSigned(k, out, f), f); },
                  "f");
            },
            "ow");
      },
      "oh");
}

/// A convolution's input gradient scatters dy over the taps that produced
/// it: for every valid tap (image index xi, kernel index wi) of every output
/// element of sample r, accumulate(dy there, xi, wi).
void scatterConvGradient(
    KernelEmitter &k, const Conv &cv, const Node *dy, Value *r,
    const std::function<void(Value *, Value *, Value *)> &accumulate) {
  forEachOutputOfSample(k, cv, r,
                        [&](Value *r, const Window &win, Value *yi, Value *f) {
                          Value *g = k.load(dy, yi);
                          k.loop(
                              win.khLo, win.khHi,
                              [&](Value *kh) {
                                TapRun run = tapRun(k, cv, win, r, f, kh);
                                k.loop(
                                    run.lo, run.hi,
                                    [&](Value *j) {
                                      accumulate(g, addSigned(k, run.x0, j),
                                                 addSigned(k, run.w0, j));
                                    },
                                    "j");
                              },
                              "kh");
                        });
}

//===--- Forward convolution and its input gradient -----------------------===//

} // namespace

/// The nest's kernel for output channels [o0, oEnd) as bfloat16 pairs of
/// input channels: vector ((a kw + b) C/2 + i/2) V + v holds K(a, b, i, o)
/// and K(a, b, i + 1, o) for the V vectors of channels o from o0 (the
/// lanes past oEnd zero), built from `kernel` on the stack of the thread.
Value *packPairs(KernelEmitter &k, Vec &vec, const ConvNest &c, Value *kernel,
                 int64_t o0, int64_t oEnd) {
  Bf16 bf(vec);
  const int64_t L = vec.lanes, V = vec.vectors(oEnd - o0);
  const int64_t half = c.inImg.c / 2;
  Value *tile = bf.tile(c.kh * c.kw * half * V);
  k.loop(
      c.kh,
      [&](Value *a) {
        for (int64_t b = 0; b < c.kw; ++b)
          k.loop(
              half,
              [&](Value *ip) {
                Value *i = mulIdx(k, ip, 2);
                Value *tap = addIdx(
                    k, mulIdx(k, addIdx(k, mulIdx(k, a, c.kw), k.i64(b)), half),
                    ip);
                for (int64_t v = 0; v < V; ++v) {
                  int64_t used =
                      c.paddedRows ? L : std::min(L, oEnd - o0 - v * L);
                  auto at = [&](Value *channel) {
                    return vec.load(kernel,
                                    addSigned(k, c.row(k, a, b, channel),
                                              k.i64(o0 - c.channel0 + v * L)),
                                    used);
                  };
                  bf.store(tile, addIdx(k, mulIdx(k, tap, V), k.i64(v)),
                           bf.interleave(at(i), at(addIdx(k, i, k.i64(1)))));
                }
              },
              "ip");
      },
      "a");
  return tile;
}

namespace {

/// The taps of kernel row `a` for a register tile (convTile) from packed
/// bfloat16 pairs of channels (packPairs): the tile's vectors of output
/// channels are [first, first + vecs) of the V packed per tap.
Accs pairTaps(KernelEmitter &k, Vec &vec, const ConvNest &c, Value *packed,
              Value *a, Value *inRow, Value *firstCol,
              const std::function<bool(int64_t, int64_t)> &inside,
              int64_t pixels, int64_t first, int64_t V, int64_t vecs,
              const Accs &acc) {
  Bf16 bf(vec);
  const int64_t cin = c.inImg.c, half = cin / 2;
  Value *inBase = k.buffer(c.in);
  return k.reduce(
      k.i64(0), k.i64(half), acc,
      [&](Value *ip, const Accs &acc1) {
        Accs next = acc1;
        for (int64_t b = 0; b < c.kw; ++b) {
          bool any = false;
          for (int64_t p = 0; p < pixels; ++p)
            any |= inside(p, b);
          if (!any)
            continue;
          Value *tap = addIdx(
              k, mulIdx(k, addIdx(k, mulIdx(k, a, c.kw), k.i64(b)), half), ip);
          Value *row = addIdx(k, mulIdx(k, tap, V), k.i64(first));
          std::vector<Value *> kv;
          for (int64_t v = 0; v < vecs; ++v)
            kv.push_back(bf.load(packed, addIdx(k, row, k.i64(v))));
          for (int64_t p = 0; p < pixels; ++p) {
            if (!inside(p, b))
              continue;
            Value *col = addSigned(k, firstCol, k.i64(p * c.stride + b));
            Value *xi =
                addSigned(k, mulSigned(k, addSigned(k, inRow, col), cin),
                          mulIdx(k, ip, 2));
            Value *xs = bf.splatPair(inBase, xi);
            for (int64_t v = 0; v < vecs; ++v)
              next[p * vecs + v] = bf.dot(next[p * vecs + v], xs, kv[v]);
          }
        }
        return next;
      },
      "ip");
}

/// The register tile of `pixels` adjacent output pixels from column x0 of
/// output row y (sample r) and `vecs` vectors of output channels from
/// `oBase`: the reduction over the taps inside the image, then the stores.
/// `x0c` is x0 when it is a constant: taps that fall in the padding are then
/// known per pixel and left out of the code; otherwise every tap of every
/// pixel is inside the image (an interior tile).
void convTile(KernelEmitter &k, Vec &vec, const ConvNest &c, Value *kernel,
              Value *r, Value *y, Value *x0, std::optional<int64_t> x0c,
              int64_t pixels, int64_t o0, int64_t oBase, int64_t vecs,
              int64_t oEnd) {
  const int64_t L = vec.lanes, cin = c.inImg.c, s = c.stride;
  auto inside = [&](int64_t p, int64_t b) {
    if (!x0c)
      return true;
    int64_t col = (*x0c + p) * s + b - c.padX;
    return col >= 0 && col < c.inImg.w;
  };
  auto used = [&](int64_t v) {
    return std::min<int64_t>(L, oEnd - (oBase + v * L));
  };
  // Rows a of the kernel inside the image: 0 <= top + a < in.h.
  Value *top = subIdx(k, mulSigned(k, y, s), k.i64(c.padY));
  Value *aLo = smaxIdx(k, k.i64(0), subIdx(k, k.i64(0), top));
  Value *aHi = sminIdx(k, k.i64(c.kh), subIdx(k, k.i64(c.inImg.h), top));
  Value *firstCol = subIdx(k, mulSigned(k, x0, s), k.i64(c.padX));
  Value *inBase = k.buffer(c.in);
  Accs acc(pixels * vecs, vec.zero());
  acc = k.reduce(
      aLo, aHi, acc,
      [&](Value *a, const Accs &acc0) {
        // Index of in[r, top + a, 0, 0] (in pixels).
        Value *inRow = mulSigned(
            k, addSigned(k, mulSigned(k, r, c.inImg.h), addSigned(k, top, a)),
            c.inImg.w);
        if (c.bf16Pairs)
          return pairTaps(k, vec, c, kernel, a, inRow, firstCol, inside, pixels,
                          (oBase - o0) / L, vec.vectors(oEnd - o0), vecs, acc0);
        return k.reduce(
            k.i64(0), k.i64(cin), acc0,
            [&](Value *i, const Accs &acc1) {
              Accs next = acc1;
              for (int64_t b = 0; b < c.kw; ++b) {
                bool any = false;
                for (int64_t p = 0; p < pixels; ++p)
                  any |= inside(p, b);
                if (!any)
                  continue;
                Value *kRow =
                    addSigned(k, c.row(k, a, b, i), k.i64(oBase - c.channel0));
                std::vector<Value *> kv;
                for (int64_t v = 0; v < vecs; ++v)
                  kv.push_back(vec.load(kernel,
                                        addSigned(k, kRow, k.i64(v * L)),
                                        c.paddedRows ? L : used(v)));
                for (int64_t p = 0; p < pixels; ++p) {
                  if (!inside(p, b))
                    continue;
                  Value *col = addSigned(k, firstCol, k.i64(p * s + b));
                  Value *xi = addSigned(
                      k, mulSigned(k, addSigned(k, inRow, col), cin), i);
                  Value *xs = vec.splat(k.b.CreateAlignedLoad(
                      k.b.getFloatTy(), vec.at(inBase, xi), Align(4)));
                  for (int64_t v = 0; v < vecs; ++v)
                    next[p * vecs + v] = vec.fma(xs, kv[v], next[p * vecs + v]);
                }
              }
              return next;
            },
            "i");
      },
      "a");
  // Stores; a fused epilogue (bias, activation) runs on the registers,
  // told the first channel so that bias_add finds its biases (consecutive:
  // a vector never crosses the last channel).
  Value *outPixel =
      mulSigned(k, addSigned(k, mulSigned(k, r, c.outImg.h), y), c.outImg.w);
  for (int64_t p = 0; p < pixels; ++p) {
    Value *pixel = addSigned(k, addSigned(k, outPixel, x0), k.i64(p));
    for (int64_t v = 0; v < vecs; ++v) {
      int64_t channel = oBase + v * L;
      Value *index =
          addSigned(k, mulSigned(k, pixel, c.outImg.c), k.i64(channel));
      k.storeResult(*c.out, index, acc[p * vecs + v], k.i64(channel), used(v));
    }
  }
}

/// Emits `c` for the output channels [o0, oEnd): for each sample and output
/// row (shared among threads), the channels in groups of vectors and the
/// row in tiles of pixels (a tile and a group fill the accumulator budget).
/// Tiles whose taps all fall inside the image run in a loop; the others, at
/// the image's edges, are emitted one by one with their out-of-image taps
/// left out.
void emitVectorConvNest(KernelEmitter &k, const ConvNest &c, int64_t o0,
                        int64_t oEnd) {
  Vec outer(k);
  const int64_t L = outer.lanes, budget = accumulatorBudget(k);
  const int64_t groupVecs = std::min<int64_t>(outer.vectors(oEnd - o0), 4);
  // As many pixels as the budget allows, then evened out over the row's
  // tiles (14 columns in tiles of 5, 5, 4 rather than 6, 6, 2).
  const int64_t ow = c.outImg.w;
  int64_t pixels = std::min(std::max<int64_t>(budget / groupVecs, 1), ow);
  pixels = (ow + (ow + pixels - 1) / pixels - 1) / ((ow + pixels - 1) / pixels);
  const int64_t tiles = (ow + pixels - 1) / pixels;
  auto interior = [&](int64_t t) {
    int64_t x0 = t * pixels;
    return x0 + pixels <= ow && x0 * c.stride - c.padX >= 0 &&
           (x0 + pixels - 1) * c.stride + c.kw - 1 - c.padX < c.inImg.w;
  };
  int64_t first = 0;
  while (first < tiles && !interior(first))
    ++first;
  int64_t last = first;
  while (last < tiles && interior(last))
    ++last;
  const int64_t rowWork = ow * (oEnd - o0) * c.kh * c.kw * c.inImg.c;
  k.parallelRanges(
      mulIdx(k, k.n, c.outImg.h), mulIdx(k, k.n, c.outImg.h * rowWork),
      [&](KernelEmitter &e, Value *begin, Value *end) {
        Value *kernel = c.prepare(e);
        if (c.bf16Pairs) {
          Vec vec(e);
          kernel = packPairs(e, vec, c, kernel, o0, oEnd);
        }
        e.loop(
            begin, end,
            [&](Value *row) {
              Vec vec(e);
              Value *r = e.b.CreateUDiv(row, e.i64(c.outImg.h));
              Value *y = e.b.CreateURem(row, e.i64(c.outImg.h));
              for (int64_t oBase = o0; oBase < oEnd; oBase += groupVecs * L) {
                int64_t vecs =
                    std::min<int64_t>(groupVecs, vec.vectors(oEnd - oBase));
                auto edgeTile = [&](int64_t t) {
                  int64_t x0 = t * pixels;
                  convTile(e, vec, c, kernel, r, y, e.i64(x0), x0,
                           std::min(pixels, ow - x0), o0, oBase, vecs, oEnd);
                };
                for (int64_t t = 0; t < first; ++t)
                  edgeTile(t);
                if (last - first > 1)
                  e.loop(
                      e.i64(first), e.i64(last),
                      [&](Value *t) {
                        convTile(e, vec, c, kernel, r, y,
                                 mulSigned(e, t, pixels), std::nullopt, pixels,
                                 o0, oBase, vecs, oEnd);
                      },
                      "xt");
                else if (last - first == 1)
                  edgeTile(first);
                for (int64_t t = last; t < tiles; ++t)
                  edgeTile(t);
              }
            },
            "row");
      });
}

/// Emits `c` for the output channels [o0, oEnd): on AMX tiles where the
/// target has them, the nest fits them and the OS lets the process use
/// them (sora_amx_ready, asked at run time), else in vector registers.
void emitConvNest(KernelEmitter &k, const ConvNest &c, int64_t o0,
                  int64_t oEnd) {
  if (!amxConvNestFits(k, c, o0, oEnd)) {
    emitVectorConvNest(k, c, o0, oEnd);
    return;
  }
  ifAmxReady(
      k, [&] { emitAmxConvNest(k, c, o0, oEnd); },
      [&] { emitVectorConvNest(k, c, o0, oEnd); });
}

/// Floats of the largest transposed kernel copy kept on the stack; a
/// convolution with more weights transposes them in chunks of filters.
constexpr int64_t kMaxKernelTile = 64 * 1024;

// y[r,oh,ow,f] = sum_{kh,kw,c} x[r, oh*s+kh-pt, ow*s+kw-pl, c] w[f,kh,kw,c],
// one output element at a time, the samples shared among threads: the
// fallback for a kernel too large for one chunk of vectors of filters.
void lowerConv2DOneByOne(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, x, &n, w);
  k.parallelLoop(k.n, sampleWork(cv), [&](KernelEmitter &e, Value *sample) {
    forEachOutputOfSample(
        e, cv, sample, [&](Value *r, const Window &win, Value *yi, Value *f) {
          Value *sum = e.reduce(
              win.khLo, win.khHi, {e.f32(0)},
              [&](Value *kh, const std::vector<Value *> &acc) {
                TapRun run = tapRun(e, cv, win, r, f, kh);
                return e.reduce(
                    run.lo, run.hi, acc,
                    [&](Value *j, const std::vector<Value *> &a) {
                      Value *prod =
                          e.b.CreateFMul(e.load(x, addSigned(e, run.x0, j)),
                                         e.load(w, addSigned(e, run.w0, j)));
                      return std::vector<Value *>{e.b.CreateFAdd(a[0], prod)};
                    },
                    "j");
              },
              "kh")[0];
          e.storeResult(n, yi, sum, f);
        });
  });
}

} // namespace

// y[r,oh,ow,f] = sum_{kh,kw,c} x[r, oh*s+kh-pt, ow*s+kw-pl, c] w[f,kh,kw,c]
// (then the fused epilogue: bias, activation). The weights are first
// transposed to [kh, kw, C, F], filters padded to whole vectors with zeros,
// on the stack of each thread that runs the nest, so that each tap's
// filters load as vectors; each input value, broadcast, then feeds every
// filter of the tile.
void lowerConv2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, x, &n, w);
  Vec vec(k);
  const int64_t L = vec.lanes, filters = cv.out.c;
  const int64_t taps = cv.kh * cv.kw * cv.in.c;
  if (taps * L > kMaxKernelTile) {
    lowerConv2DOneByOne(k, n);
    return;
  }
  const int64_t chunk =
      std::min(vec.vectors(filters) * L, kMaxKernelTile / taps / L * L);
  for (int64_t f0 = 0; f0 < filters; f0 += chunk) {
    const int64_t count = std::min(chunk, filters - f0);
    const int64_t padded = vec.vectors(count) * L;
    // tile[t, f] = w[f0 + f, t] for the taps t = (kh, kw, c).
    auto transpose = [&, f0, count, padded](KernelEmitter &e) {
      Value *tile = e.tile(taps * chunk);
      e.loop(
          count,
          [&](Value *f) {
            Value *from = mulSigned(e, addSigned(e, f, e.i64(f0)), taps);
            e.loop(
                taps,
                [&](Value *t) {
                  e.storeTile(tile, addSigned(e, mulSigned(e, t, padded), f),
                              e.load(w, addSigned(e, from, t)));
                },
                "t");
          },
          "f");
      if (padded > count)
        e.loop(
            taps,
            [&](Value *t) {
              for (int64_t f = count; f < padded; ++f)
                e.storeTile(tile,
                            addSigned(e, mulSigned(e, t, padded), e.i64(f)),
                            e.f32(0));
            },
            "t");
      return tile;
    };
    ConvNest c{x,
               &n,
               cv.in,
               cv.out,
               cv.kh,
               cv.kw,
               cv.stride,
               cv.padTop,
               cv.padLeft,
               transpose,
               [&, padded](KernelEmitter &e, Value *a, int64_t b, Value *i) {
                 Value *tap = addSigned(
                     e,
                     mulSigned(e,
                               addSigned(e, mulSigned(e, a, cv.kw), e.i64(b)),
                               cv.in.c),
                     i);
                 return mulSigned(e, tap, padded);
               },
               f0,
               true,
               bf16Pairs(k, n) && cv.in.c % 2 == 0,
               bf16Operands(n)};
    emitConvNest(k, c, f0, f0 + count);
  }
}

// dx[r,ih,iw,c] = sum over (oh,ow,f,kh,kw) with ih = oh*s+kh-pt and
//                 iw = ow*s+kw-pl of dy[r,oh,ow,f] w[f,kh,kw,c]
// With stride 1 this is a convolution of dy, padded by kh-1-pt rows above
// (kw-1-pl columns left), with the kernel flipped and its channels and
// filters swapped: dx[r,ih,iw,c] = sum over a, b, f of
// dy[r, ih+a-(kh-1-pt), iw+b-(kw-1-pl), f] w[f, kh-1-a, kw-1-b, c], each tap
// a run of channels in w. Other strides scatter dy over the taps, the
// samples shared among threads (each sample's dx comes from its dy alone).
void lowerConv2DGradInput(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, &n, dy, w);
  if (cv.stride != 1) {
    const int64_t sampleFloats = cv.in.h * cv.in.w * cv.in.c;
    k.parallelLoop(k.n, sampleWork(cv), [&](KernelEmitter &e, Value *r) {
      Value *first = mulIdx(e, r, sampleFloats);
      e.loop(
          sampleFloats,
          [&](Value *i) { e.store(&n, addIdx(e, first, i), e.f32(0)); }, "i");
      scatterConvGradient(e, cv, dy, r, [&](Value *g, Value *xi, Value *wi) {
        accumulateInto(e, &n, xi, e.b.CreateFMul(g, e.load(w, wi)));
      });
    });
    return;
  }
  const int64_t kh = cv.kh, kw = cv.kw, channels = cv.in.c;
  ConvNest c{dy,
             &n,
             cv.out,
             cv.in,
             kh,
             kw,
             1,
             kh - 1 - cv.padTop,
             kw - 1 - cv.padLeft,
             [&](KernelEmitter &e) { return e.buffer(w); },
             [&](KernelEmitter &e, Value *a, int64_t b, Value *f) {
               // w[f, kh-1-a, kw-1-b, 0]
               Value *row = subIdx(e, e.i64(kh - 1), a);
               Value *tap = addSigned(
                   e, mulSigned(e, addSigned(e, mulSigned(e, f, kh), row), kw),
                   e.i64(kw - 1 - b));
               return mulSigned(e, tap, channels);
             },
             0,
             false,
             bf16Pairs(k, n) && cv.out.c % 2 == 0,
             bf16Operands(n)};
  emitConvNest(k, c, 0, channels);
}

} // namespace sora::ir::image
