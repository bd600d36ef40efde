//===- AxisLowerings.cpp - Embeddings and the last dimension --------------===//
//
// Lookups of rows by id and their gradient, and the ops that take a tensor
// apart or put it together along its last dimension (sums, broadcasts,
// concatenation, slices). Each walks the lines of its result
// (KernelEmitter::lines: every index but the last, over the batch).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

/// Element `i` of `node`'s buffer as a 32-bit integer (an id, or a float's
/// bits).
Value *loadBits(KernelEmitter &k, const Node *node, Value *i) {
  llvm::Type *i32 = k.b.getInt32Ty();
  return k.b.CreateLoad(i32, k.b.CreateInBoundsGEP(i32, k.buffer(node), i));
}
void storeBits(KernelEmitter &k, const Node *node, Value *i, Value *v) {
  llvm::Type *i32 = k.b.getInt32Ty();
  k.b.CreateStore(v, k.b.CreateInBoundsGEP(i32, k.buffer(node), i));
}

/// The table row of id `i` of `ids`, as an index: ids outside [0, vocab)
/// read row 0 rather than memory outside the table (the runtime refuses
/// such ids before a kernel runs; this keeps a direct kernel call safe).
Value *tableRow(KernelEmitter &k, const Node *ids, Value *i, int64_t vocab) {
  Value *id = k.b.CreateSExt(loadBits(k, ids, i), k.b.getInt64Ty());
  Value *inside = k.b.CreateICmpULT(id, k.i64(vocab));
  return k.b.CreateSelect(inside, id, k.i64(0));
}

// y[i, :] = table[ids[i], :]
void lowerEmbedding(KernelEmitter &k, const Node &n) {
  const Node *ids = n.operands[0], *table = n.operands[1];
  int64_t D = n.type.dims.back(), vocab = table->type.dims[0];
  k.loop(
      k.i64(0), k.lines(&n),
      [&](Value *i) {
        Value *from = mulIdx(k, tableRow(k, ids, i, vocab), D);
        Value *to = mulIdx(k, i, D);
        k.loop(
            D,
            [&](Value *d) {
              k.store(&n, addIdx(k, to, d), k.load(table, addIdx(k, from, d)));
            },
            "d");
      },
      "line");
}

// dtable = 0; dtable[ids[i], :] += dy[i, :], in order (bit-identical at
// every thread count)
void lowerEmbeddingGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *ids = n.operands[1];
  int64_t D = n.type.dims[1], vocab = n.type.dims[0];
  k.loop(
      vocab * D, [&](Value *j) { k.store(&n, j, k.f32(0)); }, "j");
  k.loop(
      k.i64(0), k.lines(dy),
      [&](Value *i) {
        Value *to = mulIdx(k, tableRow(k, ids, i, vocab), D);
        Value *from = mulIdx(k, i, D);
        k.loop(
            D,
            [&](Value *d) {
              Value *j = addIdx(k, to, d);
              k.store(&n, j,
                      k.b.CreateFAdd(k.load(&n, j),
                                     k.load(dy, addIdx(k, from, d))));
            },
            "d");
      },
      "line");
}

// y[i] = sum over d of x[i, d]
void lowerSumLast(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  int64_t D = x->type.dims.back();
  k.loop(
      k.i64(0), k.lines(&n),
      [&](Value *i) {
        Value *base = mulIdx(k, i, D);
        Value *sum = k.reduce(D, k.f32(0), [&](Value *d, Value *acc) {
          return k.b.CreateFAdd(acc, k.load(x, addIdx(k, base, d)));
        });
        k.store(&n, i, sum);
      },
      "line");
}

// y[i, w] = x[i]
void lowerBroadcastLast(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  int64_t W = n.type.dims.back();
  k.loop(
      k.i64(0), k.lines(&n),
      [&](Value *i) {
        Value *v = k.load(x, i), *base = mulIdx(k, i, W);
        k.loop(
            W, [&](Value *w) { k.store(&n, addIdx(k, base, w), v); }, "w");
      },
      "line");
}

/// y[i, offset + j] = x[i, j] for j < x's last dimension (a parameter x
/// among batched parts: the same lines in every sample).
void copyLines(KernelEmitter &k, const Node &n, const Node *x, int64_t offset) {
  int64_t W = n.type.dims.back(), A = x->type.dims.back();
  int64_t perSample = n.type.elements() / W;
  bool repeats = n.type.batched && !x->type.batched;
  k.loop(
      k.i64(0), k.lines(&n),
      [&](Value *i) {
        Value *line = repeats ? k.b.CreateURem(i, k.i64(perSample)) : i;
        Value *from = mulIdx(k, line, A);
        Value *to = addIdx(k, mulIdx(k, i, W), k.i64(offset));
        k.loop(
            A,
            [&](Value *j) {
              k.store(&n, addIdx(k, to, j), k.load(x, addIdx(k, from, j)));
            },
            "j");
      },
      "line");
}

