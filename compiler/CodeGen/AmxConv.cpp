//===- AmxConv.cpp - Convolutions on Intel AMX tiles ----------------------===//
//
// With `precision = bf16` on a CPU with AMX (Intel's Sapphire Rapids and
// later), a stride-1 convolution nest (ConvNest: the forward convolution
// and its input gradient) is an implicit matrix product on AMX's tile
// registers: one tdpbf16ps multiplies 16 x 32 bfloat16 by 32 x 16 into
// 16 x 16 f32 sums, 16 times the multiply-adds of a vdpbf16ps.
//
// Each sample's input is copied as bfloat16 into an image padded with
// zeros (written once per thread: the copies only overwrite its inside),
// Wp = out.w + kw - 1 columns wide. Output pixel (y, x) is then "flat row"
// q = y Wp + x, and its tap (a, b) is padded pixel q + a Wp + b: for every
// tap, 16 consecutive flat rows are 16 pixels a fixed stride apart, one
// tile load (A). Flat rows with x >= out.w are computed and never stored.
// The kernel's packed pairs (packPairs) are already AMX's layout for B:
// a row of 16 output channels, each a pair of consecutive input channels.
//
// Tiles 0-3 hold the 2 x 2 blocks of sums (32 flat rows by 32 channels),
// 4-5 the two A tiles, 6-7 the two B tiles. Each block goes through a stack
// buffer to the stores, where the fused epilogue (bias, activation) runs.
// The sums are those of f32 products of the same rounded operands, in
// another order; each sample's outputs are computed by one thread, the same
// whatever their number.
//
// The filter gradient dw[f, a, b, c] sums over the same flat rows:
// (a, b, c) are the rows of the product, f its columns, the flat rows its
// reduction. A tiles are rows of x transposed (each channel's padded image
// as one bfloat16 row, so that a tap is an offset along it), B tiles dy's
// flat rows in pairs (AMX's layout). The product's 16 x 16 blocks are summed
// over the whole batch in a stack buffer, a thread's blocks at a time: the
// threads share the blocks, each through every sample (which each thread
// copies), so the sums do not depend on their number either. Where the OS
// refuses AMX (sora_amx_ready, asked at run time), the vector code runs.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"

#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/Module.h>

