//===- AmxConv.cpp - Convolutions on Intel AMX tiles ----------------------===//
//
// The stride-1 convolution nests (ConvNest: the forward convolution and its
// input gradient) on AMX tiles (Amx.h). Each sample's input is copied as
// bfloat16 into an image padded with zeros (written once per thread: the
// copies only overwrite its inside), whose taps are the A tiles of the
// flat rows. The kernel's packed pairs (packPairs) are already AMX's
// layout for B: a row of 16 output channels, each a pair of consecutive
// input channels. Tiles 0-3 hold the 2 x 2 blocks of sums (32 flat rows by
// 32 channels), 4-5 the two A tiles, 6-7 the two B tiles. Each block goes
// through a stack buffer to the stores, where the fused epilogue (bias,
// activation) runs. The samples are shared among threads.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"

#include <llvm/IR/Module.h>

namespace sora::ir {

using namespace llvm;

FlatRows flatRows(int64_t outH, int64_t outW, int64_t kh, int64_t kw) {
  FlatRows f;
  f.wp = outW + kw - 1;
  f.blocks = (outH * f.wp + kBlockRows - 1) / kBlockRows;
  f.pixels = std::max((outH + kh - 1) * f.wp,
                      f.blocks * kBlockRows + (kh - 1) * f.wp + kw - 1);
  return f;
}

Constant *tileConfig(Module &mod, int64_t kStep) {
  std::vector<uint8_t> bytes(64, 0);
  bytes[0] = 1;
  auto shape = [&](int tile, int64_t rows, int64_t colBytes) {
    bytes[16 + 2 * tile] = uint8_t(colBytes & 0xff);
    bytes[17 + 2 * tile] = uint8_t(colBytes >> 8);
    bytes[48 + tile] = uint8_t(rows);
  };
  for (int t = 0; t < 4; ++t)
    shape(t, kTileRows, kTileRowBytes);
  shape(4, kTileRows, 2 * kStep);
  shape(5, kTileRows, 2 * kStep);
  shape(6, kStep / 2, kTileRowBytes);
  shape(7, kStep / 2, kTileRowBytes);
  return readOnlyData(
      mod, ConstantDataArray::get(mod.getContext(), ArrayRef<uint8_t>(bytes)),
      "amx.tiles." + std::to_string(kStep));
}

Value *stackBytes(KernelEmitter &k, int64_t bytes) {
  Function *fn = k.b.GetInsertBlock()->getParent();
  IRBuilder<> entry(&fn->getEntryBlock(), fn->getEntryBlock().begin());
  AllocaInst *a = entry.CreateAlloca(ArrayType::get(entry.getInt8Ty(), bytes));
  a->setAlignment(Align(64));
  return a;
}

Value *bf16At(KernelEmitter &k, Value *base, Value *index) {
  return k.b.CreateInBoundsGEP(k.b.getInt16Ty(), base, index);
}

std::vector<Value *> transpose16(IRBuilder<> &b, std::vector<Value *> v) {
  for (int s = 8; s >= 1; s /= 2) {
    std::vector<int> low, high;
    for (int l = 0; l < 16; ++l) {
      low.push_back(l & s ? 16 + l - s : l);
      high.push_back(l & s ? 16 + l : l + s);
    }
    for (int i = 0; i < 16; ++i)
      if (!(i & s)) {
        Value *a = v[i], *c = v[i + s];
        v[i] = b.CreateShuffleVector(a, c, low);
        v[i + s] = b.CreateShuffleVector(a, c, high);
      }
  }
  return v;
}

void ifAmxReady(KernelEmitter &k, const std::function<void()> &amx,
                const std::function<void()> &vectors) {
  Module &mod = *k.b.GetInsertBlock()->getModule();
  FunctionCallee ready =
      mod.getOrInsertFunction("sora_amx_ready", k.b.getInt32Ty());
  forEachCase(k, k.b.CreateZExt(k.b.CreateCall(ready), k.b.getInt64Ty()), 2,
              [&](int64_t useAmx) { useAmx ? amx() : vectors(); });
}

} // namespace sora::ir

