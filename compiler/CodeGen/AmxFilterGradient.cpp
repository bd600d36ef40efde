//===- AmxFilterGradient.cpp - A convolution's filter gradient on AMX -----===//
//
// dw[f, a, b, c] of a stride-1 convolution on AMX tiles (Amx.h), summed
// over the flat rows of every sample: (a, b, c) are the rows of the
// product, f its columns, the flat rows its reduction. A tiles are rows of
// x transposed (each channel's padded image as one bfloat16 row, so that a
// tap is an offset along it), B tiles dy's flat rows in pairs (AMX's
// layout). The product's 16 x 16 blocks are summed over the whole batch in
// a stack buffer, a thread's blocks at a time: the threads share the
// blocks in one range each (sora_parallel_sweep), each through every sample
// (which each thread copies once), so the sums do not depend on their
// number.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"

#include <llvm/IR/Module.h>

#include <array>

namespace sora::ir::image {

namespace {

using namespace llvm;

/// The filter gradient's shapes: the flat rows of dy, the product's rows
/// (a, b, c) in tiles of 16 channels of one tap, its columns (filters) in
/// tiles of 16, both taken two at a time.
struct FilterShape : FlatRows {
  int64_t channelTiles;       ///< tiles of 16 channels per tap
  int64_t rowTiles, colTiles; ///< of the product: taps x channelTiles, F/16
  int64_t rowPairs, colPairs;
  int64_t filtersPadded;   ///< filters in whole tiles (dy's pairs' rows)
  int64_t samples;         ///< samples copied at a time
  int64_t xBytes, dyBytes; ///< one sample's copies
};

FilterShape filterShape(const Conv &cv) {
  FilterShape s;
  static_cast<FlatRows &>(s) = flatRows(cv.out.h, cv.out.w, cv.kh, cv.kw);
  s.channelTiles = cv.in.c / kTileRows;
  s.rowTiles = cv.kh * cv.kw * s.channelTiles;
  s.colTiles = (cv.out.c + kTileRows - 1) / kTileRows;
  s.rowPairs = (s.rowTiles + 1) / 2;
  s.colPairs = (s.colTiles + 1) / 2;
  s.filtersPadded = s.colTiles * kTileRows;
  s.xBytes = cv.in.c * s.pixels * 2;
  s.dyBytes = s.blocks * kBlockRows * s.filtersPadded * 2;
  s.samples = std::max<int64_t>(1, (kMaxStack / 2) / (s.xBytes + s.dyBytes));
  s.samples = std::min<int64_t>(s.samples, 4);
  return s;
}

/// Copies sample r of x transposed into `xT`: channel c's padded image is
/// row c (s.pixels bfloat16). 16 padded pixels of a row by 16 channels at
/// a time are loaded as vectors of channels (zeros for the padding) and
/// transposed in registers.
void transposeImage(KernelEmitter &k, Vec &vec, const Conv &cv,
                    const FilterShape &s, const Node *x, Value *xT, Value *r) {
  const int64_t L = vec.lanes, hp = cv.out.h + cv.kh - 1;
  auto *i16s = FixedVectorType::get(k.b.getInt16Ty(), unsigned(L));
  auto *i32s = FixedVectorType::get(k.b.getInt32Ty(), unsigned(L));
  Value *base = k.buffer(x);
  k.loop(
      hp,
      [&](Value *yy) {
        Value *iy = subIdx(k, yy, k.i64(cv.padTop));
        Value *rowInside =
            k.b.CreateICmpULT(iy, k.i64(cv.in.h)); // iy < 0 wraps: outside
        // Outside the image, row 0 of the sample: read, then not used.
        Value *safeRow = k.b.CreateSelect(rowInside, iy, k.i64(0));
        for (int64_t x0 = 0; x0 < s.wp; x0 += L)
          for (int64_t c0 = 0; c0 < cv.in.c; c0 += L) {
            std::vector<Value *> pixels;
            for (int64_t j = 0; j < L; ++j) {
              int64_t ix = x0 + j - cv.padLeft;
              if (ix < 0 || ix >= cv.in.w || x0 + j >= s.wp) {
                pixels.push_back(Constant::getNullValue(i32s));
                continue;
              }
              Value *v = vec.load(
                  base,
                  addIdx(k, pixel(k, cv.in, r, safeRow, k.i64(ix)), k.i64(c0)),
                  L);
              pixels.push_back(k.b.CreateBitCast(
                  k.b.CreateSelect(rowInside, v, vec.zero()), i32s));
            }
            std::vector<Value *> channels = transpose16(k.b, pixels);
            int64_t used = std::min(L, s.wp - x0);
            for (int64_t c = 0; c < L; ++c) {
              Value *halves =
                  k.b.CreateTrunc(k.b.CreateLShr(channels[c], 16), i16s);
              Value *at = bf16At(k, xT,
                                 addIdx(k, k.i64((c0 + c) * s.pixels + x0),
                                        mulIdx(k, yy, s.wp)));
              if (used == L)
                k.b.CreateAlignedStore(halves, at, Align(2));
              else
                k.b.CreateMaskedStore(halves, at, Align(2), vec.mask(used));
            }
          }
      },
      "yy");
}

/// Copies sample r of dy as pairs of flat rows into `dyP`: row p holds,
/// for each filter, the pair of flat rows 2p and 2p + 1 (zeros for the
/// flat rows that are no output pixel, and for the padding filters).
void pairRows(KernelEmitter &k, Vec &vec, const Conv &cv, const FilterShape &s,
              const Node *dy, Value *dyP, Value *r) {
  Bf16 bf(vec);
  const int64_t L = vec.lanes;
  Value *base = k.buffer(dy);
  k.loop(
      s.blocks * kBlockRows / 2,
      [&](Value *p) {
        std::array<Value *, 2> index, inside;
        for (int64_t h = 0; h < 2; ++h) {
          Value *q = addIdx(k, mulIdx(k, p, 2), k.i64(h));
          Value *y = k.b.CreateUDiv(q, k.i64(s.wp));
          Value *x = k.b.CreateURem(q, k.i64(s.wp));
          inside[h] = k.b.CreateAnd(k.b.CreateICmpULT(x, k.i64(cv.out.w)),
                                    k.b.CreateICmpULT(y, k.i64(cv.out.h)));
          // Outside, pixel 0 of the sample: a valid address, not read.
          index[h] = k.b.CreateSelect(inside[h], pixel(k, cv.out, r, y, x),
                                      pixel(k, cv.out, r, k.i64(0), k.i64(0)));
        }
        for (int64_t f0 = 0; f0 < s.filtersPadded; f0 += L) {
          int64_t used = std::max<int64_t>(0, std::min(L, cv.out.c - f0));
          std::array<Value *, 2> rows;
          for (int64_t h = 0; h < 2; ++h)
            rows[h] = k.b.CreateMaskedLoad(
                vec.type, vec.at(base, addIdx(k, index[h], k.i64(f0))),
                Align(4),
                k.b.CreateAnd(vec.mask(used),
                              k.b.CreateVectorSplat(unsigned(L), inside[h])),
                vec.zero());
          bf.store(dyP,
                   addIdx(k, mulIdx(k, p, s.filtersPadded / L), k.i64(f0 / L)),
                   bf.interleave(rows[0], rows[1]));
        }
      },
      "p");
}

/// Adds the products of `count` copied samples to the product's blocks
/// (rowPair, colPair), `rowTiles` x `colTiles` of them, kept in `sums`
/// (block (i, j) at float 256 (i colTiles + j)).
void filterBlock(KernelEmitter &k, const Conv &cv, const FilterShape &s,
                 Value *xT, Value *dyP, Value *count, Value *sums,
                 Value *rowPair, Value *colPair, int64_t rowTiles,
                 int64_t colTiles) {
  Amx amx{k};
  auto sumsAt = [&](int64_t m, int64_t j) {
    Value *tile = addIdx(
        k, mulIdx(k, addIdx(k, mulIdx(k, rowPair, 2), k.i64(m)), s.colTiles),
        addIdx(k, mulIdx(k, colPair, 2), k.i64(j)));
    return k.b.CreateInBoundsGEP(k.b.getFloatTy(), sums,
                                 mulIdx(k, tile, kTileRows * kTileRows));
  };
  // Row tile t: channels 16 (t % channelTiles) of tap t / channelTiles,
  // at offset a wp + b along the channel's padded image.
  std::array<Value *, 2> rowStart;
  for (int64_t m = 0; m < rowTiles; ++m) {
    Value *t = addIdx(k, mulIdx(k, rowPair, 2), k.i64(m));
    Value *tap = k.b.CreateUDiv(t, k.i64(s.channelTiles));
    Value *c0 = mulIdx(k, k.b.CreateURem(t, k.i64(s.channelTiles)), kTileRows);
    Value *offset =
        addIdx(k, mulIdx(k, k.b.CreateUDiv(tap, k.i64(cv.kw)), s.wp),
               k.b.CreateURem(tap, k.i64(cv.kw)));
    rowStart[m] = addIdx(k, mulIdx(k, c0, s.pixels), offset);
  }
  for (int64_t m = 0; m < rowTiles; ++m)
    for (int64_t j = 0; j < colTiles; ++j)
      amx.load(int(2 * m + j), sumsAt(m, j), kTileRowBytes);
  k.loop(
      k.i64(0), count,
      [&](Value *i) {
        Value *x0 = mulIdx(k, i, s.xBytes / 2);
        Value *dy0 = mulIdx(k, i, s.dyBytes / 2);
        k.loop(
            s.blocks,
            [&](Value *blk) {
              for (int64_t m = 0; m < rowTiles; ++m)
                amx.load(int(4 + m),
                         bf16At(k, xT,
                                addIdx(k, addIdx(k, x0, rowStart[m]),
                                       mulIdx(k, blk, kBlockRows))),
                         s.pixels * 2);
              for (int64_t j = 0; j < colTiles; ++j) {
                Value *col = addIdx(k, mulIdx(k, colPair, 2), k.i64(j));
                Value *first = addIdx(
                    k, mulIdx(k, blk, kBlockRows / 2 * s.filtersPadded * 2),
                    mulIdx(k, col, 2 * kTileRows));
                amx.load(int(6 + j), bf16At(k, dyP, addIdx(k, dy0, first)),
                         s.filtersPadded * 4);
              }
              amx.products(rowTiles, colTiles);
            },
            "blk");
      },
      "i");
  for (int64_t m = 0; m < rowTiles; ++m)
    for (int64_t j = 0; j < colTiles; ++j)
      amx.store(int(2 * m + j), sumsAt(m, j), kTileRowBytes);
}

/// dw[f, a, b, c] for the 16 x 16 block (row tile t, column tile col) of
/// the product, where it exists: row t % channelTiles * 16 + i of tap t /
/// channelTiles is (a, b, c), column col * 16 + j filter f.
void storeFilterBlock(KernelEmitter &k, Vec &vec, const Node &n, const Conv &cv,
                      const FilterShape &s, Value *sums, Value *t, Value *col) {
  Value *exists = k.b.CreateAnd(k.b.CreateICmpULT(t, k.i64(s.rowTiles)),
                                k.b.CreateICmpULT(col, k.i64(s.colTiles)));
  forEachCase(
      k, k.b.CreateZExt(exists, k.b.getInt64Ty()), 2, [&](int64_t store) {
        if (!store)
          return;
        const int64_t taps = cv.kh * cv.kw, L = vec.lanes;
        Value *tap = k.b.CreateUDiv(t, k.i64(s.channelTiles));
        Value *c0 =
            mulIdx(k, k.b.CreateURem(t, k.i64(s.channelTiles)), kTileRows);
        Value *block = mulIdx(k, addIdx(k, mulIdx(k, t, s.colTiles), col),
                              kTileRows * kTileRows);
        Value *f0 = mulIdx(k, col, kTileRows);
        Value *filters =
            sminIdx(k, k.i64(kTileRows), subIdx(k, k.i64(cv.out.c), f0));
        k.loop(
            k.i64(0), filters,
            [&](Value *j) {
              // Column j of the block, gathered: 16 channels.
              std::vector<Constant *> rows;
              for (int64_t i = 0; i < L; ++i)
                rows.push_back(k.b.getInt64(uint64_t(i * kTileRows)));
              Value *index = k.b.CreateAdd(
                  k.b.CreateVectorSplat(unsigned(L), addIdx(k, block, j)),
                  ConstantVector::get(rows));
              Value *column = k.b.CreateMaskedGather(
                  vec.type, k.b.CreateGEP(k.b.getFloatTy(), sums, index),
                  Align(4), vec.mask(L), vec.zero());
              Value *at = addIdx(k, mulIdx(k, addIdx(k, f0, j), taps * cv.in.c),
                                 addIdx(k, mulIdx(k, tap, cv.in.c), c0));
              vec.store(k.buffer(&n), at, column, L);
            },
            "j");
      });
}

} // namespace

bool amxFilterGradientFits(const KernelEmitter &k, const Node &n,
                           const Conv &cv) {
  if (!k.amx || k.vectorWidth != 16 || !bf16Operands(n) || cv.stride != 1 ||
      cv.padTop < 0 || cv.padLeft < 0 || cv.in.c % kTileRows != 0)
    return false;
  FilterShape s = filterShape(cv);
  return s.xBytes + s.dyBytes <= kMaxStack / 2 &&
         s.rowTiles * s.colTiles * kTileRows * kTileRows * 4 <= kMaxStack;
}

void lowerAmxFilterGradient(KernelEmitter &k, const Node &n, const Conv &cv) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  const FilterShape s = filterShape(cv);
  Constant *config = tileConfig(*k.b.GetInsertBlock()->getModule(), 32);
  const int64_t blocks = s.rowPairs * s.colPairs;
  const int64_t blockWork = 4 * kTileRows * kTileRows * s.blocks * kBlockRows;
  // Each range copies every sample: one range per thread.
  k.parallelRanges(
      k.i64(blocks), mulIdx(k, k.n, blocks * blockWork),
      [&](KernelEmitter &e, Value *begin, Value *end) {
        Vec vec(e);
        Value *xT = stackBytes(e, s.samples * s.xBytes);
        Value *dyP = stackBytes(e, s.samples * s.dyBytes);
        const int64_t sumBytes =
            s.rowTiles * s.colTiles * kTileRows * kTileRows * 4;
        Value *sums = stackBytes(e, sumBytes);
        e.b.CreateMemSet(xT, e.b.getInt8(0), s.samples * s.xBytes, Align(64));
        e.b.CreateMemSet(sums, e.b.getInt8(0), sumBytes, Align(64));
        Amx amx{e};
        amx.call(Intrinsic::x86_ldtilecfg, {config});
        Value *groups = e.b.CreateUDiv(addIdx(e, e.n, e.i64(s.samples - 1)),
                                       e.i64(s.samples));
        e.loop(
            e.i64(0), groups,
            [&](Value *g) {
              Value *r0 = mulIdx(e, g, s.samples);
              Value *count = sminIdx(e, e.i64(s.samples), subIdx(e, e.n, r0));
              e.loop(
                  e.i64(0), count,
                  [&](Value *i) {
                    Value *r = addIdx(e, r0, i);
                    transposeImage(e, vec, cv, s, x,
                                   bf16At(e, xT, mulIdx(e, i, s.xBytes / 2)),
                                   r);
                    pairRows(e, vec, cv, s, dy,
                             bf16At(e, dyP, mulIdx(e, i, s.dyBytes / 2)), r);
                  },
                  "i");
              e.loop(
                  begin, end,
                  [&](Value *block) {
                    Value *rowPair = e.b.CreateUDiv(block, e.i64(s.colPairs));
                    Value *colPair = e.b.CreateURem(block, e.i64(s.colPairs));
                    // The last pair of rows or columns may hold one tile.
                    Value *oddRow = e.b.CreateICmpEQ(
                        rowPair, e.i64(s.rowTiles % 2 ? s.rowPairs - 1 : -1));
                    Value *oddCol = e.b.CreateICmpEQ(
                        colPair, e.i64(s.colTiles % 2 ? s.colPairs - 1 : -1));
                    Value *shape = e.b.CreateZExt(
                        e.b.CreateOr(
                            e.b.CreateShl(
                                e.b.CreateZExt(oddRow, e.b.getInt64Ty()), 1),
                            e.b.CreateZExt(oddCol, e.b.getInt64Ty())),
                        e.b.getInt64Ty());
                    forEachCase(e, shape, 4, [&](int64_t odd) {
                      filterBlock(e, cv, s, xT, dyP, count, sums, rowPair,
                                  colPair, odd & 2 ? 1 : 2, odd & 1 ? 1 : 2);
                    });
                  },
                  "block");
            },
            "g");
        amx.call(Intrinsic::x86_tilerelease, {});
        // dw[f, a, b, c] from row (a, b, c), column f of the blocks.
        e.loop(
            begin, end,
            [&](Value *block) {
              Value *rowPair = e.b.CreateUDiv(block, e.i64(s.colPairs));
              Value *colPair = e.b.CreateURem(block, e.i64(s.colPairs));
              for (int64_t m = 0; m < 2; ++m)
                for (int64_t j = 0; j < 2; ++j)
                  storeFilterBlock(e, vec, n, cv, s, sums,
                                   addIdx(e, mulIdx(e, rowPair, 2), e.i64(m)),
                                   addIdx(e, mulIdx(e, colPair, 2), e.i64(j)));
            },
            "block");
      },
      /*sweep=*/true);
}

} // namespace sora::ir::image