namespace sora::ir::image {

namespace {

using namespace llvm;

constexpr int64_t kRows = 16;        ///< rows of a tile
constexpr int64_t kRowBytes = 64;    ///< bytes of a tile's row
constexpr int64_t kBlockRows = 32;   ///< flat rows of a block: 2 A tiles
constexpr int64_t kMaxStack = 1 << 19; ///< bytes of each copy on the stack
/// Parts of a filter gradient's blocks for the threads (each copies every
/// sample of the batch).
constexpr int64_t kFilterParts = 2;

/// The tiles of nest `c` for output channels [o0, oEnd).
struct AmxShape {
  int64_t kStep;  ///< input channels per A row (bfloat16)
  int64_t chunks; ///< A rows per tap: in.c / kStep
  int64_t wp;     ///< columns of the padded image
  int64_t blocks; ///< blocks of 32 flat rows per sample
  int64_t pixels; ///< pixels of the padded image, with what the last
                  ///< block's taps read past its end
  int64_t vectors; ///< vectors of 16 output channels
};

AmxShape amxShape(const ConvNest &c, int64_t o0, int64_t oEnd) {
  AmxShape s;
  const int64_t cin = c.inImg.c;
  s.kStep = std::min<int64_t>(cin, 32);
  s.chunks = cin / s.kStep;
  s.wp = c.outImg.w + c.kw - 1;
  s.blocks = (c.outImg.h * s.wp + kBlockRows - 1) / kBlockRows;
  s.pixels = std::max((c.outImg.h + c.kh - 1) * s.wp,
                      s.blocks * kBlockRows + (c.kh - 1) * s.wp + c.kw - 1);
  s.vectors = (oEnd - o0 + kRows - 1) / kRows;
  return s;
}

/// The 64-byte tile configuration (palette 1): tiles 0-3 16 x 16 f32, 4-5
/// 16 rows of kStep bfloat16, 6-7 kStep / 2 rows of 16 pairs.
Constant *tileConfig(Module &mod, int64_t kStep) {
  std::vector<uint8_t> bytes(64, 0);
  bytes[0] = 1;
  auto shape = [&](int tile, int64_t rows, int64_t colBytes) {
    bytes[16 + 2 * tile] = uint8_t(colBytes & 0xff);
    bytes[17 + 2 * tile] = uint8_t(colBytes >> 8);
    bytes[48 + tile] = uint8_t(rows);
  };
  for (int t = 0; t < 4; ++t)
    shape(t, kRows, kRowBytes);
  shape(4, kRows, 2 * kStep);
  shape(5, kRows, 2 * kStep);
  shape(6, kStep / 2, kRowBytes);
  shape(7, kStep / 2, kRowBytes);
  return readOnlyData(mod,
                      ConstantDataArray::get(mod.getContext(),
                                             ArrayRef<uint8_t>(bytes)),
                      "amx.tiles." + std::to_string(kStep));
}

/// AMX's instructions on fixed tile registers (the intrinsics clang's
/// _tile_* macros use): LLVM treats each as touching any memory, so loads
/// and stores around them stay in order.
struct Amx {
  KernelEmitter &k;
  Value *tile(int t) { return k.b.getInt8(uint8_t(t)); }
  void call(Intrinsic::ID id, std::vector<Value *> args) {
    k.b.CreateIntrinsic(id, {}, args);
  }
  void zero(int t) { call(Intrinsic::x86_tilezero, {tile(t)}); }
  void load(int t, Value *at, int64_t stride) {
    call(Intrinsic::x86_tileloadd64, {tile(t), at, k.i64(stride)});
  }
  void store(int t, Value *at, int64_t stride) {
    call(Intrinsic::x86_tilestored64, {tile(t), at, k.i64(stride)});
  }
  void dot(int c, int a, int b) {
    call(Intrinsic::x86_tdpbf16ps, {tile(c), tile(a), tile(b)});
  }
};

/// A 64-byte aligned stack buffer of `bytes`, once per call of the function.
Value *stackBytes(KernelEmitter &k, int64_t bytes) {
  Function *fn = k.b.GetInsertBlock()->getParent();
  IRBuilder<> entry(&fn->getEntryBlock(), fn->getEntryBlock().begin());
  AllocaInst *a = entry.CreateAlloca(ArrayType::get(entry.getInt8Ty(), bytes));
  a->setAlignment(Align(64));
  return a;
}

/// The bfloat16 element `index` of `base`.
Value *bf16At(KernelEmitter &k, Value *base, Value *index) {
  return k.b.CreateInBoundsGEP(k.b.getInt16Ty(), base, index);
}

/// Copies sample r of the nest's input into the padded image, as
/// bfloat16 (the upper halves of its round_bf16 values), 32 channels a
/// store.
void copyImage(KernelEmitter &k, Vec &vec, const ConvNest &c,
               const AmxShape &s, Value *image, Value *r) {
  Bf16 bf(vec);
  const int64_t cin = c.inImg.c, L = vec.lanes;
  const int64_t rows = std::min(c.inImg.h, c.outImg.h + c.kh - 1 - c.padY);
  const int64_t cols = std::min(c.inImg.w, s.wp - c.padX);
  Value *in = k.buffer(c.in);
  k.loop(
      rows,
      [&](Value *y) {
        k.loop(
            cols,
            [&](Value *x) {
              Value *from = pixel(k, c.inImg, r, y, x);
              Value *to = mulIdx(
                  k,
                  addIdx(k, mulIdx(k, addIdx(k, y, k.i64(c.padY)), s.wp),
                         addIdx(k, x, k.i64(c.padX))),
                  cin);
              for (int64_t c0 = 0; c0 < cin; c0 += 2 * L) {
                int64_t left = cin - c0;
                Value *lo = vec.load(in, addIdx(k, from, k.i64(c0)),
                                     std::min(left, L));
                Value *hi = left > L ? vec.load(in,
                                                addIdx(k, from, k.i64(c0 + L)),
                                                std::min(left - L, L))
                                     : vec.zero();
                Value *pairs = bf.pack(lo, hi);
                Value *at = bf16At(k, image, addIdx(k, to, k.i64(c0)));
                if (left >= 2 * L) {
                  k.b.CreateAlignedStore(pairs, at, Align(2));
                } else {
                  std::vector<Constant *> mask;
                  for (int64_t j = 0; j < 2 * L; ++j)
                    mask.push_back(k.b.getInt1(j < left));
                  k.b.CreateMaskedStore(pairs, at, Align(2),
                                        ConstantVector::get(mask));
                }
              }
            },
            "x");
      },
      "y");
}

/// The 2 x `bTiles` blocks of sums of flat rows [32 blk, 32 blk + 32) and
/// channel vectors [v, v + bTiles), left in tiles 0-3 (tile 2 m + j: rows
/// 16 m on, vector v + j).
void blockSums(KernelEmitter &k, const ConvNest &c, const AmxShape &s,
               Value *image, Value *packed, Value *blk, int64_t v,
               int64_t bTiles) {
  Amx amx{k};
  const int64_t cin = c.inImg.c, half = cin / 2;
  for (int m = 0; m < 2; ++m)
    for (int j = 0; j < bTiles; ++j)
      amx.zero(2 * m + j);
  k.loop(
      c.kh,
      [&](Value *a) {
        for (int64_t b = 0; b < c.kw; ++b)
          for (int64_t chunk = 0; chunk < s.chunks; ++chunk) {
            // A: padded pixels 32 blk + a wp + b on, kStep channels.
            Value *row = addIdx(
                k, addIdx(k, mulIdx(k, blk, kBlockRows), mulIdx(k, a, s.wp)),
                k.i64(b));
            Value *first =
                addIdx(k, mulIdx(k, row, cin), k.i64(chunk * s.kStep));
            for (int m = 0; m < 2; ++m)
              amx.load(4 + m,
                       bf16At(k, image,
                              addIdx(k, first, k.i64(m * kRows * cin))),
                       2 * cin);
            // B: pair vectors ((a kw + b) C/2 + pair) V + v, V apart.
            Value *tap = addIdx(k, mulIdx(k, a, c.kw), k.i64(b));
            Value *pair =
                addIdx(k, mulIdx(k, tap, half), k.i64(chunk * s.kStep / 2));
            Value *vector =
                addIdx(k, mulIdx(k, pair, s.vectors), k.i64(v));
            for (int j = 0; j < bTiles; ++j)
              amx.load(6 + j,
                       bf16At(k, packed,
                              mulIdx(k, addIdx(k, vector, k.i64(j)),
                                     kRowBytes / 2)),
                       s.vectors * kRowBytes);
            for (int m = 0; m < 2; ++m)
              for (int j = 0; j < bTiles; ++j)
                amx.dot(2 * m + j, 4 + m, 6 + j);
          }
      },
      "a");
}

/// Stores the block's sums that are output pixels of sample r (flat rows
/// with x < out.w, y < out.h), through `sums` (tile t at float 256 t).
void storeBlock(KernelEmitter &k, Vec &vec, const ConvNest &c,
                const AmxShape &s, Value *sums, Value *r, Value *blk,
                int64_t o0, int64_t oEnd, int64_t v, int64_t bTiles) {
  Amx amx{k};
  for (int m = 0; m < 2; ++m)
    for (int j = 0; j < bTiles; ++j)
      amx.store(2 * m + j,
                k.b.CreateInBoundsGEP(k.b.getFloatTy(), sums,
                                      k.i64((2 * m + j) * kRows * kRows)),
                kRowBytes);
  k.loop(
      kBlockRows,
      [&](Value *m) {
        Value *q = addIdx(k, mulIdx(k, blk, kBlockRows), m);
        Value *y = k.b.CreateUDiv(q, k.i64(s.wp));
        Value *x = k.b.CreateURem(q, k.i64(s.wp));
        Value *isPixel = k.b.CreateAnd(k.b.CreateICmpULT(x, k.i64(c.outImg.w)),
                                       k.b.CreateICmpULT(y, k.i64(c.outImg.h)));
        forEachCase(k, k.b.CreateZExt(isPixel, k.b.getInt64Ty()), 2,
                    [&](int64_t store) {
                      if (!store)
                        return;
                      Value *at = pixel(k, c.outImg, r, y, x);
                      // Row m % 16 of tile 2 (m / 16) + j.
                      Value *tileRow = addIdx(
                          k,
                          mulIdx(k, k.b.CreateUDiv(m, k.i64(kRows)),
                                 2 * kRows * kRows),
                          mulIdx(k, k.b.CreateURem(m, k.i64(kRows)), kRows));
                      for (int64_t j = 0; j < bTiles; ++j) {
                        int64_t channel = o0 + (v + j) * kRows;
                        Value *sum = vec.load(
                            sums,
                            addIdx(k, tileRow, k.i64(j * kRows * kRows)),
                            kRows);
                        k.storeResult(
                            *c.out,
                            addIdx(k, at, k.i64(channel)),
                            sum, k.i64(channel),
                            std::min<int64_t>(kRows, oEnd - channel));
                      }
                    });
      },
      "m");
}

/// The filter gradient's shapes: flat rows as in the nest (AmxShape), the
/// product's rows (a, b, c) in tiles of 16 channels of one tap, its
/// columns (filters) in tiles of 16, both taken two at a time.
struct FilterShape {
  int64_t wp, blocks, pixels; ///< as AmxShape's
  int64_t channelTiles;       ///< tiles of 16 channels per tap
  int64_t rowTiles, colTiles; ///< of the product: taps x channelTiles, F/16
  int64_t rowPairs, colPairs;
  int64_t filtersPadded;      ///< filters in whole tiles (dy's pairs' rows)
  int64_t samples;            ///< samples copied at a time
  int64_t xBytes, dyBytes;    ///< one sample's copies
};

FilterShape filterShape(const Conv &cv) {
  FilterShape s;
  s.wp = cv.out.w + cv.kw - 1;
  s.blocks = (cv.out.h * s.wp + kBlockRows - 1) / kBlockRows;
  s.pixels = std::max((cv.out.h + cv.kh - 1) * s.wp,
                      s.blocks * kBlockRows + (cv.kh - 1) * s.wp + cv.kw - 1);
  s.channelTiles = cv.in.c / kRows;
  s.rowTiles = cv.kh * cv.kw * s.channelTiles;
  s.colTiles = (cv.out.c + kRows - 1) / kRows;
  s.rowPairs = (s.rowTiles + 1) / 2;
  s.colPairs = (s.colTiles + 1) / 2;
  s.filtersPadded = s.colTiles * kRows;
  s.xBytes = cv.in.c * s.pixels * 2;
  s.dyBytes = s.blocks * kBlockRows * s.filtersPadded * 2;
  s.samples = std::max<int64_t>(1, (kMaxStack / 2) / (s.xBytes + s.dyBytes));
  s.samples = std::min<int64_t>(s.samples, 4);
  return s;
}

/// Copies sample r of x transposed into `xT`: channel c's padded image is
/// row c (s.pixels bfloat16), gathered 16 columns at a time; the padding
/// comes from the masked-off lanes.
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
        Value *rowStart = mulSigned(
            k, addSigned(k, mulSigned(k, r, cv.in.h), iy), cv.in.w);
        for (int64_t x0 = 0; x0 < s.wp; x0 += L) {
          // Lane j: padded column x0 + j, input column x0 + j - padLeft,
          // C floats apart in x (masked off outside the image).
          std::vector<Constant *> offsets, inside;
          for (int64_t j = 0; j < L; ++j) {
            int64_t ix = x0 + j - cv.padLeft;
            bool in = ix >= 0 && ix < cv.in.w && x0 + j < s.wp;
            offsets.push_back(k.b.getInt32(uint32_t(in ? ix * cv.in.c : 0)));
            inside.push_back(k.b.getInt1(in));
          }
          Value *mask = k.b.CreateAnd(ConstantVector::get(inside),
                                      k.b.CreateVectorSplat(unsigned(L),
                                                            rowInside));
          int64_t used = std::min(L, s.wp - x0);
          k.loop(
              cv.in.c,
              [&](Value *c) {
                // Pixels (r, iy, ix) channel c: (rowStart + ix) C + c. An
                // explicit vgatherdps: LLVM's generic gather becomes 16
                // scalar loads on Intel's tuning.
                Value *first = vec.at(
                    base, addSigned(k, mulSigned(k, rowStart, cv.in.c), c));
                Value *values = k.b.CreateIntrinsic(
                    Intrinsic::x86_avx512_mask_gather_dps_512, {},
                    {vec.zero(), first, ConstantVector::get(offsets), mask,
                     k.b.getInt32(4)});
                Value *halves = k.b.CreateTrunc(
                    k.b.CreateLShr(k.b.CreateBitCast(values, i32s), 16),
                    i16s);
                Value *at = bf16At(
                    k, xT,
                    addIdx(k, mulIdx(k, c, s.pixels),
                           addIdx(k, mulIdx(k, yy, s.wp), k.i64(x0))));
                if (used == L)
                  k.b.CreateAlignedStore(halves, at, Align(2));
                else
                  k.b.CreateMaskedStore(halves, at, Align(2),
                                        vec.mask(used));
              },
              "c");
        }
      },
      "yy");
}

