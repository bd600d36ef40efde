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

} // namespace

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
