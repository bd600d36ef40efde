//===- ImageLowerings.cpp - Convolution, pooling and dropout loops
//---------===//
//
// Images are [?, H, W, C] row-major and conv kernels [F, kh, kw, C]. The
// convolutions and their gradients are register tiles of explicit vectors
// along the channels (the contiguous dimension of NHWC images), specialised
// to each layer's shapes: the forward pass and the stride-1 input gradient
// keep a few output pixels times a few vectors of output channels in
// registers over the whole reduction (a transposed copy of the forward
// kernel puts the filters contiguous); the filter gradient keeps a block of
// (tap, channel, filter) sums in registers over the pixels of a block of
// samples. Each value loaded feeds several multiply-adds, and the bias and
// activation after a convolution run on its registers (a fused epilogue).
// Padding is never read: the taps outside the image are left out of the
// code (at the edges of a row, whose positions are constants) or out of the
// loop bounds (the rows, and each tap's rectangle of output pixels).
// Pooling windows always fit; pooling runs on vectors of channels.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"

#include <llvm/IR/Intrinsics.h>

#include <cmath>
#include <limits>
#include <optional>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

// Window positions may lie in the padding (negative), so index arithmetic is
// signed: nsw, never nuw.
Value *mulSigned(KernelEmitter &k, Value *a, int64_t c) {
  return k.b.CreateMul(a, k.i64(c), "", false, true);
}
Value *addSigned(KernelEmitter &k, Value *a, Value *b) {
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
  Value *row = addSigned(k, mulSigned(k, r, img.h), y);
  return mulSigned(k, addSigned(k, mulSigned(k, row, img.w), x), img.c);
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
          n.attrs.stride(),
          n.attrs.padTop(),
          n.attrs.padLeft()};
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
  win.ih0 = subIdx(k, mulSigned(k, oh, cv.stride), k.i64(cv.padTop));
  win.iw0 = subIdx(k, mulSigned(k, ow, cv.stride), k.i64(cv.padLeft));
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
  Value *ih = addSigned(k, win.ih0, kh);
  Value *kernelRow = addSigned(k, mulSigned(k, f, cv.kernel), kh);
  // x0 is negative when iw0 is, but x0 + j never is: j >= kwLo * C.
  return {pixel(k, cv.in, r, ih, win.iw0),
          mulSigned(k, mulSigned(k, kernelRow, cv.kernel), cv.in.c),
          mulSigned(k, win.kwLo, cv.in.c), mulSigned(k, win.kwHi, cv.in.c)};
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
                        [&](Value *f) {
                          body(r, win, addSigned(k, out, f), f);
                        },
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
                accumulate(g, addSigned(k, run.x0, j), addSigned(k, run.w0, j));
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

Value *smaxIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateBinaryIntrinsic(Intrinsic::smax, a, b);
}
Value *sminIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateBinaryIntrinsic(Intrinsic::smin, a, b);
}

//===--- Register tiles of explicit vectors -------------------------------===//
//
// The fast convolutions are built from explicit LLVM vectors rather than
// left to the loop vectoriser, which only vectorises innermost loops: a
// register tile keeps a block of outputs in vector accumulators across a
// whole reduction, so that each value loaded feeds several multiply-adds
// (like the blocked matmul_nt), and the vectors run along the channels,
// which are contiguous in NHWC images and in the layout each loop reads its
// kernel from. A vector whose channels run past the end of a row has its
// spare lanes masked off: never loaded, never stored.

/// How many vector accumulators one tile may hold: most of the register
/// file (32 zmm registers with AVX-512, 16 ymm or xmm registers below it),
/// the rest left for the operands.
int64_t accumulatorBudget(const KernelEmitter &k) {
  return k.vectorWidth >= 16 ? 24 : 12;
}

/// Vector operations on the kernel's float buffers.
struct Vec {
  KernelEmitter &k;
  int64_t lanes;
  FixedVectorType *type;

  explicit Vec(KernelEmitter &k)
      : k(k), lanes(k.vectorWidth),
        type(FixedVectorType::get(k.b.getFloatTy(), unsigned(lanes))) {
    // Keep 512-bit vectors whole even where the CPU's tuning prefers 256
    // bits for the loop vectoriser.
    if (lanes == 16)
      k.b.GetInsertBlock()->getParent()->addFnAttr("min-legal-vector-width",
                                                   "512");
  }

