//===- Lowerings.cpp - One lowering rule per op, as a table ---------------===//
//
// Each rule emits the loop nest of one op, specialised to its shapes: every
// loop but the one over the batch has a constant trip count. The loops are
// ordered so that the innermost one walks memory contiguously (vectorisable
// without reassociation) or is a dot product (vectorised thanks to the
// `reassoc` flag).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/Amx.h"
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RowOps.h"
#include "CodeGen/VectorOps.h"

#include <llvm/IR/Intrinsics.h>

#include <array>
#include <limits>
#include <stdexcept>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

// Leaves own no code: their buffers are kernel arguments or constants.
void noCode(KernelEmitter &, const Node &) {}

/// y[yRow + j] += a * b[bRow + j] for j < M: the inner loop of the
/// unblocked matmul and of the weight gradient's outer products.
void axpyRow(KernelEmitter &k, const Node &y, Value *yRow, Value *a,
             const Node *b, Value *bRow, int64_t M) {
  k.loop(
      M,
      [&](Value *j) {
        Value *yi = addIdx(k, yRow, j);
        Value *prod = k.b.CreateFMul(a, k.load(b, addIdx(k, bRow, j)));
        k.store(&y, yi, k.b.CreateFAdd(k.load(&y, yi), prod));
      },
      "j");
}

// Y[r,j] = sum_k A[r,k] B[k,j]   (B is [K,M])
/// band(e, r0, rows) for the rows of `n` (every index but the last): bands
/// of R rows shared among threads (`work` multiply-adds each), then the
/// rows left over one at a time.
void rowBands(
    KernelEmitter &k, const Node &n, int64_t R, int64_t work,
    const std::function<void(KernelEmitter &, Value *, int64_t)> &band) {
  Value *tiles = k.b.CreateUDiv(k.lines(&n), k.i64(R));
  k.parallelLoop(tiles, work, [&](KernelEmitter &e, Value *t) {
    band(e, mulIdx(e, t, R), R);
  });
  k.loop(
      mulIdx(k, tiles, R), k.lines(&n), [&](Value *r) { band(k, r, 1); },
      "row");
}

/// Y[r0 + i, j0 + c VW + v] = sum_k A[r0 + i, k] B[k, j0 + c VW + v] for
/// i < rows, c < vectors: the accumulators stay in vector registers over
/// the whole reduction, each B vector loaded feeding `rows` multiply-adds
/// (the matmul_tn micro-kernel's shape, Optimizers.cpp). `used`: the last
/// vector's live lanes. On bfloat16 pairs (`precision = bf16`, k even),
/// each step takes two values of k: A's two of a row broadcast as a pair,
/// B's two rows interleaved in registers, shared by the `rows` rows.
void matMulBlock(KernelEmitter &k, const Node &n, Value *r0, int64_t rows,
                 Value *j0, int64_t vectors, int64_t used) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  int64_t K_ = bm->type.dims[0], M = bm->type.dims[1];
  Vec vec(k);
  Bf16 bf(vec);
  const bool pairs = bf16Pairs(k, n) && K_ % 2 == 0;
  auto usedIn = [&](int64_t c) { return c + 1 == vectors ? used : vec.lanes; };
  auto bVector = [&](Value *kk, int64_t c) {
    Value *bRow = addIdx(k, mulIdx(k, kk, M), j0);
    return vec.load(k.buffer(bm), addIdx(k, bRow, k.i64(c * vec.lanes)),
                    usedIn(c));
  };
  auto aIndex = [&](int64_t i, Value *kk) {
    return addIdx(k, mulIdx(k, addIdx(k, r0, k.i64(i)), K_), kk);
  };
  Accs sums = k.reduce(
      k.i64(0), k.i64(pairs ? K_ / 2 : K_), Accs(rows * vectors, vec.zero()),
      [&](Value *step, const Accs &acc) {
        Value *kk = pairs ? mulIdx(k, step, 2) : step;
        Accs bv, next;
        for (int64_t c = 0; c < vectors; ++c)
          bv.push_back(pairs
                           ? bf.interleave(bVector(kk, c),
                                           bVector(addIdx(k, kk, k.i64(1)), c))
                           : bVector(kk, c));
        for (int64_t i = 0; i < rows; ++i) {
          Value *s = pairs ? bf.splatPair(k.buffer(a), aIndex(i, kk))
                           : vec.splat(k.load(a, aIndex(i, kk)));
          for (int64_t c = 0; c < vectors; ++c)
            next.push_back(pairs ? bf.dot(acc[i * vectors + c], s, bv[c])
                                 : vec.fma(s, bv[c], acc[i * vectors + c]));
        }
        return next;
      },
      "k");
  // Stores; a fused epilogue (a gradient mask, say) runs on the registers.
  for (int64_t i = 0; i < rows; ++i) {
    Value *yRow = mulIdx(k, addIdx(k, r0, k.i64(i)), M);
    for (int64_t c = 0; c < vectors; ++c) {
      Value *col = addIdx(k, j0, k.i64(c * vec.lanes));
      k.storeResult(n, addIdx(k, yRow, col), sums[i * vectors + c], col,
                    usedIn(c));
    }
  }
}