/// Copies sample r of dy as pairs of flat rows into `dyP`: row p holds,
/// for each filter, the pair of flat rows 2p and 2p + 1 (zeros for the
/// flat rows that are no output pixel, and for the padding filters).
void pairRows(KernelEmitter &k, Vec &vec, const Conv &cv,
              const FilterShape &s, const Node *dy, Value *dyP, Value *r) {
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
                                 mulIdx(k, tile, kRows * kRows));
  };
  // Row tile t: channels 16 (t % channelTiles) of tap t / channelTiles,
  // at offset a wp + b along the channel's padded image.
  std::array<Value *, 2> rowStart;
  for (int64_t m = 0; m < rowTiles; ++m) {
    Value *t = addIdx(k, mulIdx(k, rowPair, 2), k.i64(m));
    Value *tap = k.b.CreateUDiv(t, k.i64(s.channelTiles));
    Value *c0 = mulIdx(k, k.b.CreateURem(t, k.i64(s.channelTiles)), kRows);
    Value *offset =
        addIdx(k, mulIdx(k, k.b.CreateUDiv(tap, k.i64(cv.kw)), s.wp),
               k.b.CreateURem(tap, k.i64(cv.kw)));
    rowStart[m] = addIdx(k, mulIdx(k, c0, s.pixels), offset);
  }
  for (int64_t m = 0; m < rowTiles; ++m)
    for (int64_t j = 0; j < colTiles; ++j)
      amx.load(int(2 * m + j), sumsAt(m, j), kRowBytes);
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
                    k,
                    mulIdx(k, blk, kBlockRows / 2 * s.filtersPadded * 2),
                    mulIdx(k, col, 2 * kRows));
                amx.load(int(6 + j), bf16At(k, dyP, addIdx(k, dy0, first)),
                         s.filtersPadded * 4);
              }
              for (int64_t m = 0; m < rowTiles; ++m)
                for (int64_t j = 0; j < colTiles; ++j)
                  amx.dot(int(2 * m + j), int(4 + m), int(6 + j));
            },
            "blk");
      },
      "i");
  for (int64_t m = 0; m < rowTiles; ++m)
    for (int64_t j = 0; j < colTiles; ++j)
      amx.store(int(2 * m + j), sumsAt(m, j), kRowBytes);
}