  /// How many vectors `count` floats take.
  int64_t vectors(int64_t count) const { return (count + lanes - 1) / lanes; }
  Value *zero() const { return Constant::getNullValue(type); }
  Value *splat(Value *s) { return k.b.CreateVectorSplat(unsigned(lanes), s); }
  Value *fma(Value *a, Value *b, Value *acc) {
    return k.call(Intrinsic::fmuladd, {a, b, acc});
  }
  Value *lane(Value *v, int64_t i) { return k.b.CreateExtractElement(v, i); }
  Value *mask(int64_t used) {
    std::vector<Constant *> bits;
    for (int64_t i = 0; i < lanes; ++i)
      bits.push_back(k.b.getInt1(i < used));
    return ConstantVector::get(bits);
  }
  Value *at(Value *base, Value *index) {
    return k.b.CreateInBoundsGEP(k.b.getFloatTy(), base, index);
  }
  /// The `used` floats at base[index..] (the lanes after them are 0).
  Value *load(Value *base, Value *index, int64_t used) {
    if (used >= lanes)
      return k.b.CreateAlignedLoad(type, at(base, index), Align(4));
    return k.b.CreateMaskedLoad(type, at(base, index), Align(4), mask(used),
                                zero());
  }
  /// Stores the `used` first lanes of `v` at base[index..].
  void store(Value *base, Value *index, Value *v, int64_t used) {
    if (used >= lanes)
      k.b.CreateAlignedStore(v, at(base, index), Align(4));
    else
      k.b.CreateMaskedStore(v, at(base, index), Align(4), mask(used));
  }
};

/// Vector accumulators carried through k.reduce.
using Accs = std::vector<Value *>;

//===--- Forward convolution and its input gradient -----------------------===//

/// A convolution-shaped loop nest over every element of `out`:
///   out[r, y, x, o] = sum over a, b < k and i < in.c of
///                     in[r, y*s + a - padY, x*s + b - padX, i] * K(a, b, i, o)
/// the taps that fall outside `in` left out, with K(a, b, i, o) the float
/// kernel[row(a, b, i) + o - channel0]. The forward convolution reads its
/// kernel from a transposed copy ([kh, kw, C, F]: filters contiguous); the
/// input gradient of a stride-1 convolution is the same nest over dy with
/// the kernel flipped, read from w itself ([F, kh, kw, C]: channels
/// contiguous).
struct ConvNest {
  const Node *in, *out;
  Image inImg, outImg;
  int64_t k, stride, padY, padX;
  Value *kernel;
  std::function<Value *(Value *a, int64_t b, Value *i)> row;
  int64_t channel0;
  bool paddedRows; ///< every row holds whole vectors (no masked loads)
};