// y = [a, b, ...] along the last dimension
void lowerConcat(KernelEmitter &k, const Node &n) {
  int64_t offset = 0;
  for (const Node *x : n.operands) {
    copyLines(k, n, x, offset);
    offset += x->type.dims.back();
  }
}

/// y[i, j] = x[i, offset + j] for i over `lines` and j < W, x's lines D
/// long, copied as bits (ids stay ids).
void copySlice(KernelEmitter &k, const Node &n, Value *lines, int64_t W,
               int64_t D, int64_t offset) {
  const Node *x = n.operands[0];
  k.loop(
      k.i64(0), lines,
      [&](Value *i) {
        Value *from = addIdx(k, mulIdx(k, i, D), k.i64(offset));
        Value *to = mulIdx(k, i, W);
        k.loop(
            W,
            [&](Value *j) {
              storeBits(k, &n, addIdx(k, to, j),
                        loadBits(k, x, addIdx(k, from, j)));
            },
            "j");
      },
      "line");
}

// y[i, j] = x[i, offset + j]
void lowerSliceLast(KernelEmitter &k, const Node &n) {
  copySlice(k, n, k.lines(&n), n.type.dims.back(),
            n.operands[0]->type.dims.back(), n.attrs.offset());
}

// y[r, :] = rows[r, offset : offset + elements]
void lowerUnpack(KernelEmitter &k, const Node &n) {
  copySlice(k, n, k.rows(&n), n.type.elements(), n.operands[0]->type.dims[0],
            n.attrs.offset());
}

// y[i, :] = 0, then y[i, offset + j] = x[i, j]
void lowerPadLast(KernelEmitter &k, const Node &n) {
  k.forEachElement(&n, [&](Value *i) { k.store(&n, i, k.f32(0)); });
  copyLines(k, n, n.operands[0], n.attrs.offset());
}

// y = ids != 0 ? 1 : 0
void lowerNonZeroMask(KernelEmitter &k, const Node &n) {
  k.forEachElement(&n, [&](Value *i) {
    Value *id = loadBits(k, n.operands[0], i);
    k.store(&n, i,
            k.b.CreateSelect(k.b.CreateICmpNE(id, k.b.getInt32(0)), k.f32(1),
                             k.f32(0)));
  });
}

// y[r, i0, i1, ...] = x[r, i_inv[0], ...]: nested loops over the result's
// axes, the source offset a sum of the loop indices times x's strides.
void lowerTranspose(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  const Dims &perm = n.attrs.perm();
  size_t rank = perm.size();
  std::vector<int64_t> xStride(rank, 1);
  for (size_t a = rank - 1; a > 0; --a)
    xStride[a - 1] = xStride[a] * x->type.dims[a];
  int64_t elements = n.type.elements();
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *base = mulIdx(k, r, elements);
        std::function<void(size_t, Value *, Value *)> nest = [&](size_t axis,
                                                                 Value *to,
                                                                 Value *from) {
          if (axis == rank) {
            k.store(&n, addIdx(k, base, to), k.load(x, addIdx(k, base, from)));
            return;
          }
          k.loop(
              n.type.dims[axis],
              [&](Value *i) {
                nest(axis + 1, addIdx(k, mulIdx(k, to, n.type.dims[axis]), i),
                     addIdx(k, from, mulIdx(k, i, xStride[perm[axis]])));
              },
              "t");
        };
        nest(0, k.i64(0), k.i64(0));
      },
      "row");
}

// y = 0
void lowerZerosLike(KernelEmitter &k, const Node &n) {
  k.forEachElement(&n, [&](Value *i) { k.store(&n, i, k.f32(0)); });
}

} // namespace

void registerAxisLowerings(LoweringTable &t) {
  t.set(K::Embedding, lowerEmbedding);
  t.set(K::EmbeddingGrad, lowerEmbeddingGrad);
  t.set(K::SumLast, lowerSumLast);
  t.set(K::BroadcastLast, lowerBroadcastLast);
  t.set(K::Concat, lowerConcat);
  t.set(K::SliceLast, lowerSliceLast);
  t.set(K::Unpack, lowerUnpack);
  t.set(K::PadLast, lowerPadLast);
  t.set(K::ZerosLike, lowerZerosLike);
  t.set(K::Transpose, lowerTranspose);
  t.set(K::NonZeroMask, lowerNonZeroMask);
}

} // namespace sora::ir
