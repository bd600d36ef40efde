//===- ConvFilterGradient.cpp - A convolution's filter gradient -----------===//
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
//
// Threads share the taps (or the groups of filters of the all-taps tiles),
// never the samples: each sum is computed by one thread in the order a
// single thread would, so every thread count gives the same gradient.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"
#include "CodeGen/RowOps.h"

#include <functional>

namespace sora::ir::image {

namespace {

using namespace llvm;

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

/// Writes (or adds, `accumulate`) the tile's accumulators to dw[f,a,b,c]
/// (or, given `to`, to the floats there in dw's layout).
void storeFilterTile(KernelEmitter &k, Vec &vec, const Node &dw,
                     const FilterTile &t, const Accs &acc, bool accumulate,
                     Value *to = nullptr) {
  const int64_t L = vec.lanes, filters = dw.type.dims[0], kh = dw.type.dims[1],
                kw = dw.type.dims[2], channels = dw.type.dims[3];
  for (size_t tap = 0; tap < t.taps.size(); ++tap) {
    auto [a, b] = t.taps[tap];
    Value *offset = addSigned(
        k, mulSigned(k, addSigned(k, mulSigned(k, a, kw), b), channels), t.c0);
    for (int64_t c = 0; c < t.channels; ++c)
      for (int64_t v = 0; v < t.vecs; ++v)
        for (int64_t j = 0; j < L && t.fBase + v * L + j < filters; ++j) {
          int64_t f = t.fBase + v * L + j;
          Value *index =
              addSigned(k, offset, k.i64(f * kh * kw * channels + c));
          Value *value = vec.lane(acc[t.slot(tap, c, v)], j);
          if (to)
            k.storeTile(to, index, value);
          else if (accumulate)
            accumulateInto(k, &dw, index, value);
          else
            k.store(&dw, index, value);
        }
  }
}

/// Bytes of images (x and dy) that one block of samples of the filter
/// gradient's per-tap tiles reads again and again: about half the L2.
constexpr int64_t kFilterBlockBytes = 512 * 1024;

/// The output pixels of every tap along each axis, known at compile time.
struct TapRanges {
  const Conv &cv;
  std::pair<int64_t, int64_t> rows(int64_t a) const {
    return tapRange(a, cv.padTop, cv.stride, cv.in.h, cv.out.h);
  }
  std::pair<int64_t, int64_t> cols(int64_t b) const {
    return tapRange(b, cv.padLeft, cv.stride, cv.in.w, cv.out.w);
  }
};

/// The all-taps tile of the filters [v0 L, (v0 + vecs) L): the samples
/// [r0, r1) stream through it once; its sums go to dw, or to `to`.
void allTapsTile(KernelEmitter &k, Vec &vec, const Node &n, const Conv &cv,
                 const Node *dy, const Node *x, int64_t v0, int64_t vecs,
                 Value *r0, Value *r1, Value *to) {
  const int64_t L = vec.lanes, kh = cv.kh, kw = cv.kw, channels = cv.in.c;
  const TapRanges ranges{cv};
  FilterTile t;
  t.c0 = k.i64(0);
  t.channels = channels;
  t.fBase = v0 * L;
  t.vecs = vecs;
  // The rectangle of output pixels common to every tap.
  int64_t rLo = 0, rHi = cv.out.h, cLo = 0, cHi = cv.out.w;
  for (int64_t a = 0; a < kh; ++a) {
    rLo = std::max(rLo, ranges.rows(a).first);
    rHi = std::min(rHi, ranges.rows(a).second);
  }
  for (int64_t b = 0; b < kw; ++b) {
    cLo = std::max(cLo, ranges.cols(b).first);
    cHi = std::min(cHi, ranges.cols(b).second);
  }
  bool common = rLo < rHi && cLo < cHi;
  std::vector<size_t> all;
  for (int64_t a = 0; a < kh; ++a)
    for (int64_t b = 0; b < kw; ++b) {
      all.push_back(t.taps.size());
      t.taps.push_back({k.i64(a), k.i64(b)});
    }
  Accs acc(t.taps.size() * channels * t.vecs, vec.zero());
  auto run = [&](const std::vector<size_t> &which, int64_t rowLo, int64_t rowHi,
                 int64_t c0, int64_t c1) {
    if (rowLo < rowHi && c0 < c1)
      acc = accumulateFilterTile(k, vec, cv, dy, x, t, which, r0, r1,
                                 k.i64(rowLo), k.i64(rowHi), k.i64(c0),
                                 k.i64(c1), acc);
  };
  if (common)
    run(all, rLo, rHi, cLo, cHi);
  for (size_t tap = 0; tap < all.size(); ++tap) {
    auto [ra, rb] = ranges.rows(int64_t(tap) / kw);
    auto [ca, cb] = ranges.cols(int64_t(tap) % kw);
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
  storeFilterTile(k, vec, n, t, acc, /*accumulate=*/false, to);
}

/// A small kernel over few channels (a convolution of the input image): one
/// tile holds every tap and channel, and the batch streams through it once
/// per group of filter vectors. The groups, and two fixed halves of the
/// batch, are shared among threads: each half's sums go to a buffer of the
/// caller's, which adds the two (the same sums whatever the number of
/// threads).
void filterGradientAllTaps(KernelEmitter &k, const Node &n, const Conv &cv,
                           const Node *dy, const Node *x) {
  const int64_t L = k.vectorWidth, budget = accumulatorBudget(k);
  const int64_t filterVecs = (cv.out.c + L - 1) / L;
  const int64_t tapChannels = cv.kh * cv.kw * cv.in.c;
  const int64_t groupVecs =
      std::min(filterVecs, std::max<int64_t>(budget / tapChannels, 1));
  const int64_t groups = (filterVecs + groupVecs - 1) / groupVecs;
  const int64_t sampleWork = cv.out.h * cv.out.w * tapChannels * groupVecs * L;
  const int64_t floats = n.type.elements();
  Value *halves = k.tile(kBatchParts * floats);
  k.parallelRanges(
      k.i64(groups * kBatchParts), mulIdx(k, k.n, groups * sampleWork),
      [&](KernelEmitter &e, Value *item0, Value *item1) {
        Vec vec(e);
        e.loop(
            item0, item1,
            [&](Value *item) {
              Value *part = e.b.CreateURem(item, e.i64(kBatchParts));
              Value *r0 = batchPartStart(e, part);
              Value *r1 = batchPartStart(e, addIdx(e, part, e.i64(1)));
              Value *to = e.b.CreateInBoundsGEP(e.b.getFloatTy(), e.shared,
                                                mulIdx(e, part, floats));
              forEachCase(e, e.b.CreateUDiv(item, e.i64(kBatchParts)), groups,
                          [&](int64_t group) {
                            const int64_t v0 = group * groupVecs;
                            allTapsTile(e, vec, n, cv, dy, x, v0,
                                        std::min(groupVecs, filterVecs - v0),
                                        r0, r1, to);
                          });
            },
            "item");
      },
      /*sweep=*/true, halves);
  addBatchParts(k, halves, floats,
                [&](Value *i, Value *sum) { k.store(&n, i, sum); });
}

/// One tap (a, b) over the samples [r0, r1): the output pixels
/// [ohLo, ohHi) x [owLo, owHi) whose input lies inside the image.
struct TapPass {
  Value *r0, *r1, *a, *b, *ohLo, *ohHi, *owLo, *owHi;
  Value *dyPairs = nullptr; ///< packDyPairs' block, when asked for
  Value *part = nullptr;    ///< which of the tap's parts (filters) this is
};

/// dy of the samples [r0, r1) as bfloat16 pairs of adjacent output pixels
/// (2q, 2q + 1) of each row (a last odd pixel pairs with zero): pair f of
/// ((r - r0) OH + oh) Q + q, for Q = ceil(OW / 2) and the filters padded to
/// whole vectors, in a stack tile of `samples` samples.
Value *packDyPairs(KernelEmitter &k, const Conv &cv, const Node *dy, Value *r0,
                   Value *r1, int64_t samples) {
  Vec vec(k);
  Bf16 bf(vec);
  const int64_t L = vec.lanes, F = cv.out.c, V = vec.vectors(F);
  const int64_t OW = cv.out.w, Q = (OW + 1) / 2;
  Value *tile = bf.tile(samples * cv.out.h * Q * V);
  Value *dyBase = k.buffer(dy);
  k.loop(
      k.i64(0), mulSigned(k, subIdx(k, r1, r0), cv.out.h),
      [&](Value *line) { // (r - r0) OH + oh
        Value *row = addSigned(k, mulSigned(k, r0, cv.out.h), line);
        for (int64_t q = 0; q < Q; ++q)
          for (int64_t v = 0; v < V; ++v) {
            int64_t used = std::min(L, F - v * L);
            auto at = [&](int64_t ow) {
              Value *pix = addSigned(k, mulSigned(k, row, OW), k.i64(ow));
              return vec.load(dyBase,
                              addSigned(k, mulSigned(k, pix, F), k.i64(v * L)),
                              used);
            };
            Value *pair = bf.interleave(
                at(2 * q), 2 * q + 1 < OW ? at(2 * q + 1) : vec.zero());
            bf.store(tile,
                     addSigned(k, mulSigned(k, line, Q * V), k.i64(q * V + v)),
                     pair);
          }
      },
      "line");
  return tile;
}

/// Zeroes dw, then calls `tiles` for each block of samples that stays in
/// cache and each of the `parts` parts of each tap, for the part's tiles to
/// sweep the block. The parts of taps are shared among threads, one range
/// of them per thread (each range reads the whole batch), each thread
/// taking every block of samples through its own: each element of dw is
/// summed by one thread, over the samples in the same order whatever the
/// number of threads. (Parts even out the threads: 9 taps of a 3 x 3
/// kernel on 2 threads are 5 and 4, 18 halves are 9 and 9.)
void forEachTapOfSampleBlocks(
    KernelEmitter &k, const Node &n, const Conv &cv,
    const std::function<void(KernelEmitter &, const TapPass &)> &tiles,
    const Node *packDy = nullptr, int64_t parts = 1) {
  zero(k, n);
  const int64_t perSample =
      (cv.in.h * cv.in.w * cv.in.c + cv.out.h * cv.out.w * cv.out.c) * 4;
  const int64_t samples = std::max<int64_t>(kFilterBlockBytes / perSample, 1);
  // Multiply-adds: of one tap over one sample, then over the batch.
  const int64_t tapWork = cv.out.h * cv.out.w * cv.out.c * cv.in.c;
  k.parallelRanges(
      k.i64(cv.kh * cv.kw * parts), mulIdx(k, k.n, cv.kh * cv.kw * tapWork),
      [&](KernelEmitter &e, Value *item0, Value *item1) {
        Value *sampleBlocks = e.b.CreateUDiv(
            addSigned(e, e.n, e.i64(samples - 1)), e.i64(samples));
        e.loop(
            e.i64(0), sampleBlocks,
            [&](Value *sb) {
              Value *r0 = mulSigned(e, sb, samples);
              Value *r1 = sminIdx(e, addSigned(e, r0, e.i64(samples)), e.n);
              Value *pairs = packDy
                                 ? packDyPairs(e, cv, packDy, r0, r1, samples)
                                 : nullptr;
              e.loop(
                  item0, item1,
                  [&](Value *item) {
                    Value *tap = e.b.CreateUDiv(item, e.i64(parts));
                    Value *part = e.b.CreateURem(item, e.i64(parts));
                    Value *a = e.b.CreateUDiv(tap, e.i64(cv.kw));
                    Value *b = e.b.CreateURem(tap, e.i64(cv.kw));
                    auto [ohLo, ohHi] =
                        tapRange(e, a, cv.padTop, cv.stride, cv.in.h, cv.out.h);
                    auto [owLo, owHi] = tapRange(e, b, cv.padLeft, cv.stride,
                                                 cv.in.w, cv.out.w);
                    tiles(e,
                          {r0, r1, a, b, ohLo, ohHi, owLo, owHi, pairs, part});
                  },
                  "part");
            },
            "sb");
      },
      /*sweep=*/true);
}

/// `count` items in blocks of at most `most`, evened out: body(first, size)
/// for a loop over the full blocks and once for the rest.
void evenBlocks(KernelEmitter &k, int64_t count, int64_t most,
                const std::function<void(Value *, int64_t)> &body) {
  most = std::max<int64_t>(std::min(most, count), 1);
  int64_t size =
      (count + (count + most - 1) / most - 1) / ((count + most - 1) / most);
  k.loop(
      count / size, [&](Value *i) { body(mulSigned(k, i, size), size); },
      "blk");
  if (count % size)
    body(k.i64(count / size * size), count % size);
}

/// channelVectorTile's sums over one tap pass from bfloat16 pairs of
/// output pixels (2q, 2q + 1), for `precision = bf16`: dy's pairs packed for
/// the block of samples (packDyPairs) and broadcast, x's interleaved vector
/// by vector. A pair with a pixel outside the tap's columns [owLo, owHi)
/// (at either end) takes zeros for that pixel's x, which is never read.
Accs channelVectorPairs(KernelEmitter &k, Vec &vec, const Conv &cv,
                        const Node *x, const TapPass &p, int64_t v0,
                        int64_t vecs, Value *f0, int64_t count, Accs acc) {
  Bf16 bf(vec);
  const int64_t L = vec.lanes, channels = cv.in.c;
  const int64_t Q = (cv.out.w + 1) / 2, V = vec.vectors(cv.out.c);
  Value *xBase = k.buffer(x);
  // Adds the products of pair q of output row oh of sample r, its pixels
  // 2q and 2q + 1 taken as `first` and `second` say.
  auto pair = [&](Value *r, Value *oh, Value *q, bool first, bool second,
                  const Accs &s) {
    Value *ih = addSigned(
        k, mulSigned(k, r, cv.in.h),
        addSigned(k, subIdx(k, mulSigned(k, oh, cv.stride), k.i64(cv.padTop)),
                  p.a));
    auto xAt = [&](int64_t d, int64_t v) {
      Value *ow = addSigned(k, mulSigned(k, q, 2), k.i64(d));
      Value *iw = addSigned(
          k, subIdx(k, mulSigned(k, ow, cv.stride), k.i64(cv.padLeft)), p.b);
      Value *xi =
          mulSigned(k, addSigned(k, mulSigned(k, ih, cv.in.w), iw), channels);
      return vec.load(xBase, addSigned(k, xi, k.i64((v0 + v) * L)),
                      std::min<int64_t>(L, channels - (v0 + v) * L));
    };
    std::vector<Value *> xv;
    for (int64_t v = 0; v < vecs; ++v)
      xv.push_back(bf.interleave(first ? xAt(0, v) : vec.zero(),
                                 second ? xAt(1, v) : vec.zero()));
    // Pair f0 of pixel pair q of line (r - r0) OH + oh in the block.
    Value *line = addSigned(k, mulSigned(k, subIdx(k, r, p.r0), cv.out.h), oh);
    Value *pairs = addSigned(
        k, mulSigned(k, addSigned(k, mulSigned(k, line, Q), q), V * L), f0);
    Accs next = s;
    for (int64_t t = 0; t < count; ++t) {
      Value *g = bf.splatStored(p.dyPairs, addSigned(k, pairs, k.i64(t)));
      for (int64_t v = 0; v < vecs; ++v)
        next[t * vecs + v] = bf.dot(next[t * vecs + v], g, xv[v]);
    }
    return next;
  };
  // Pairs [lo, hi) of a row, the same way.
  auto pairs = [&](Value *r, Value *oh, Value *lo, Value *hi, bool first,
                   bool second, const Accs &s) {
    return k.reduce(
        lo, hi, s,
        [&](Value *q, const Accs &s3) {
          return pair(r, oh, q, first, second, s3);
        },
        "q");
  };
  auto half = [&](Value *v) { return k.b.CreateUDiv(v, k.i64(2)); };
  auto halfUp = [&](Value *v) { return half(addSigned(k, v, k.i64(1))); };
  return k.reduce(
      p.r0, p.r1, acc,
      [&](Value *r, const Accs &s0) {
        return k.reduce(
            p.ohLo, p.ohHi, s0,
            [&](Value *oh, const Accs &s1) {
              // An odd owLo starts inside a pair, an odd owHi ends inside
              // one (the head and the tail run once or not at all; neither
              // when the range is empty).
              Value *fullLo = halfUp(p.owLo), *fullHi = half(p.owHi);
              Accs s2 = pairs(r, oh, half(p.owLo), sminIdx(k, fullLo, fullHi),
                              false, true, s1);
              s2 = pairs(r, oh, fullLo, smaxIdx(k, fullLo, fullHi), true, true,
                         s2);
              return pairs(r, oh, smaxIdx(k, fullHi, fullLo), halfUp(p.owHi),
                           true, false, s2);
            },
            "oh");
      },
      "r");
}

/// dw[f0 + t, a, b, v0*L ...] += the sums over one tap pass, for the
/// filters t < count and `vecs` vectors of channels from vector v0: the
/// vectors run along the channels (contiguous in x and in dw), dy is
/// broadcast, and the tile adds its sums to dw with vector loads and stores.
void channelVectorTile(KernelEmitter &k, Vec &vec, const Node &n,
                       const Conv &cv, const Node *dy, const Node *x,
                       const TapPass &p, Value *tap, int64_t v0, int64_t vecs,
                       Value *f0, int64_t count) {
  const int64_t L = vec.lanes, taps = cv.kh * cv.kw, channels = cv.in.c,
                filters = cv.out.c;
  auto used = [&](int64_t v) {
    return std::min<int64_t>(L, channels - (v0 + v) * L);
  };
  auto dwIndex = [&](int64_t t, int64_t v) {
    Value *f = addSigned(k, f0, k.i64(t));
    return addSigned(k, addSigned(k, mulSigned(k, f, taps * channels), tap),
                     k.i64((v0 + v) * L));
  };
  Accs acc;
  for (int64_t t = 0; t < count; ++t)
    for (int64_t v = 0; v < vecs; ++v)
      acc.push_back(vec.load(k.buffer(&n), dwIndex(t, v), used(v)));
  Value *xBase = k.buffer(x), *dyBase = k.buffer(dy);
  if (p.dyPairs)
    acc = channelVectorPairs(k, vec, cv, x, p, v0, vecs, f0, count, acc);
  else
    acc = k.reduce(
        p.r0, p.r1, acc,
        [&](Value *r, const Accs &s0) {
          return k.reduce(
              p.ohLo, p.ohHi, s0,
              [&](Value *oh, const Accs &s1) {
                Value *outRow = mulSigned(
                    k, addSigned(k, mulSigned(k, r, cv.out.h), oh), cv.out.w);
                Value *ih =
                    addSigned(k, mulSigned(k, r, cv.in.h),
                              addSigned(k,
                                        subIdx(k, mulSigned(k, oh, cv.stride),
                                               k.i64(cv.padTop)),
                                        p.a));
                return k.reduce(
                    p.owLo, p.owHi, s1,
                    [&](Value *ow, const Accs &s2) {
                      Value *iw =
                          addSigned(k,
                                    subIdx(k, mulSigned(k, ow, cv.stride),
                                           k.i64(cv.padLeft)),
                                    p.b);
                      Value *xi = addSigned(
                          k,
                          mulSigned(k,
                                    addSigned(k, mulSigned(k, ih, cv.in.w), iw),
                                    channels),
                          k.i64(v0 * L));
                      std::vector<Value *> xv;
                      for (int64_t v = 0; v < vecs; ++v)
                        xv.push_back(vec.load(
                            xBase, addSigned(k, xi, k.i64(v * L)), used(v)));
                      Value *gi = addSigned(
                          k, mulSigned(k, addSigned(k, outRow, ow), filters),
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
      vec.store(k.buffer(&n), dwIndex(t, v), acc[t * vecs + v], used(v));
}

/// One tap at a time, with a vector of channels or more: tiles of a few
/// filters times a few vectors of channels. An even number of filters is
/// taken in two halves, each a part of the tap for the threads to share.
void filterGradientAlongChannels(KernelEmitter &k, Vec &vec, const Node &n,
                                 const Conv &cv, const Node *dy,
                                 const Node *x) {
  const int64_t kw = cv.kw, channels = cv.in.c;
  const int64_t parts = cv.out.c % 2 == 0 ? 2 : 1, filters = cv.out.c / parts;
  const int64_t budget = accumulatorBudget(k);
  const int64_t channelVecs = vec.vectors(channels);
  const int64_t groupVecs = std::min<int64_t>(channelVecs, 4);
  auto tiles = [&](KernelEmitter &e, const TapPass &p) {
    Vec tileVec(e);
    Value *tap =
        mulSigned(e, addSigned(e, mulSigned(e, p.a, kw), p.b), channels);
    Value *first = mulSigned(e, p.part, filters);
    for (int64_t v0 = 0; v0 < channelVecs; v0 += groupVecs) {
      const int64_t vecs = std::min(groupVecs, channelVecs - v0);
      evenBlocks(e, filters, budget / vecs, [&](Value *f0, int64_t count) {
        channelVectorTile(e, tileVec, n, cv, dy, x, p, tap, v0, vecs,
                          addSigned(e, first, f0), count);
      });
    }
  };
  // bfloat16 operands: dy's pixels paired once per block of samples.
  forEachTapOfSampleBlocks(k, n, cv, tiles, bf16Pairs(k, n) ? dy : nullptr,
                           parts);
}

/// One tap at a time, with fewer channels than a vector: tiles of a few
/// channels times a few vectors of filters (contiguous in dy), their sums
/// added to dw lane by lane.
void filterGradientAlongFilters(KernelEmitter &k, Vec &vec, const Node &n,
                                const Conv &cv, const Node *dy, const Node *x) {
  const int64_t L = vec.lanes, budget = accumulatorBudget(k);
  const int64_t filterVecs = vec.vectors(cv.out.c);
  const int64_t groupVecs = std::min<int64_t>(filterVecs, 4);
  forEachTapOfSampleBlocks(k, n, cv, [&](KernelEmitter &e, const TapPass &p) {
    Vec tileVec(e);
    for (int64_t v0 = 0; v0 < filterVecs; v0 += groupVecs)
      evenBlocks(e, cv.in.c, budget / groupVecs, [&](Value *c0, int64_t count) {
        FilterTile t;
        t.taps = {{p.a, p.b}};
        t.c0 = c0;
        t.channels = count;
        t.fBase = v0 * L;
        t.vecs = std::min(groupVecs, filterVecs - v0);
        Accs acc(count * t.vecs, vec.zero());
        acc = accumulateFilterTile(e, tileVec, cv, dy, x, t, {0}, p.r0, p.r1,
                                   p.ohLo, p.ohHi, p.owLo, p.owHi, acc);
        storeFilterTile(e, tileVec, n, t, acc, /*accumulate=*/true);
      });
  });
}

} // namespace

// dw[f,kh,kw,c] = sum_{r,oh,ow} dy[r,oh,ow,f] x[r, oh*s+kh-pt, ow*s+kw-pl, c]:
// every tap at once for a small kernel over few channels, else one tap at a
// time over blocks of samples that stay in cache while the tap's tiles
// sweep them.
void lowerConv2DGradFilter(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  Conv cv = convOf(n, x, dy, &n);
  Vec vec(k);
  if (amxFilterGradientFits(k, n, cv)) {
    ifAmxReady(
        k, [&] { lowerAmxFilterGradient(k, n, cv); },
        [&] { filterGradientAlongChannels(k, vec, n, cv, dy, x); });
    return;
  }
  if (cv.kh * cv.kw * cv.in.c <= accumulatorBudget(k) / 2)
    filterGradientAllTaps(k, n, cv, dy, x);
  else if (cv.in.c >= vec.lanes)
    filterGradientAlongChannels(k, vec, n, cv, dy, x);
  else
    filterGradientAlongFilters(k, vec, n, cv, dy, x);
}

} // namespace sora::ir::image