/// The register tile of `pixels` adjacent output pixels from column x0 of
/// output row y (sample r) and `vecs` vectors of output channels from
/// `oBase`: the reduction over the taps inside the image, then the stores.
/// `x0c` is x0 when it is a constant: taps that fall in the padding are then
/// known per pixel and left out of the code; otherwise every tap of every
/// pixel is inside the image (an interior tile).
void convTile(KernelEmitter &k, Vec &vec, const ConvNest &c, Value *r, Value *y,
              Value *x0, std::optional<int64_t> x0c, int64_t pixels,
              int64_t oBase, int64_t vecs, int64_t oEnd) {
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
  Value *aHi = sminIdx(k, k.i64(c.k), subIdx(k, k.i64(c.inImg.h), top));
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
        return k.reduce(
            k.i64(0), k.i64(cin), acc0,
            [&](Value *i, const Accs &acc1) {
              Accs next = acc1;
              for (int64_t b = 0; b < c.k; ++b) {
                bool any = false;
                for (int64_t p = 0; p < pixels; ++p)
                  any |= inside(p, b);
                if (!any)
                  continue;
                Value *kRow =
                    addSigned(k, c.row(a, b, i), k.i64(oBase - c.channel0));
                std::vector<Value *> kv;
                for (int64_t v = 0; v < vecs; ++v)
                  kv.push_back(vec.load(c.kernel,
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
  // Stores; a fused epilogue (bias, activation) runs lane by lane on the
  // registers, told the channel so that bias_add finds its bias (any index
  // congruent to the channel modulo the channels would do).
  Value *outPixel =
      mulSigned(k, addSigned(k, mulSigned(k, r, c.outImg.h), y), c.outImg.w);
  for (int64_t p = 0; p < pixels; ++p) {
    Value *pixel = addSigned(k, addSigned(k, outPixel, x0), k.i64(p));
    for (int64_t v = 0; v < vecs; ++v) {
      int64_t channel = oBase + v * L;
      Value *index =
          addSigned(k, mulSigned(k, pixel, c.outImg.c), k.i64(channel));
      Value *value = acc[p * vecs + v];
      if (k.hasEpilogue(*c.out)) {
        for (int64_t j = 0; j < used(v); ++j)
          k.storeResult(*c.out, addSigned(k, index, k.i64(j)),
                        vec.lane(value, j), k.i64(channel + j));
      } else {
        vec.store(k.buffer(c.out), index, value, used(v));
      }
    }
  }
}

/// Emits `c` for the output channels [o0, oEnd): for each sample and output
/// row, the channels in groups of vectors and the row in tiles of pixels
/// (a tile and a group fill the accumulator budget). Tiles whose taps all
/// fall inside the image run in a loop; the others, at the image's edges,
/// are emitted one by one with their out-of-image taps left out.
void emitConvNest(KernelEmitter &k, Vec &vec, const ConvNest &c, int64_t o0,
                  int64_t oEnd) {
  const int64_t L = vec.lanes, budget = accumulatorBudget(k);
  const int64_t groupVecs = std::min<int64_t>(vec.vectors(oEnd - o0), 4);
  // As many pixels as the budget allows, then evened out over the row's
  // tiles (14 columns in tiles of 5, 5, 4 rather than 6, 6, 2).
  const int64_t ow = c.outImg.w;
  int64_t pixels = std::min(std::max<int64_t>(budget / groupVecs, 1), ow);
  pixels = (ow + (ow + pixels - 1) / pixels - 1) / ((ow + pixels - 1) / pixels);
  const int64_t tiles = (ow + pixels - 1) / pixels;
  auto interior = [&](int64_t t) {
    int64_t x0 = t * pixels;
    return x0 + pixels <= ow && x0 * c.stride - c.padX >= 0 &&
           (x0 + pixels - 1) * c.stride + c.k - 1 - c.padX < c.inImg.w;
  };
  int64_t first = 0;
  while (first < tiles && !interior(first))
    ++first;
  int64_t last = first;
  while (last < tiles && interior(last))
    ++last;
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        k.loop(
            c.outImg.h,
            [&](Value *y) {
              for (int64_t oBase = o0; oBase < oEnd; oBase += groupVecs * L) {
                int64_t vecs =
                    std::min<int64_t>(groupVecs, vec.vectors(oEnd - oBase));
                auto edgeTile = [&](int64_t t) {
                  int64_t x0 = t * pixels;
                  convTile(k, vec, c, r, y, k.i64(x0), x0,
                           std::min(pixels, ow - x0), oBase, vecs, oEnd);
                };
                for (int64_t t = 0; t < first; ++t)
                  edgeTile(t);
                if (last - first > 1)
                  k.loop(
                      k.i64(first), k.i64(last),
                      [&](Value *t) {
                        convTile(k, vec, c, r, y, mulSigned(k, t, pixels),
                                 std::nullopt, pixels, oBase, vecs, oEnd);
                      },
                      "xt");
                else if (last - first == 1)
                  edgeTile(first);
                for (int64_t t = last; t < tiles; ++t)
                  edgeTile(t);
              }
            },
            "y");
      },
      "row");
}

/// Floats of the largest transposed kernel copy kept on the stack; a
/// convolution with more weights transposes them in chunks of filters.
constexpr int64_t kMaxKernelTile = 64 * 1024;

// y[r,oh,ow,f] = sum_{kh,kw,c} x[r, oh*s+kh-pt, ow*s+kw-pl, c] w[f,kh,kw,c],
// one output element at a time: the fallback for a kernel too large for
// one chunk of vectors of filters.
void lowerConv2DOneByOne(KernelEmitter &k, const Node &n) {
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
                Value *prod =
                    k.b.CreateFMul(k.load(x, addSigned(k, run.x0, j)),
                                   k.load(w, addSigned(k, run.w0, j)));
                return std::vector<Value *>{k.b.CreateFAdd(a[0], prod)};
              },
              "j");
        },
        "kh")[0];
    k.storeResult(n, yi, sum, f);
  });
}

// y[r,oh,ow,f] = sum_{kh,kw,c} x[r, oh*s+kh-pt, ow*s+kw-pl, c] w[f,kh,kw,c]
// (then the fused epilogue: bias, activation). The weights are first
// transposed to [kh, kw, C, F] on the stack, filters padded to whole vectors
// with zeros, so that each tap's filters load as vectors; each input value,
// broadcast, then feeds every filter of the tile.
void lowerConv2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, x, &n, w->type.dims[1]);
  Vec vec(k);
  const int64_t L = vec.lanes, filters = cv.out.c;
  const int64_t taps = cv.kernel * cv.kernel * cv.in.c;
  if (taps * L > kMaxKernelTile) {
    lowerConv2DOneByOne(k, n);
    return;
  }
  int64_t chunk =
      std::min(vec.vectors(filters) * L, kMaxKernelTile / taps / L * L);
  Value *tile = k.tile(taps * chunk);
  for (int64_t f0 = 0; f0 < filters; f0 += chunk) {
    const int64_t count = std::min(chunk, filters - f0);
    const int64_t padded = vec.vectors(count) * L;
    // tile[t, f] = w[f0 + f, t] for the taps t = (kh, kw, c).
    k.loop(
        count,
        [&](Value *f) {
          Value *from = mulSigned(k, addSigned(k, f, k.i64(f0)), taps);
          k.loop(
              taps,
              [&](Value *t) {
                k.storeTile(tile, addSigned(k, mulSigned(k, t, padded), f),
                            k.load(w, addSigned(k, from, t)));
              },
              "t");
        },
        "f");
    if (padded > count)
      k.loop(
          taps,
          [&](Value *t) {
            for (int64_t f = count; f < padded; ++f)
              k.storeTile(tile, addSigned(k, mulSigned(k, t, padded), k.i64(f)),
                          k.f32(0));
          },
          "t");
    ConvNest c{
        x,
        &n,
        cv.in,
        cv.out,
        cv.kernel,
        cv.stride,
        cv.padTop,
        cv.padLeft,
        tile,
        [&, padded](Value *a, int64_t b, Value *i) {
          Value *tap = addSigned(
              k,
              mulSigned(k, addSigned(k, mulSigned(k, a, cv.kernel), k.i64(b)),
                        cv.in.c),
              i);
          return mulSigned(k, tap, padded);
        },
        f0,
        true};
    emitConvNest(k, vec, c, f0, f0 + count);
  }
}