/// dw[f, a, b, c] for the 16 x 16 block (row tile t, column tile col) of
/// the product, where it exists: row t % channelTiles * 16 + i of tap t /
/// channelTiles is (a, b, c), column col * 16 + j filter f.
void storeFilterBlock(KernelEmitter &k, Vec &vec, const Node &n,
                      const Conv &cv, const FilterShape &s, Value *sums,
                      Value *t, Value *col) {
  Value *exists = k.b.CreateAnd(k.b.CreateICmpULT(t, k.i64(s.rowTiles)),
                                k.b.CreateICmpULT(col, k.i64(s.colTiles)));
  forEachCase(k, k.b.CreateZExt(exists, k.b.getInt64Ty()), 2,
              [&](int64_t store) {
                if (!store)
                  return;
                const int64_t taps = cv.kh * cv.kw, L = vec.lanes;
                Value *tap = k.b.CreateUDiv(t, k.i64(s.channelTiles));
                Value *c0 = mulIdx(
                    k, k.b.CreateURem(t, k.i64(s.channelTiles)), kRows);
                Value *block = mulIdx(
                    k, addIdx(k, mulIdx(k, t, s.colTiles), col),
                    kRows * kRows);
                Value *f0 = mulIdx(k, col, kRows);
                Value *filters =
                    sminIdx(k, k.i64(kRows), subIdx(k, k.i64(cv.out.c), f0));
                k.loop(
                    k.i64(0), filters,
                    [&](Value *j) {
                      // Column j of the block, gathered: 16 channels.
                      std::vector<Constant *> rows;
                      for (int64_t i = 0; i < L; ++i)
                        rows.push_back(k.b.getInt64(uint64_t(i * kRows)));
                      Value *index = k.b.CreateAdd(
                          k.b.CreateVectorSplat(unsigned(L),
                                                addIdx(k, block, j)),
                          ConstantVector::get(rows));
                      Value *column = k.b.CreateMaskedGather(
                          vec.type, k.b.CreateGEP(k.b.getFloatTy(), sums, index),
                          Align(4), vec.mask(L), vec.zero());
                      Value *at = addIdx(
                          k,
                          mulIdx(k, addIdx(k, f0, j), taps * cv.in.c),
                          addIdx(k, mulIdx(k, tap, cv.in.c), c0));
                      vec.store(k.buffer(&n), at, column, L);
                    },
                    "j");
              });
}

} // namespace