/// Bytes of a matmul's B above which it is read one panel of columns at a
/// time (it would not stay in the L2 cache from one band of rows to the
/// next).
constexpr int64_t kMatMulPanelsFrom = 256 * 1024;

/// Y = A.B in vector registers: bands of 4 rows shared among threads, each
/// in blocks of 4 vectors of columns. When B is large (a dense layer's input
/// gradient, B its [128, 3136] weights), each thread takes B's panels of
/// columns in turn and every band of its rows through the panel, which then
/// stays in cache: band by band, each band would read all of B again. The
/// sums are the same in either order.
void lowerMatMulVectors(KernelEmitter &k, const Node &n) {
  int64_t M = n.operands[1]->type.dims[1], K_ = n.operands[1]->type.dims[0];
  constexpr int64_t R = 4, V = 4;
  int64_t lanes = k.vectorWidth, J = V * lanes;
  int64_t fullCols = M / J * J, rest = M - fullCols;
  auto panel = [&](KernelEmitter &e, Value *r0, int64_t rows, Value *t) {
    matMulBlock(e, n, r0, rows, mulIdx(e, t, J), V, lanes);
  };
  auto lastPanel = [&](KernelEmitter &e, Value *r0, int64_t rows) {
    if (rest > 0)
      matMulBlock(e, n, r0, rows, e.i64(fullCols), (rest + lanes - 1) / lanes,
                  rest - (rest - 1) / lanes * lanes);
  };
  auto band = [&](KernelEmitter &e, Value *r0, int64_t rows) {
    e.loop(
        fullCols / J, [&](Value *t) { panel(e, r0, rows, t); }, "jt");
    lastPanel(e, r0, rows);
  };
  if (K_ * M * 4 <= kMatMulPanelsFrom)
    return rowBands(k, n, R, R * M * K_, band);
  Value *bands = k.b.CreateUDiv(k.lines(&n), k.i64(R));
  k.parallelRanges(
      bands, k.b.CreateMul(bands, k.i64(R * M * K_)),
      [&](KernelEmitter &e, Value *b0, Value *b1) {
        auto eachBand = [&](const std::function<void(Value *)> &body) {
          e.loop(
              b0, b1, [&](Value *b) { body(mulIdx(e, b, R)); }, "band");
        };
        e.loop(
            fullCols / J,
            [&](Value *t) { eachBand([&](Value *r0) { panel(e, r0, R, t); }); },
            "jt");
        eachBand([&](Value *r0) { lastPanel(e, r0, R); });
      });
  k.loop(
      mulIdx(k, bands, R), k.lines(&n), [&](Value *r) { band(k, r, 1); },
      "row");
}

// Y = A.B: with `precision = bf16`, on AMX tiles (AmxMatMul.cpp, the
// vectors beside them for when the OS refuses the tiles); else in vector
// registers (on bfloat16 pairs where the CPU has them).
void lowerMatMul(KernelEmitter &k, const Node &n) {
  if (amxMatMulFits(k, n))
    return ifAmxReady(
        k, [&] { lowerAmxMatMul(k, n); }, [&] { lowerMatMulVectors(k, n); });
  lowerMatMulVectors(k, n);
}

/// A tile of R x C dot products of matmul_nt `n`: rows r0.. of A with rows
/// j0.. of B, over k in [k0, k1).
struct DotTile {
  Value *r0;
  int R;
  Value *j0;
  int C;
  int64_t k0, k1;
};