// dx[r,ih,iw,c] = sum over (oh,ow,f,kh,kw) with ih = oh*s+kh-pt and
//                 iw = ow*s+kw-pl of dy[r,oh,ow,f] w[f,kh,kw,c]
// With stride 1 this is a convolution of dy, padded by k-1-pt rows above
// (k-1-pl columns left), with the kernel flipped and its channels and
// filters swapped: dx[r,ih,iw,c] = sum over a, b, f of
// dy[r, ih+a-(k-1-pt), iw+b-(k-1-pl), f] w[f, k-1-a, k-1-b, c], each tap
// a run of channels in w. Other strides scatter dy over the taps.
void lowerConv2DGradInput(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *w = n.operands[1];
  Conv cv = convOf(n, &n, dy, w->type.dims[1]);
  if (cv.stride != 1) {
    zero(k, n);
    scatterConvGradient(k, cv, dy, [&](Value *g, Value *xi, Value *wi) {
      accumulateInto(k, &n, xi, k.b.CreateFMul(g, k.load(w, wi)));
    });
    return;
  }
  Vec vec(k);
  const int64_t kk = cv.kernel, channels = cv.in.c;
  ConvNest c{dy,
             &n,
             cv.out,
             cv.in,
             kk,
             1,
             kk - 1 - cv.padTop,
             kk - 1 - cv.padLeft,
             k.buffer(w),
             [&](Value *a, int64_t b, Value *f) {
               // w[f, k-1-a, k-1-b, 0]
               Value *kh = subIdx(k, k.i64(kk - 1), a);
               Value *tap = addSigned(
                   k, mulSigned(k, addSigned(k, mulSigned(k, f, kk), kh), kk),
                   k.i64(kk - 1 - b));
               return mulSigned(k, tap, channels);
             },
             0,
             false};
  emitConvNest(k, vec, c, 0, channels);
}

//===--- Filter gradient --------------------------------------------------===//
//
// dw[f,a,b,c], the sum over r, oh, ow of dy[r,oh,ow,f] x[r,oh*s+a-pt,
// ow*s+b-pl,c], is a reduction over every output pixel of the batch. A
// register tile holds a block of these sums for one tap (a, b), or for all
// the taps of a small kernel over few channels: a few filters times a few
// vectors of channels when there are a vector of channels or more (x loads
// as vectors, dy is broadcast), else a few channels times a few vectors of
// filters (dy loads as vectors, x is broadcast). For each tap the output
// pixels whose input lies inside the image form a rectangle, so nothing is
// clipped inside the loops: a tile of one tap runs over its rectangle; a
// tile of all the taps runs over the rectangle common to them, then each
// tap over what is left of its own.

/// The output pixels [lo, hi) along one axis whose tap `a` reads inside an
/// input of `in` pixels: 0 <= o*s + a - pad < in.
std::pair<int64_t, int64_t> tapRange(int64_t a, int64_t pad, int64_t s,
                                     int64_t in, int64_t out) {
  int64_t lo = pad > a ? (pad - a + s - 1) / s : 0;
  int64_t last = in - 1 + pad - a; // largest o*s allowed
  int64_t hi = last < 0 ? 0 : std::min(out, last / s + 1);
  return {lo, std::max(lo, hi)};
}

