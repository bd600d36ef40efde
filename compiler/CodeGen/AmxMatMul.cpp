//===- AmxMatMul.cpp - A dense layer's products on AMX tiles --------------===//
//
// matmul_nt, Y[r, j] = sum_k A[r, k] B[j, k] (a dense layer's forward
// product, B its [M, K] weights), and matmul, Y[r, j] = sum_k A[r, k]
// B[k, j] (its input gradient, B the same weights as [K, M]), with
// `precision = bf16` on AMX (Amx.h): 32 rows of A by 32 columns of Y at a
// time in tiles 0-3, over k in steps of 32. A's rows are copied to
// bfloat16 (32 rows at a time, k padded with zeros to a multiple of 32),
// and B once per thread into AMX's layout for the right operand: a tile row
// holds, for 16 consecutive j, the pair of k and k + 1. For matmul those
// are two rows of B interleaved; for matmul_nt, B's rows are read as pairs
// and transposed 16 x 16 in registers. Each block of sums goes through a
// stack buffer to the stores, where the fused epilogue (bias, activation)
// runs. The blocks of rows are shared among threads, one range each (each
// packs B); each sum is computed by one thread, the same whatever their
// number.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/Amx.h"
#include "CodeGen/VectorOps.h"

#include <llvm/IR/Module.h>