/// The sums of the lanes of four vectors, in one vector's halves, quarters
/// and lanes: a and b folded into one vector (a's half-sums, then b's), c
/// and d into another, those two into quarter-sums of each, and then each
/// quarter's lanes. Far fewer shuffles than four reductions one by one.
std::vector<Value *> sumsOfFour(Vec &vec, const Accs &v) {
  IRBuilderBase &b = vec.k.b;
  const int L = int(vec.lanes), H = L / 2, Q = L / 4;
  // Lanes [from, from + n) of x then of y (y's lanes numbered from L).
  auto pick = [&](Value *x, Value *y, std::vector<int> starts, int n) {
    std::vector<int> mask;
    for (int start : starts)
      for (int i = 0; i < n; ++i)
        mask.push_back(start + i);
    return b.CreateShuffleVector(x, y, mask);
  };
  auto halves = [&](Value *x, Value *y) {
    return b.CreateFAdd(pick(x, y, {0, L}, H), pick(x, y, {H, L + H}, H));
  };
  Value *ab = halves(v[0], v[1]), *cd = halves(v[2], v[3]);
  Value *s = b.CreateFAdd(pick(ab, cd, {0, H, L, L + H}, Q),
                          pick(ab, cd, {Q, H + Q, L + Q, L + H + Q}, Q));
  for (int step = Q / 2; step >= 1; step /= 2) {
    std::vector<int> mask;
    for (int i = 0; i < L; ++i)
      mask.push_back(i ^ step);
    s = b.CreateFAdd(s, b.CreateShuffleVector(s, s, mask));
  }
  std::vector<Value *> sums;
  for (int j = 0; j < 4; ++j)
    sums.push_back(vec.lane(s, j * Q));
  return sums;
}

/// The sums of the lanes of a tile's R x C accumulators, row by row: four
/// columns of a row at a time, the others one by one.
std::vector<Value *> closingSums(Vec &vec, const Accs &acc, int R, int C) {
  std::vector<Value *> sums;
  for (int i = 0; i < R; ++i) {
    int j = 0;
    for (; vec.lanes >= 4 && j + 4 <= C; j += 4) {
      Accs four(acc.begin() + i * C + j, acc.begin() + i * C + j + 4);
      for (Value *sum : sumsOfFour(vec, four))
        sums.push_back(sum);
    }
    for (; j < C; ++j)
      sums.push_back(vec.k.b.CreateFAddReduce(vec.k.f32(-0.0), acc[i * C + j]));
  }
  return sums;
}

/// Where rows first, first + 1, ... of a matrix with `stride` elements per
/// row start, from column `column`.
std::vector<Value *> rowStarts(KernelEmitter &k, Value *first, int count,
                               int64_t stride, int64_t column) {
  std::vector<Value *> starts;
  for (int i = 0; i < count; ++i)
    starts.push_back(addIdx(k, mulIdx(k, addIdx(k, first, k.i64(i)), stride),
                            k.i64(column)));
  return starts;
}

/// A step of a tile's sums: vector v of each of its rows of A and of B
/// (`used` values of it, zeros after them).
using TileOperands =
    std::function<std::pair<Accs, Accs>(Value *v, int64_t used)>;
/// acc + the products of two operand vectors (an FMA, or a dot of pairs).
using MulAdd = std::function<Value *(Value *acc, Value *a, Value *b)>;

/// The R x C sums of tile `t` over k in vectors of `width` values, each
/// vector of A and B loaded feeding C (or R) multiply-adds (register
/// blocking), the last one partly used when k does not fill it; then the
/// accumulators' lanes summed (closingSums).
std::vector<Value *> tileSums(KernelEmitter &k, Vec &vec, const DotTile &t,
                              int64_t width, const TileOperands &operands,
                              const MulAdd &mulAdd) {
  const int64_t span = t.k1 - t.k0, full = span / width;
  auto step = [&](Value *v, int64_t used, const Accs &acc) {
    auto [av, bv] = operands(v, used);
    Accs next(acc.size());
    for (int i = 0; i < t.R; ++i)
      for (int j = 0; j < t.C; ++j)
        next[i * t.C + j] = mulAdd(acc[i * t.C + j], av[i], bv[j]);
    return next;
  };
  Accs acc = k.reduce(
      k.i64(0), k.i64(full), Accs(t.R * t.C, vec.zero()),
      [&](Value *v, const Accs &acc) { return step(v, width, acc); }, "kv");
  if (full * width < span)
    acc = step(k.i64(full), span - full * width, acc);
  return closingSums(vec, acc, t.R, t.C);
}