/// The same range for a tap known at run time.
std::pair<Value *, Value *> tapRange(KernelEmitter &k, Value *a, int64_t pad,
                                     int64_t s, int64_t in, int64_t out) {
  Value *before = smaxIdx(k, subIdx(k, k.i64(pad), a), k.i64(0));
  Value *lo = k.b.CreateUDiv(addSigned(k, before, k.i64(s - 1)), k.i64(s));
  Value *last = smaxIdx(k, subIdx(k, k.i64(in - 1 + pad), a), k.i64(-1));
  Value *hi = sminIdx(k, k.i64(out),
                      k.b.CreateUDiv(addSigned(k, last, k.i64(s)), k.i64(s)));
  return {lo, smaxIdx(k, lo, hi)};
}

/// A filter-gradient register tile: taps (a, b), the channels [c0, c0 +
/// channels) of each, and `vecs` vectors of filters from fBase.
struct FilterTile {
  std::vector<std::pair<Value *, Value *>> taps;
  Value *c0;
  int64_t channels, fBase, vecs;
  int64_t slot(size_t tap, int64_t c, int64_t v) const {
    return (int64_t(tap) * channels + c) * vecs + v;
  }
};

/// Adds dy[r,oh,ow,f] x[r, oh*s+a-pt, ow*s+b-pl, c] over the samples
/// [r0, r1) and the output pixels [ohLo, ohHi) x [owLo, owHi) to the
/// accumulators of the tile's taps listed in `which`.
Accs accumulateFilterTile(KernelEmitter &k, Vec &vec, const Conv &cv,
                          const Node *dy, const Node *x, const FilterTile &t,
                          const std::vector<size_t> &which, Value *r0,
                          Value *r1, Value *ohLo, Value *ohHi, Value *owLo,
                          Value *owHi, Accs acc) {
  const int64_t L = vec.lanes, filters = cv.out.c;
  Accs sub;
  for (size_t tap : which)
    for (int64_t c = 0; c < t.channels; ++c)
      for (int64_t v = 0; v < t.vecs; ++v)
        sub.push_back(acc[t.slot(tap, c, v)]);
  Value *xBase = k.buffer(x);
  sub = k.reduce(
      r0, r1, sub,
      [&](Value *r, const Accs &s0) {
        return k.reduce(
            ohLo, ohHi, s0,
            [&](Value *oh, const Accs &s1) {
              Value *outRow = mulSigned(
                  k, addSigned(k, mulSigned(k, r, cv.out.h), oh), cv.out.w);
              Value *inTop =
                  subIdx(k, mulSigned(k, oh, cv.stride), k.i64(cv.padTop));
              Value *inRow0 = mulSigned(k, r, cv.in.h);
              return k.reduce(
                  owLo, owHi, s1,
                  [&](Value *ow, const Accs &s2) {
                    Value *dyIndex = addSigned(
                        k, mulSigned(k, addSigned(k, outRow, ow), filters),
                        k.i64(t.fBase));
                    std::vector<Value *> g;
                    for (int64_t v = 0; v < t.vecs; ++v)
                      g.push_back(vec.load(
                          k.buffer(dy), addSigned(k, dyIndex, k.i64(v * L)),
                          std::min<int64_t>(L, filters - t.fBase - v * L)));
                    Value *inLeft = subIdx(k, mulSigned(k, ow, cv.stride),
                                           k.i64(cv.padLeft));
                    Accs next = s2;
                    size_t slot = 0;
                    for (size_t tap : which) {
                      auto [a, b] = t.taps[tap];
                      Value *ih = addSigned(k, inRow0, addSigned(k, inTop, a));
                      Value *pix = addSigned(k, mulSigned(k, ih, cv.in.w),
                                             addSigned(k, inLeft, b));
                      Value *xi =
                          addSigned(k, mulSigned(k, pix, cv.in.c), t.c0);
                      for (int64_t c = 0; c < t.channels; ++c) {
                        Value *xs = vec.splat(k.b.CreateAlignedLoad(
                            k.b.getFloatTy(),
                            vec.at(xBase, addSigned(k, xi, k.i64(c))),
                            Align(4)));
                        for (int64_t v = 0; v < t.vecs; ++v, ++slot)
                          next[slot] = vec.fma(xs, g[v], next[slot]);
                      }
                    }
                    return next;
                  },
                  "ow");
            },
            "oh");
      },
      "r");
  size_t slot = 0;
  for (size_t tap : which)
    for (int64_t c = 0; c < t.channels; ++c)
      for (int64_t v = 0; v < t.vecs; ++v)
        acc[t.slot(tap, c, v)] = sub[slot++];
  return acc;
}