namespace sora::ir {

namespace {

using namespace llvm;

/// A product's shapes on tiles.
struct MatMulShape {
  bool transposed; ///< matmul_nt: B is [M, K] (else [K, M])
  int64_t M, K;
  int64_t kBlocks;  ///< steps of 32 values of k (the last padded)
  int64_t colTiles; ///< tiles of 16 columns of Y
};

MatMulShape matMulShape(const Node &n) {
  const Node *bm = n.operands[1];
  MatMulShape s;
  s.transposed = n.op == OpKind::MatMulNT;
  s.M = bm->type.dims[s.transposed ? 0 : 1];
  s.K = bm->type.dims[s.transposed ? 1 : 0];
  s.kBlocks = (s.K + kBlockRows - 1) / kBlockRows;
  s.colTiles = (s.M + kTileRows - 1) / kTileRows;
  return s;
}

/// 32 values of row `row` of `base` (K per row) from column k0, as
/// bfloat16 (the upper halves of round_bf16 values), zeros past K.
Value *rowPairs(KernelEmitter &k, Vec &vec, Value *base, Value *row, int64_t K,
                int64_t k0) {
  Bf16 bf(vec);
  const int64_t L = vec.lanes;
  Value *first = addIdx(k, mulIdx(k, row, K), k.i64(k0));
  auto half = [&](int64_t from) {
    int64_t used = std::min(L, K - k0 - from);
    return used > 0 ? vec.load(base, addIdx(k, first, k.i64(from)), used)
                    : vec.zero();
  };
  return bf.pack(half(0), half(L));
}

/// B [K, M] in tiles: tile (kb, ct) at 1 KiB (kb colTiles + ct), its row p
/// the pairs B[32 kb + 2p.., 16 ct + j] for j < 16 (zeros past M and K).
void packRowsOfPairs(KernelEmitter &k, Vec &vec, const Node *bm,
                     const MatMulShape &s, Value *packed) {
  Bf16 bf(vec);
  const int64_t L = vec.lanes;
  Value *base = k.buffer(bm);
  k.loop(
      s.kBlocks * kTileRows,
      [&](Value *pair) { // kb 16 + p
        Value *kb = k.b.CreateUDiv(pair, k.i64(kTileRows));
        Value *p = k.b.CreateURem(pair, k.i64(kTileRows));
        Value *row = mulIdx(k, pair, 2);
        // B's row k, or zeros past K (read as row 0, not used).
        auto rowAt = [&](Value *r, int64_t ct, int64_t used) {
          Value *inside = k.b.CreateICmpULT(r, k.i64(s.K));
          Value *safe = k.b.CreateSelect(inside, r, k.i64(0));
          Value *v = vec.load(
              base, addIdx(k, mulIdx(k, safe, s.M), k.i64(ct * L)), used);
          return k.b.CreateSelect(inside, v, vec.zero());
        };
        for (int64_t ct = 0; ct < s.colTiles; ++ct) {
          int64_t used = std::min(L, s.M - ct * L);
          Value *tile = addIdx(k, mulIdx(k, kb, s.colTiles), k.i64(ct));
          bf.store(packed, addIdx(k, mulIdx(k, tile, kTileRows), p),
                   bf.interleave(rowAt(row, ct, used),
                                 rowAt(addIdx(k, row, k.i64(1)), ct, used)));
        }
      },
      "pair");
}

/// B [M, K] in tiles: tile (kb, ct) at 1 KiB (kb colTiles + ct), its row p
/// the pairs B[16 ct + j, 32 kb + 2p..] for j < 16 (zeros past M and K).
void packWeights(KernelEmitter &k, Vec &vec, const Node *bm,
                 const MatMulShape &s, Value *packed) {
  auto *words = FixedVectorType::get(k.b.getInt32Ty(), unsigned(kTileRows));
  Value *base = k.buffer(bm);
  k.loop(
      s.colTiles,
      [&](Value *ct) {
        auto block = [&](Value *kb, int64_t k0Const, bool tail) {
          std::vector<Value *> rows;
          for (int64_t j = 0; j < kTileRows; ++j) {
            Value *row = addIdx(k, mulIdx(k, ct, kTileRows), k.i64(j));
            Value *inside = k.b.CreateICmpULT(row, k.i64(s.M));
            Value *safe = k.b.CreateSelect(inside, row, k.i64(0));
            Value *pairs;
            if (tail) {
              pairs = rowPairs(k, vec, base, safe, s.K, k0Const);
            } else {
              Value *first =
                  addIdx(k, mulIdx(k, safe, s.K), mulIdx(k, kb, kBlockRows));
              Bf16 bf(vec);
              pairs = bf.pack(
                  vec.load(base, first, vec.lanes),
                  vec.load(base, addIdx(k, first, k.i64(16)), vec.lanes));
            }
            pairs = k.b.CreateBitCast(pairs, words);
            rows.push_back(
                k.b.CreateSelect(inside, pairs, Constant::getNullValue(words)));
          }
          std::vector<Value *> tileRows = transpose16(k.b, rows);
          Value *tile = addIdx(k, mulIdx(k, kb, s.colTiles), ct);
          for (int64_t p = 0; p < kTileRows; ++p)
            k.b.CreateAlignedStore(
                tileRows[p],
                k.b.CreateInBoundsGEP(
                    words, packed,
                    addIdx(k, mulIdx(k, tile, kTileRows), k.i64(p))),
                Align(64));
        };
        const int64_t full = s.K / kBlockRows;
        k.loop(
            full, [&](Value *kb) { block(kb, 0, false); }, "kb");
        if (full < s.kBlocks)
          block(k.i64(full), full * kBlockRows, true);
      },
      "ct");
}

/// Rows [r0, r0 + count) of A as bfloat16 rows of kBlocks * 32 values
/// (zeros past K), and zero rows after them up to 32.
void packRows(KernelEmitter &k, Vec &vec, const Node *a, const MatMulShape &s,
              Value *r0, Value *count, Value *packed) {
  Value *base = k.buffer(a);
  Bf16 bf(vec);
  k.loop(
      k.i64(0), count,
      [&](Value *i) {
        Value *row = addIdx(k, r0, i);
        for (int64_t kb = 0; kb < s.kBlocks; ++kb)
          bf.store(packed, addIdx(k, mulIdx(k, i, s.kBlocks), k.i64(kb)),
                   rowPairs(k, vec, base, row, s.K, kb * kBlockRows));
      },
      "i");
  k.loop(
      count, k.i64(kBlockRows),
      [&](Value *i) {
        for (int64_t kb = 0; kb < s.kBlocks; ++kb)
          bf.store(packed, addIdx(k, mulIdx(k, i, s.kBlocks), k.i64(kb)),
                   Constant::getNullValue(bf.pairs));
      },
      "i");
}

} // namespace

bool amxMatMulFits(const KernelEmitter &k, const Node &n) {
  // (matmul: B [K, M], A [rows, K]; matmul_nt: B [M, K])
  if (!k.amx || k.vectorWidth != 16 || !bf16Operands(n) ||
      n.operands[1]->type.dims.size() != 2)
    return false;
  MatMulShape s = matMulShape(n);
  // The packed weights and 32 rows of A on the stack of each thread.
  return s.kBlocks * s.colTiles * 1024 <= 2 * kMaxStack &&
         kBlockRows * s.kBlocks * kBlockRows * 2 <= kMaxStack;
}

void lowerAmxMatMul(KernelEmitter &k, const Node &n) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  const MatMulShape s = matMulShape(n);
  Constant *config = tileConfig(*k.b.GetInsertBlock()->getModule(), 32);
  Value *rows = k.lines(&n);
  Value *blocks =
      k.b.CreateUDiv(addIdx(k, rows, k.i64(kBlockRows - 1)), k.i64(kBlockRows));
  k.parallelRanges(
      blocks, k.b.CreateMul(rows, k.i64(s.M * s.K)),
      [&](KernelEmitter &e, Value *b0, Value *b1) {
        Vec vec(e);
        Value *weights = stackBytes(e, s.kBlocks * s.colTiles * 1024);
        if (s.transposed)
          packWeights(e, vec, bm, s, weights);
        else
          packRowsOfPairs(e, vec, bm, s, weights);
        Value *rowsA = stackBytes(e, kBlockRows * s.kBlocks * kBlockRows * 2);
        Value *sums = e.tile(4 * kTileRows * kTileRows);
        Amx amx{e};
        amx.call(Intrinsic::x86_ldtilecfg, {config});
        Value *allRows = e.lines(&n);
        e.loop(
            b0, b1,
            [&](Value *blk) {
              Value *r0 = mulIdx(e, blk, kBlockRows);
              Value *left = subIdx(e, allRows, r0);
              Value *count =
                  e.b.CreateSelect(e.b.CreateICmpULT(left, e.i64(kBlockRows)),
                                   left, e.i64(kBlockRows));
              packRows(e, vec, a, s, r0, count, rowsA);
              for (int64_t ct0 = 0; ct0 < s.colTiles; ct0 += 2) {
                const int cols = int(std::min<int64_t>(2, s.colTiles - ct0));
                amx.zeroSums(2, cols);
                e.loop(
                    s.kBlocks,
                    [&](Value *kb) {
                      for (int m = 0; m < 2; ++m)
                        amx.load(4 + m,
                                 bf16At(e, rowsA,
                                        addIdx(e, mulIdx(e, kb, kBlockRows),
                                               e.i64(m * kTileRows * s.kBlocks *
                                                     kBlockRows))),
                                 s.kBlocks * kBlockRows * 2);
                      for (int j = 0; j < cols; ++j)
                        amx.load(
                            6 + j,
                            bf16At(e, weights,
                                   mulIdx(e,
                                          addIdx(e, mulIdx(e, kb, s.colTiles),
                                                 e.i64(ct0 + j)),
                                          512)),
                            kTileRowBytes);
                      amx.products(2, cols);
                    },
                    "kb");
                amx.storeSums(2, cols, sums);
                // Row i of the block: row i % 16 of tiles 2 (i / 16) + j.
                e.loop(
                    e.i64(0), count,
                    [&](Value *i) {
                      Value *tileRow =
                          addIdx(e,
                                 mulIdx(e, e.b.CreateUDiv(i, e.i64(kTileRows)),
                                        2 * kTileRows * kTileRows),
                                 mulIdx(e, e.b.CreateURem(i, e.i64(kTileRows)),
                                        kTileRows));
                      Value *row = addIdx(e, r0, i);
                      for (int j = 0; j < cols; ++j) {
                        int64_t col = (ct0 + j) * kTileRows;
                        Value *sum =
                            vec.load(sums,
                                     addIdx(e, tileRow,
                                            e.i64(j * kTileRows * kTileRows)),
                                     kTileRows);
                        e.storeResult(
                            n, addIdx(e, mulIdx(e, row, s.M), e.i64(col)), sum,
                            e.i64(col),
                            std::min<int64_t>(kTileRows, s.M - col));
                      }
                    },
                    "i");
              }
            },
            "blk");
        amx.call(Intrinsic::x86_tilerelease, {});
      },
      /*sweep=*/true);
}

} // namespace sora::ir