void ifAmxReady(KernelEmitter &k, const std::function<void()> &amx,
                const std::function<void()> &vectors) {
  Module &mod = *k.b.GetInsertBlock()->getModule();
  FunctionCallee ready =
      mod.getOrInsertFunction("sora_amx_ready", k.b.getInt32Ty());
  forEachCase(k, k.b.CreateZExt(k.b.CreateCall(ready), k.b.getInt64Ty()), 2,
              [&](int64_t useAmx) { useAmx ? amx() : vectors(); });
}

bool amxFilterGradientFits(const KernelEmitter &k, const Node &n,
                           const Conv &cv) {
  if (!k.amx || k.vectorWidth != 16 || !bf16Operands(n) || cv.stride != 1 ||
      cv.padTop < 0 || cv.padLeft < 0 || cv.in.c % kRows != 0)
    return false;
  FilterShape s = filterShape(cv);
  return s.xBytes + s.dyBytes <= kMaxStack / 2 &&
         s.rowTiles * s.colTiles * kRows * kRows * 4 <= kMaxStack;
}

void lowerAmxFilterGradient(KernelEmitter &k, const Node &n, const Conv &cv) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  const FilterShape s = filterShape(cv);
  Constant *config = tileConfig(*k.b.GetInsertBlock()->getModule(), 32);
  const int64_t blocks = s.rowPairs * s.colPairs;
  const int64_t blockWork = 4 * kRows * kRows * s.blocks * kBlockRows;
  // Each part of the blocks copies every sample: two parts, one per thread
  // on two threads (a sora_parallel_for on one thread runs both as one
  // range, copying once); more threads than two leave the others idle.
  const int64_t parts = std::min<int64_t>(blocks, kFilterParts);
  k.parallelRanges(
      k.i64(parts), mulIdx(k, k.n, blocks * blockWork),
      [&](KernelEmitter &e, Value *firstPart, Value *endPart) {
        Vec vec(e);
        Value *begin =
            e.b.CreateUDiv(mulIdx(e, firstPart, blocks), e.i64(parts));
        Value *end = e.b.CreateUDiv(mulIdx(e, endPart, blocks), e.i64(parts));
        Value *xT = stackBytes(e, s.samples * s.xBytes);
        Value *dyP = stackBytes(e, s.samples * s.dyBytes);
        const int64_t sumBytes = s.rowTiles * s.colTiles * kRows * kRows * 4;
        Value *sums = stackBytes(e, sumBytes);
        e.b.CreateMemSet(xT, e.b.getInt8(0), s.samples * s.xBytes, Align(64));
        e.b.CreateMemSet(sums, e.b.getInt8(0), sumBytes, Align(64));
        Amx amx{e};
        amx.call(Intrinsic::x86_ldtilecfg, {config});
        Value *groups = e.b.CreateUDiv(
            addIdx(e, e.n, e.i64(s.samples - 1)), e.i64(s.samples));
        e.loop(
            e.i64(0), groups,
            [&](Value *g) {
              Value *r0 = mulIdx(e, g, s.samples);
              Value *count =
                  sminIdx(e, e.i64(s.samples), subIdx(e, e.n, r0));
              e.loop(
                  e.i64(0), count,
                  [&](Value *i) {
                    Value *r = addIdx(e, r0, i);
                    transposeImage(
                        e, vec, cv, s, x,
                        bf16At(e, xT, mulIdx(e, i, s.xBytes / 2)), r);
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
                        e.b.CreateOr(e.b.CreateShl(e.b.CreateZExt(oddRow, e.b.getInt64Ty()), 1),
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
      });
}

bool amxConvNestFits(const KernelEmitter &k, const ConvNest &c, int64_t o0,
                     int64_t oEnd) {
  const int64_t cin = c.inImg.c;
  if (!k.amx || k.vectorWidth != 16 || !c.bf16Operands || c.stride != 1 ||
      c.padX < 0 || c.padY < 0 || cin % 2 != 0 || (cin > 32 && cin % 32 != 0))
    return false;
  AmxShape s = amxShape(c, o0, oEnd);
  int64_t packedBytes = c.kh * c.kw * (cin / 2) * s.vectors * kRowBytes;
  return packedBytes <= kMaxStack && s.pixels * cin * 2 <= kMaxStack;
}

void emitAmxConvNest(KernelEmitter &k, const ConvNest &c, int64_t o0,
                     int64_t oEnd) {
  const AmxShape s = amxShape(c, o0, oEnd);
  Constant *config =
      tileConfig(*k.b.GetInsertBlock()->getModule(), s.kStep);
  const int64_t sampleWork =
      c.outImg.h * c.outImg.w * (oEnd - o0) * c.kh * c.kw * c.inImg.c;
  k.parallelRanges(
      k.n, mulIdx(k, k.n, sampleWork),
      [&](KernelEmitter &e, Value *begin, Value *end) {
        Vec vec(e);
        Value *packed = packPairs(e, vec, c, c.prepare(e), o0, oEnd);
        const int64_t imageBytes = s.pixels * c.inImg.c * 2;
        Value *image = stackBytes(e, imageBytes);
        e.b.CreateMemSet(image, e.b.getInt8(0), imageBytes, Align(64));
        Value *sums = e.tile(4 * kRows * kRows);
        Amx amx{e};
        amx.call(Intrinsic::x86_ldtilecfg, {config});
        e.loop(
            begin, end,
            [&](Value *r) {
              copyImage(e, vec, c, s, image, r);
              e.loop(
                  s.blocks,
                  [&](Value *blk) {
                    for (int64_t v = 0; v < s.vectors; v += 2) {
                      int64_t bTiles = std::min<int64_t>(2, s.vectors - v);
                      blockSums(e, c, s, image, packed, blk, v, bTiles);
                      storeBlock(e, vec, c, s, sums, r, blk, o0, oEnd, v,
                                 bTiles);
                    }
                  },
                  "blk");
            },
            "r");
        amx.call(Intrinsic::x86_tilerelease, {});
      });
}

} // namespace sora::ir::image