/// The R x C sums of tile `t` in f32 vectors along k.
std::vector<Value *> dotSums(KernelEmitter &k, const Node &n,
                             const DotTile &t) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  const int64_t K_ = bm->type.dims[1];
  Vec vec(k);
  std::vector<Value *> aRows = rowStarts(k, t.r0, t.R, K_, t.k0),
                       bRows = rowStarts(k, t.j0, t.C, K_, t.k0);
  auto operands = [&](Value *v, int64_t used) {
    Value *offset = mulIdx(k, v, vec.lanes);
    Accs av, bv;
    for (Value *row : aRows)
      av.push_back(vec.load(k.buffer(a), addIdx(k, row, offset), used));
    for (Value *row : bRows)
      bv.push_back(vec.load(k.buffer(bm), addIdx(k, row, offset), used));
    return std::pair{av, bv};
  };
  return tileSums(
      k, vec, t, vec.lanes, operands,
      [&](Value *acc, Value *x, Value *y) { return vec.fma(x, y, acc); });
}

/// The tiles of matmul_nt: R rows by C columns of B.
constexpr int kDotRows = 6, kDotCols = 4;
/// Bytes of B a block of k should span: it stays in the L2 cache while every
/// band of rows of a thread passes through it.
constexpr int64_t kDotBlockBytes = 512 * 1024;
/// Bytes of the stack tile that holds a group of bands' partial sums.
constexpr int64_t kDotPartialBytes = 64 * 1024;

/// The R x C sums of a tile (dotSums, or pairSums on bfloat16).
using DotSums =
    std::function<std::vector<Value *>(KernelEmitter &, const DotTile &)>;
/// out(e, i, col, sum): the sum of row i of a band, column col.
using DotOut = std::function<void(KernelEmitter &, int, Value *, Value *)>;

/// Every column of the `rows` rows from r0 over k in [k0, k1), in tiles of
/// kDotCols columns (one at a time at the edge of M).
void dotBand(KernelEmitter &e, const Node &n, Value *r0, int rows, int64_t k0,
             int64_t k1, const DotOut &out, const DotSums &sums) {
  const int64_t M = n.operands[1]->type.dims[0], C = kDotCols;
  auto tile = [&](Value *j0, int cols) {
    std::vector<Value *> s = sums(e, {r0, rows, j0, cols, k0, k1});
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j)
        out(e, i, addIdx(e, j0, e.i64(j)), s[i * cols + j]);
  };
  e.loop(
      M / C, [&](Value *t) { tile(mulIdx(e, t, C), C); }, "jt");
  for (int64_t j = M / C * C; j < M; ++j)
    tile(e.i64(j), 1);
}

DotSums f32Sums(const Node &n) {
  return [&n](KernelEmitter &e, const DotTile &t) { return dotSums(e, n, t); };
}

/// Stores the sums of the band from r0 as n's results.
DotOut storeBand(const Node &n, Value *r0) {
  const int64_t M = n.operands[1]->type.dims[0];
  return [&n, r0, M](KernelEmitter &e, int i, Value *col, Value *sum) {
    Value *row = addIdx(e, r0, e.i64(i));
    e.storeResult(n, addIdx(e, mulIdx(e, row, M), col), sum, col);
  };
}

/// The bands of a thread, [b0, b1), `group` at a time, each group through k
/// in blocks of `blockK`: the sums so far wait in a stack tile, so the block
/// of B stays in cache while the group's bands pass through it.
/// `beforeBlock(k0, k1)` runs as each group starts a block.
void dotBandsInBlocks(
    KernelEmitter &e, const Node &n, Value *b0, Value *b1, int64_t group,
    int64_t blockK, const DotSums &sums,
    const std::function<void(int64_t, int64_t)> &beforeBlock) {
  const int64_t M = n.operands[1]->type.dims[0],
                K_ = n.operands[1]->type.dims[1], R = kDotRows;
  Value *partial = e.tile(group * R * M);
  Value *groups = e.b.CreateUDiv(addIdx(e, subIdx(e, b1, b0), e.i64(group - 1)),
                                 e.i64(group));
  e.loop(
      e.i64(0), groups,
      [&](Value *g) {
        Value *g0 = addIdx(e, b0, mulIdx(e, g, group));
        Value *g1 = addIdx(e, g0, e.i64(group));
        g1 = e.b.CreateSelect(e.b.CreateICmpULT(g1, b1), g1, b1);
        for (int64_t k0 = 0; k0 < K_; k0 += blockK) {
          int64_t k1 = std::min(K_, k0 + blockK);
          beforeBlock(k0, k1);
          e.loop(
              g0, g1,
              [&](Value *t) {
                Value *r0 = mulIdx(e, t, R);
                Value *base = mulIdx(e, subIdx(e, t, g0), R * M);
                DotOut store = storeBand(n, r0);
                auto out = [&](KernelEmitter &e, int i, Value *col,
                               Value *sum) {
                  Value *at = addIdx(e, base, addIdx(e, e.i64(i * M), col));
                  if (k0 > 0)
                    sum = e.b.CreateFAdd(e.loadTile(partial, at), sum);
                  if (k1 == K_)
                    store(e, i, col, sum);
                  else
                    e.storeTile(partial, at, sum);
                };
                dotBand(e, n, r0, int(R), k0, k1, out, sums);
              },
              "band");
        }
      },
      "group");
}