/// Writes (or adds, `accumulate`) the tile's accumulators to dw[f,a,b,c].
void storeFilterTile(KernelEmitter &k, Vec &vec, const Node &dw,
                     const FilterTile &t, const Accs &acc, bool accumulate) {
  const int64_t L = vec.lanes, filters = dw.type.dims[0], kk = dw.type.dims[1],
                channels = dw.type.dims[3];
  for (size_t tap = 0; tap < t.taps.size(); ++tap) {
    auto [a, b] = t.taps[tap];
    Value *offset = addSigned(
        k, mulSigned(k, addSigned(k, mulSigned(k, a, kk), b), channels), t.c0);
    for (int64_t c = 0; c < t.channels; ++c)
      for (int64_t v = 0; v < t.vecs; ++v)
        for (int64_t j = 0; j < L && t.fBase + v * L + j < filters; ++j) {
          int64_t f = t.fBase + v * L + j;
          Value *index =
              addSigned(k, offset, k.i64(f * kk * kk * channels + c));
          Value *value = vec.lane(acc[t.slot(tap, c, v)], j);
          if (accumulate)
            accumulateInto(k, &dw, index, value);
          else
            k.store(&dw, index, value);
        }
  }
}

/// Bytes of images (x and dy) that one block of samples of the filter
/// gradient's per-tap tiles reads again and again: about half the L2.
constexpr int64_t kFilterBlockBytes = 512 * 1024;