namespace sora::ir::image {

namespace {

/// The tiles of nest `c` for output channels [o0, oEnd).
struct AmxShape : FlatRows {
  int64_t kStep;   ///< input channels per A row (bfloat16)
  int64_t chunks;  ///< A rows per tap: in.c / kStep
  int64_t vectors; ///< vectors of 16 output channels
};

AmxShape amxShape(const ConvNest &c, int64_t o0, int64_t oEnd) {
  AmxShape s;
  static_cast<FlatRows &>(s) = flatRows(c.outImg.h, c.outImg.w, c.kh, c.kw);
  s.kStep = std::min<int64_t>(c.inImg.c, 32);
  s.chunks = c.inImg.c / s.kStep;
  s.vectors = (oEnd - o0 + kTileRows - 1) / kTileRows;
  return s;
}

/// Copies sample r of the nest's input into the padded image, as
/// bfloat16 (the upper halves of its round_bf16 values), 32 channels a
/// store.
void copyImage(KernelEmitter &k, Vec &vec, const ConvNest &c, const AmxShape &s,
               Value *image, Value *r) {
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
              Value *to =
                  mulIdx(k,
                         addIdx(k, mulIdx(k, addIdx(k, y, k.i64(c.padY)), s.wp),
                                addIdx(k, x, k.i64(c.padX))),
                         cin);
              for (int64_t c0 = 0; c0 < cin; c0 += 2 * L) {
                int64_t left = cin - c0;
                Value *lo =
                    vec.load(in, addIdx(k, from, k.i64(c0)), std::min(left, L));
                Value *hi = left > L
                                ? vec.load(in, addIdx(k, from, k.i64(c0 + L)),
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
  amx.zeroSums(2, bTiles);
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
                              addIdx(k, first, k.i64(m * kTileRows * cin))),
                       2 * cin);
            // B: pair vectors ((a kw + b) C/2 + pair) V + v, V apart.
            Value *tap = addIdx(k, mulIdx(k, a, c.kw), k.i64(b));
            Value *pair =
                addIdx(k, mulIdx(k, tap, half), k.i64(chunk * s.kStep / 2));
            Value *vector = addIdx(k, mulIdx(k, pair, s.vectors), k.i64(v));
            for (int j = 0; j < bTiles; ++j)
              amx.load(6 + j,
                       bf16At(k, packed,
                              mulIdx(k, addIdx(k, vector, k.i64(j)),
                                     kTileRowBytes / 2)),
                       s.vectors * kTileRowBytes);
            amx.products(2, bTiles);
          }
      },
      "a");
}

/// Stores the block's sums that are output pixels of sample r (flat rows
/// with x < out.w, y < out.h), through `sums` (tile t at float 256 t).
void storeBlock(KernelEmitter &k, Vec &vec, const ConvNest &c,
                const AmxShape &s, Value *sums, Value *r, Value *blk,
                int64_t o0, int64_t oEnd, int64_t v, int64_t bTiles) {
  Amx{k}.storeSums(2, bTiles, sums);
  k.loop(
      kBlockRows,
      [&](Value *m) {
        Value *q = addIdx(k, mulIdx(k, blk, kBlockRows), m);
        Value *y = k.b.CreateUDiv(q, k.i64(s.wp));
        Value *x = k.b.CreateURem(q, k.i64(s.wp));
        Value *isPixel = k.b.CreateAnd(k.b.CreateICmpULT(x, k.i64(c.outImg.w)),
                                       k.b.CreateICmpULT(y, k.i64(c.outImg.h)));
        forEachCase(
            k, k.b.CreateZExt(isPixel, k.b.getInt64Ty()), 2,
            [&](int64_t store) {
              if (!store)
                return;
              Value *at = pixel(k, c.outImg, r, y, x);
              // Row m % 16 of tile 2 (m / 16) + j.
              Value *tileRow = addIdx(
                  k,
                  mulIdx(k, k.b.CreateUDiv(m, k.i64(kTileRows)),
                         2 * kTileRows * kTileRows),
                  mulIdx(k, k.b.CreateURem(m, k.i64(kTileRows)), kTileRows));
              for (int64_t j = 0; j < bTiles; ++j) {
                int64_t channel = o0 + (v + j) * kTileRows;
                Value *sum = vec.load(
                    sums, addIdx(k, tileRow, k.i64(j * kTileRows * kTileRows)),
                    kTileRows);
                k.storeResult(*c.out, addIdx(k, at, k.i64(channel)), sum,
                              k.i64(channel),
                              std::min<int64_t>(kTileRows, oEnd - channel));
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
  int64_t packedBytes = c.kh * c.kw * (cin / 2) * s.vectors * kTileRowBytes;
  return packedBytes <= kMaxStack && s.pixels * cin * 2 <= kMaxStack;
}

void emitAmxConvNest(KernelEmitter &k, const ConvNest &c, int64_t o0,
                     int64_t oEnd) {
  const AmxShape s = amxShape(c, o0, oEnd);
  Constant *config = tileConfig(*k.b.GetInsertBlock()->getModule(), s.kStep);
  const int64_t sampleWork =
      c.outImg.h * c.outImg.w * (oEnd - o0) * c.kh * c.kw * c.inImg.c;
  // One range per thread: each starts by packing the kernel and zeroing
  // its image (the samples cost the same, so the ranges even out).
  k.parallelRanges(
      k.n, mulIdx(k, k.n, sampleWork),
      [&](KernelEmitter &e, Value *begin, Value *end) {
        Vec vec(e);
        Value *packed = packPairs(e, vec, c, c.prepare(e), o0, oEnd);
        const int64_t imageBytes = s.pixels * c.inImg.c * 2;
        Value *image = stackBytes(e, imageBytes);
        e.b.CreateMemSet(image, e.b.getInt8(0), imageBytes, Align(64));
        Value *sums = e.tile(4 * kTileRows * kTileRows);
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
      },
      /*sweep=*/true);
}

} // namespace sora::ir::image