/// The rows of matmul_nt `n` left over after its bands of kDotRows, one at
/// a time on the calling thread.
void dotLeftoverRows(KernelEmitter &k, const Node &n, Value *bands) {
  const int64_t K_ = n.operands[1]->type.dims[1];
  k.loop(
      mulIdx(k, bands, kDotRows), k.lines(&n),
      [&](Value *r) {
        dotBand(k, n, r, 1, 0, K_, storeBand(n, r), f32Sums(n));
      },
      "row");
}

/// matmul_nt on bfloat16 pairs (`precision = bf16` on AVX512_BF16: both
/// operands are round_bf16 values, Bf16 in VectorOps.h). The dot products
/// run along k, so a pair is two consecutive values of a row: each thread
/// copies the block of B it is at as bfloat16 rows into a stack tile (zeros
/// past the block's end), and each tile of dot products takes A's rows to
/// bfloat16 in registers, 32 values per vdpbf16ps instead of 16 per FMA.
/// The rows left over after the bands use f32 products, on any thread
/// count: the sums are the same whatever the count.
void lowerMatMulNTPairs(KernelEmitter &k, const Node &n, int64_t group) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  const int64_t M = bm->type.dims[0], K_ = bm->type.dims[1], R = kDotRows;
  const int64_t P = 2 * k.vectorWidth; // values per vector of pairs
  const int64_t blockK =
      std::max(P, kDotBlockBytes / 2 / (M * 2) / P * P); // a 256 KiB tile
  const int64_t rowVectors = (std::min(blockK, K_) + P - 1) / P;
  Value *bands = k.b.CreateUDiv(k.lines(&n), k.i64(R));
  k.parallelRanges(
      bands, k.b.CreateMul(bands, k.i64(R * M * K_)),
      [&](KernelEmitter &e, Value *b0, Value *b1) {
        Vec vec(e);
        Bf16 bf(vec);
        const int64_t L = vec.lanes;
        Value *packed = bf.tile(M * rowVectors);
        Value *aBase = e.buffer(a), *bBase = e.buffer(bm);
        // The pairs of values [c0, c0 + P) of a row from `index` (c0), the
        // values at or past `end` taken as zeros.
        auto pairsAt = [&](Value *base, Value *index, int64_t c0, int64_t end) {
          auto half = [&](int64_t from) {
            int64_t used = std::min(L, end - from);
            return used > 0 ? vec.load(base, addIdx(e, index, e.i64(from - c0)),
                                       used)
                            : vec.zero();
          };
          return bf.pack(half(c0), half(c0 + L));
        };
        auto packBlock = [&](int64_t k0, int64_t k1) {
          e.loop(
              M,
              [&](Value *j) {
                Value *row = addIdx(e, mulIdx(e, j, K_), e.i64(k0));
                for (int64_t v = 0; v * P < k1 - k0; ++v)
                  bf.store(packed,
                           addIdx(e, mulIdx(e, j, rowVectors), e.i64(v)),
                           pairsAt(bBase, addIdx(e, row, e.i64(v * P)),
                                   k0 + v * P, k1));
              },
              "pack");
        };
        auto pairSums = [&](KernelEmitter &, const DotTile &t) {
          std::vector<Value *> aRows = rowStarts(e, t.r0, t.R, K_, t.k0), bRows;
          for (int j = 0; j < t.C; ++j)
            bRows.push_back(mulIdx(e, addIdx(e, t.j0, e.i64(j)), rowVectors));
          auto operands = [&](Value *v, int64_t used) {
            Value *offset = mulIdx(e, v, P);
            Accs av, bv;
            for (Value *row : aRows)
              av.push_back(pairsAt(aBase, addIdx(e, row, offset), 0, used));
            for (Value *row : bRows)
              bv.push_back(bf.load(packed, addIdx(e, row, v)));
            return std::pair{av, bv};
          };
          return tileSums(e, vec, t, P, operands,
                          [&](Value *acc, Value *x, Value *y) {
                            return bf.dot(acc, x, y);
                          });
        };
        dotBandsInBlocks(e, n, b0, b1, group, blockK, pairSums, packBlock);
      });
  dotLeftoverRows(k, n, bands);
}