// dw[f,kh,kw,c] = sum_{r,oh,ow} dy[r,oh,ow,f] x[r, oh*s+kh-pt, ow*s+kw-pl, c]
void lowerConv2DGradFilter(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  Conv cv = convOf(n, x, dy, n.type.dims[1]);
  Vec vec(k);
  const int64_t L = vec.lanes, budget = accumulatorBudget(k);
  const int64_t kk = cv.kernel, channels = cv.in.c, filters = cv.out.c;
  const int64_t filterVecs = vec.vectors(filters);
  auto rows = [&](int64_t a) {
    return tapRange(a, cv.padTop, cv.stride, cv.in.h, cv.out.h);
  };
  auto cols = [&](int64_t b) {
    return tapRange(b, cv.padLeft, cv.stride, cv.in.w, cv.out.w);
  };

  // A small kernel over few channels (a convolution of the input image):
  // one tile holds every tap and channel, and the whole batch streams
  // through it once per group of filter vectors.
  int64_t tapChannels = kk * kk * channels;
  if (tapChannels <= budget / 2) {
    const int64_t groupVecs =
        std::min(filterVecs, std::max<int64_t>(budget / tapChannels, 1));
    for (int64_t v0 = 0; v0 < filterVecs; v0 += groupVecs) {
      FilterTile t;
      t.c0 = k.i64(0);
      t.channels = channels;
      t.fBase = v0 * L;
      t.vecs = std::min(groupVecs, filterVecs - v0);
      // The rectangle of output pixels common to every tap.
      int64_t rLo = 0, rHi = cv.out.h, cLo = 0, cHi = cv.out.w;
      for (int64_t a = 0; a < kk; ++a) {
        rLo = std::max(rLo, rows(a).first);
        rHi = std::min(rHi, rows(a).second);
        cLo = std::max(cLo, cols(a).first);
        cHi = std::min(cHi, cols(a).second);
      }
      bool common = rLo < rHi && cLo < cHi;
      std::vector<size_t> all;
      for (int64_t a = 0; a < kk; ++a)
        for (int64_t b = 0; b < kk; ++b) {
          all.push_back(t.taps.size());
          t.taps.push_back({k.i64(a), k.i64(b)});
        }
      Accs acc(t.taps.size() * channels * t.vecs, vec.zero());
      auto run = [&](const std::vector<size_t> &which, int64_t r0, int64_t r1,
                     int64_t c0, int64_t c1) {
        if (r0 < r1 && c0 < c1)
          acc = accumulateFilterTile(k, vec, cv, dy, x, t, which, k.i64(0), k.n,
                                     k.i64(r0), k.i64(r1), k.i64(c0), k.i64(c1),
                                     acc);
      };
      if (common)
        run(all, rLo, rHi, cLo, cHi);
      for (size_t tap = 0; tap < all.size(); ++tap) {
        auto [ra, rb] = rows(int64_t(tap) / kk);
        auto [ca, cb] = cols(int64_t(tap) % kk);
        if (!common) {
          run({tap}, ra, rb, ca, cb);
          continue;
        }
        // The tap's rectangle less the common one: the rows above and
        // below it, then the columns left and right of it.
        run({tap}, ra, std::min(rb, rLo), ca, cb);
        run({tap}, std::max(ra, rHi), rb, ca, cb);
        int64_t midLo = std::max(ra, rLo), midHi = std::min(rb, rHi);
        run({tap}, midLo, midHi, ca, std::min(cb, cLo));
        run({tap}, midLo, midHi, std::max(ca, cHi), cb);
      }
      storeFilterTile(k, vec, n, t, acc, /*accumulate=*/false);
    }
    return;
  }

  // Otherwise one tap at a time, over blocks of samples that stay in cache
  // while the tap's tiles sweep them. With a vector of channels or more the
  // vectors run along the channels, contiguous in x and in dw, and dy is
  // broadcast: each tile adds its sums to dw with vector loads and stores.
  // With fewer channels they run along the filters (contiguous in dy) and
  // the sums are added to dw lane by lane.
  zero(k, n);
  const int64_t perSample =
      (cv.in.h * cv.in.w * channels + cv.out.h * cv.out.w * filters) * 4;
  const int64_t samples = std::max<int64_t>(kFilterBlockBytes / perSample, 1);
  Value *sampleBlocks =
      k.b.CreateUDiv(addSigned(k, k.n, k.i64(samples - 1)), k.i64(samples));
  auto overTaps =
      [&](const std::function<void(Value *, Value *, Value *, Value *, Value *,
                                   Value *, Value *, Value *)> &tiles) {
        k.loop(
            k.i64(0), sampleBlocks,
            [&](Value *sb) {
              Value *r0 = mulSigned(k, sb, samples);
              Value *r1 = sminIdx(k, addSigned(k, r0, k.i64(samples)), k.n);
              k.loop(
                  kk,
                  [&](Value *a) {
                    auto [ohLo, ohHi] =
                        tapRange(k, a, cv.padTop, cv.stride, cv.in.h, cv.out.h);
                    k.loop(
                        kk,
                        [&](Value *b) {
                          auto [owLo, owHi] = tapRange(
                              k, b, cv.padLeft, cv.stride, cv.in.w, cv.out.w);
                          tiles(r0, r1, a, b, ohLo, ohHi, owLo, owHi);
                        },
                        "b");
                  },
                  "a");
            },
            "sb");
      };
  // `count` items in blocks of at most `most`, evened out: body(first,
  // size) for a loop over the full blocks and once for the rest.
  auto blocks = [&](int64_t count, int64_t most,
                    const std::function<void(Value *, int64_t)> &body) {
    most = std::max<int64_t>(std::min(most, count), 1);
    int64_t size =
        (count + (count + most - 1) / most - 1) / ((count + most - 1) / most);
    k.loop(
        count / size, [&](Value *i) { body(mulSigned(k, i, size), size); },
        "blk");
    if (count % size)
      body(k.i64(count / size * size), count % size);
  };

  if (channels >= L) {
    const int64_t channelVecs = vec.vectors(channels);
    const int64_t groupVecs = std::min<int64_t>(channelVecs, 4);
    overTaps([&](Value *r0, Value *r1, Value *a, Value *b, Value *ohLo,
                 Value *ohHi, Value *owLo, Value *owHi) {
      Value *tap = mulSigned(k, addSigned(k, mulSigned(k, a, kk), b), channels);
      for (int64_t v0 = 0; v0 < channelVecs; v0 += groupVecs) {
        const int64_t vecs = std::min(groupVecs, channelVecs - v0);
        auto used = [&](int64_t v) {
          return std::min<int64_t>(L, channels - (v0 + v) * L);
        };
        blocks(filters, budget / vecs, [&](Value *f0, int64_t count) {
          // dw[f0 + t, a, b, v0*L ...] for t < count, as vectors.
          auto dwIndex = [&](int64_t t, int64_t v) {
            Value *f = addSigned(k, f0, k.i64(t));
            return addSigned(
                k, addSigned(k, mulSigned(k, f, kk * kk * channels), tap),
                k.i64((v0 + v) * L));
          };
          Accs acc;
          for (int64_t t = 0; t < count; ++t)
            for (int64_t v = 0; v < vecs; ++v)
              acc.push_back(vec.load(k.buffer(&n), dwIndex(t, v), used(v)));
          Value *xBase = k.buffer(x), *dyBase = k.buffer(dy);
          acc = k.reduce(
              r0, r1, acc,
              [&](Value *r, const Accs &s0) {
                return k.reduce(
                    ohLo, ohHi, s0,
                    [&](Value *oh, const Accs &s1) {
                      Value *outRow = mulSigned(
                          k, addSigned(k, mulSigned(k, r, cv.out.h), oh),
                          cv.out.w);
                      Value *ih = addSigned(
                          k, mulSigned(k, r, cv.in.h),
                          addSigned(k,
                                    subIdx(k, mulSigned(k, oh, cv.stride),
                                           k.i64(cv.padTop)),
                                    a));
                      return k.reduce(
                          owLo, owHi, s1,
                          [&](Value *ow, const Accs &s2) {
                            Value *iw =
                                addSigned(k,
                                          subIdx(k, mulSigned(k, ow, cv.stride),
                                                 k.i64(cv.padLeft)),
                                          b);
                            Value *xi = addSigned(
                                k,
                                mulSigned(
                                    k,
                                    addSigned(k, mulSigned(k, ih, cv.in.w), iw),
                                    channels),
                                k.i64(v0 * L));
                            std::vector<Value *> xv;
                            for (int64_t v = 0; v < vecs; ++v)
                              xv.push_back(vec.load(
                                  xBase, addSigned(k, xi, k.i64(v * L)),
                                  used(v)));
                            Value *gi = addSigned(
                                k,
                                mulSigned(k, addSigned(k, outRow, ow), filters),
                                f0);
                            Accs next = s2;
                            for (int64_t t = 0; t < count; ++t) {
                              Value *g = vec.splat(k.b.CreateAlignedLoad(
                                  k.b.getFloatTy(),
                                  vec.at(dyBase, addSigned(k, gi, k.i64(t))),
                                  Align(4)));
                              for (int64_t v = 0; v < vecs; ++v)
                                next[t * vecs + v] =
                                    vec.fma(g, xv[v], next[t * vecs + v]);
                            }
                            return next;
                          },
                          "ow");
                    },
                    "oh");
              },
              "r");
          for (int64_t t = 0; t < count; ++t)
            for (int64_t v = 0; v < vecs; ++v)
              vec.store(k.buffer(&n), dwIndex(t, v), acc[t * vecs + v],
                        used(v));
        });
      }
    });
    return;
  }

  const int64_t groupVecs = std::min<int64_t>(filterVecs, 4);
  overTaps([&](Value *r0, Value *r1, Value *a, Value *b, Value *ohLo,
               Value *ohHi, Value *owLo, Value *owHi) {
    for (int64_t v0 = 0; v0 < filterVecs; v0 += groupVecs)
      blocks(channels, budget / groupVecs, [&](Value *c0, int64_t count) {
        FilterTile t;
        t.taps = {{a, b}};
        t.c0 = c0;
        t.channels = count;
        t.fBase = v0 * L;
        t.vecs = std::min(groupVecs, filterVecs - v0);
        Accs acc(count * t.vecs, vec.zero());
        acc = accumulateFilterTile(k, vec, cv, dy, x, t, {0}, r0, r1, ohLo,
                                   ohHi, owLo, owHi, acc);
        storeFilterTile(k, vec, n, t, acc, /*accumulate=*/true);
      });
  });
}