/// matmul_nt in f32 vectors (of the operands, rounded or not): dot
/// products in 6 x 4 tiles, with narrower tiles at the edges of the batch
/// and of M. When B outgrows the L2 cache, each thread takes its bands in
/// groups, and each group through k in blocks whose part of B stays in
/// cache (dotBandsInBlocks): otherwise every band would read all of B from
/// memory.
void lowerMatMulNTVectors(KernelEmitter &k, const Node &n) {
  const int64_t M = n.operands[1]->type.dims[0],
                K_ = n.operands[1]->type.dims[1], R = kDotRows;
  const int64_t lanes = k.vectorWidth;
  const int64_t blockK =
      std::max(lanes, kDotBlockBytes / (M * 4) / lanes * lanes);
  const int64_t group = kDotPartialBytes / (R * M * 4);
  if (blockK >= K_ || group < 1)
    return rowBands(
        k, n, R, R * M * K_, [&](KernelEmitter &e, Value *r0, int64_t rows) {
          dotBand(e, n, r0, int(rows), 0, K_, storeBand(n, r0), f32Sums(n));
        });
  Value *bands = k.b.CreateUDiv(k.lines(&n), k.i64(R));
  k.parallelRanges(bands, k.b.CreateMul(bands, k.i64(R * M * K_)),
                   [&](KernelEmitter &e, Value *b0, Value *b1) {
                     dotBandsInBlocks(e, n, b0, b1, group, blockK, f32Sums(n),
                                      [](int64_t, int64_t) {});
                   });
  dotLeftoverRows(k, n, bands);
}

// Y[r,j] = sum_k A[r,k] B[j,k]   (B is [M,K]): with `precision = bf16`, on
// AMX tiles (AmxMatMul.cpp, the f32 vectors beside them for when the OS
// refuses the tiles) or on bfloat16 pairs where the CPU has them; else in
// f32 vectors.
void lowerMatMulNT(KernelEmitter &k, const Node &n) {
  const int64_t M = n.operands[1]->type.dims[0];
  const int64_t group = kDotPartialBytes / (kDotRows * M * 4);
  if (amxMatMulFits(k, n))
    return ifAmxReady(
        k, [&] { lowerAmxMatMul(k, n); }, [&] { lowerMatMulNTVectors(k, n); });
  if (group >= 1 && bf16Pairs(k, n))
    return lowerMatMulNTPairs(k, n, group);
  lowerMatMulNTVectors(k, n);
}

// Y[i,j] = sum_r A[r,i] B[r,j]   (A is [?,...,K], B [?,...,M], Y [K,M]):
// blocks of 4 x 4 vectors in registers over every row, shared among
// threads panel-major (forEachGradientBlock), then the vectors left, by
// bands; when the shape divides into whole vectors.
void lowerMatMulTNBlocked(KernelEmitter &k, const Node &n) {
  int64_t K_ = n.type.dims[0], M = n.type.dims[1];
  constexpr int64_t I = 4, V = 4;
  int64_t VW = k.vectorWidth, J = V * VW;
  int64_t fullCols = M / J * J, restVectors = (M - fullCols) / VW;
  int64_t bands = K_ / I, panels = fullCols / J;
  // The block of rows [i0, i0 + I) and `vectors` vectors of columns from
  // j0, stored.
  auto block = [&](KernelEmitter &e, Value *i0, Value *j0, int64_t vectors) {
    int64_t cols = vectors * VW;
    Value *tile = e.tile(I * J);
    gradientBlock(e, n, i0, I, j0, vectors, tile);
    e.loop(
        I * cols,
        [&](Value *q) {
          Value *row = addIdx(e, i0, e.b.CreateUDiv(q, e.i64(cols)));
          Value *col = addIdx(e, j0, e.b.CreateURem(q, e.i64(cols)));
          e.store(&n, addIdx(e, mulIdx(e, row, M), col), e.loadTile(tile, q));
        },
        "q");
  };
  forEachGradientBlock(k, bands, panels, I * J * 128, [&](KernelEmitter &e) {
    return [&](Value *band, Value *panel) {
      block(e, mulIdx(e, band, I), mulIdx(e, panel, J), V);
    };
  });
  if (restVectors > 0)
    forEachGradientBlock(
        k, bands, 1, I * restVectors * VW * 128, [&](KernelEmitter &e) {
          return [&](Value *band, Value *) {
            block(e, mulIdx(e, band, I), e.i64(fullCols), restVectors);
          };
        });
}

void lowerMatMulTN(KernelEmitter &k, const Node &n) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  int64_t K_ = a->type.dims.back(), M = bm->type.dims.back();
  if (K_ % 4 == 0 && M % k.vectorWidth == 0)
    return lowerMatMulTNBlocked(k, n);
  k.loop(
      K_ * M, [&](Value *i) { k.store(&n, i, k.f32(0)); }, "z");
  k.loop(
      k.i64(0), k.lines(a),
      [&](Value *r) {
        Value *aRow = mulIdx(k, r, K_), *bRow = mulIdx(k, r, M);
        k.loop(
            K_,
            [&](Value *i) {
              Value *av = k.load(a, addIdx(k, aRow, i));
              Value *yRow = mulIdx(k, i, M);
              axpyRow(k, n, yRow, av, bm, bRow, M);
            },
            "i");
      },
      "row");
}

// Y[j] = sum over every other index of X[..., j]
void lowerBiasGrad(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  sumColumns(
      k, x, n.type.elements(), [&](Value *j) { return k.load(&n, j); },
      [&](Value *j, Value *v) { k.store(&n, j, v); }, "row");
}

// Any elementwise op (Formulas.cpp gives the math), and the fused chain
// after it.
void lowerElementwise(KernelEmitter &k, const Node &n) {
  k.forEachRow(&n, [&](KernelEmitter &e, Value *base) {
    e.loop(
        n.type.elements(),
        [&](Value *j) {
          Value *i = addIdx(e, base, j);
          e.storeResult(n, i, e.element(n, i, j), j);
        },
        "e");
  });
}

// y = exp(x - max x) / sum exp(x - max x), per row
void lowerSoftmax(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0];
  int64_t M = n.type.elements();
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        rowSoftmax(k, z, mulIdx(k, r, M), M, n,
                   [](Value *, Value *, Value *p) { return p; });
      },
      "row");
}

// dx = y * (dy - sum(dy * y)), per row
void lowerSoftmaxGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *y = n.operands[1];
  int64_t M = n.type.elements();
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        Value *dot = k.reduce(
            M, k.f32(0),
            [&](Value *j, Value *acc) {
              Value *i = addIdx(k, row, j);
              return k.b.CreateFAdd(
                  acc, k.b.CreateFMul(k.load(dy, i), k.load(y, i)));
            },
            "dot");
        k.loop(
            M,
            [&](Value *j) {
              Value *i = addIdx(k, row, j);
              k.store(&n, i,
                      k.b.CreateFMul(k.load(y, i),
                                     k.b.CreateFSub(k.load(dy, i), dot)));
            },
            "j");
      },
      "row");
}

LoweringTable makeTable() {
  LoweringTable t;
  t.setWhere(Leaf, noCode);
  t.setWhere(Elementwise, lowerElementwise);
  t.set(K::MatMul, lowerMatMul);
  t.set(K::MatMulNT, lowerMatMulNT);
  t.set(K::MatMulTN, lowerMatMulTN);
  t.set(K::BiasGrad, lowerBiasGrad);
  t.set(K::Softmax, lowerSoftmax);
  t.set(K::SoftmaxGrad, lowerSoftmaxGrad);
  registerImageLowerings(t);
  registerAxisLowerings(t);
  registerLossLowerings(t);
  registerMetricLowerings(t);
  registerNormLowerings(t);
  registerInt8Lowerings(t);
  registerOptimizerLowerings(t);
  return t;
}

} // namespace

Lowering lowering(OpKind op) {
  static const LoweringTable table = makeTable();
  return table[op];
}

} // namespace sora::ir