//===--- Pooling ----------------------------------------------------------===//

/// A pooling window's geometry; `in` is the pooled image, `out` the result.
struct Pool {
  Image in, out;
  int64_t size, stride;
};
Pool poolOf(const Node &n, const Node *in, const Node *out) {
  return {imageOf(in), imageOf(out), n.attrs.size(), n.attrs.stride()};
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
        p.size,
        [&](Value *i) {
          k.loop(
              p.size,
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

// y[r,oh,ow,c] = max_{i,j < size} x[r, oh*s+i, ow*s+j, c]
void lowerMaxPool2D(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  Pool p = poolOf(n, x, &n);
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  if (p.size * p.size <= kUnrolledWindow) {
    Vec vec(k);
    forEachWindow(k, p, [&](Value *out, Value *corner) {
      forEachChannelVector(k, vec, p.out.c, [&](Value *c, int64_t used) {
        Value *first = addSigned(k, corner, c), *best = vec.splat(ninf);
        for (int64_t i = 0; i < p.size; ++i)
          for (int64_t j = 0; j < p.size; ++j) {
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
  if (p.stride >= p.size && p.size * p.size <= kUnrolledWindow) {
    bool gaps = p.stride > p.size ||
                (p.out.h - 1) * p.stride + p.size < p.in.h ||
                (p.out.w - 1) * p.stride + p.size < p.in.w;
    if (gaps)
      zero(k, n);
    Vec vec(k);
    auto *intType = FixedVectorType::get(k.b.getInt32Ty(), unsigned(vec.lanes));
    auto tapNumber = [&](int64_t t) {
      return ConstantInt::get(intType, uint64_t(t));
    };
    forEachWindow(k, p, [&](Value *out, Value *corner) {
      forEachChannelVector(k, vec, p.out.c, [&](Value *c, int64_t used) {
        Value *first = addSigned(k, corner, c), *best = vec.splat(ninf);
        Value *argmax = tapNumber(0);
        std::vector<Value *> taps;
        for (int64_t i = 0; i < p.size; ++i)
          for (int64_t j = 0; j < p.size; ++j) {
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
              k.i64(0), k.i64(p.size), best,
              [&](Value *i, const std::vector<Value *> &acc) {
                return k.reduce(
                    k.i64(0), k.i64(p.size), acc,
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
  double rate = dst.attrs.rate();
  // The seed and salt fold to a constant; the step is only known at run time.
  uint64_t seed = uint64_t(dst.attrs.seed());
  uint64_t salt = uint64_t(dst.attrs.salt());
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
  auto set = [&](OpKind op, Lowering rule) { t.set(op, rule); };
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
