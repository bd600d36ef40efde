//===- Lowerings.cpp - One lowering rule per op, as a table
//----------------===//
//
// Each rule emits the loop nest of one op, specialised to its shapes: every
// loop but the one over the batch has a constant trip count. The loops are
// ordered so that the innermost one walks memory contiguously (vectorisable
// without reassociation) or is a dot product (vectorised thanks to the
// `reassoc` flag).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "IR/OpRules.h"

#include <llvm/IR/Intrinsics.h>

#include <array>
#include <limits>
#include <stdexcept>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

Value *mulIdx(KernelEmitter &k, Value *a, int64_t c) {
  return k.b.CreateMul(a, k.i64(c), "", true, true);
}
Value *addIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateAdd(a, b, "", true, true);
}

// Leaves own no code: their buffers are kernel arguments or constants.
void noCode(KernelEmitter &, const Node &) {}

// Y[r,j] = sum_k A[r,k] B[k,j]   (B is [K,M])
void lowerMatMul(KernelEmitter &k, const Node &n) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  int64_t K_ = bm->type.dims[0], M = bm->type.dims[1];
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *yRow = mulIdx(k, r, M), *aRow = mulIdx(k, r, K_);
        k.loop(
            M, [&](Value *j) { k.store(&n, addIdx(k, yRow, j), k.f32(0)); },
            "j");
        k.loop(
            K_,
            [&](Value *kk) {
              Value *av = k.load(a, addIdx(k, aRow, kk));
              Value *bRow = mulIdx(k, kk, M);
              k.loop(
                  M,
                  [&](Value *j) {
                    Value *yi = addIdx(k, yRow, j);
                    Value *prod =
                        k.b.CreateFMul(av, k.load(bm, addIdx(k, bRow, j)));
                    k.store(&n, yi, k.b.CreateFAdd(k.load(&n, yi), prod));
                  },
                  "j");
            },
            "k");
        // A fused epilogue (a gradient mask, say) runs on the row while it is
        // in cache, in place.
        if (k.hasEpilogue(n))
          k.loop(
              M,
              [&](Value *j) {
                Value *yi = addIdx(k, yRow, j);
                k.storeResult(n, yi, k.load(&n, yi), j);
              },
              "j");
      },
      "row");
}

// Y[r,j] = sum_k A[r,k] B[j,k]   (B is [M,K]): a dot product per output
void lowerMatMulNT(KernelEmitter &k, const Node &n) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  int64_t M = bm->type.dims[0], K_ = bm->type.dims[1];
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *aRow = mulIdx(k, r, K_);
        k.loop(
            M,
            [&](Value *j) {
              Value *bRow = mulIdx(k, j, K_);
              Value *dot = k.reduce(
                  K_, k.f32(0),
                  [&](Value *kk, Value *acc) {
                    Value *prod =
                        k.b.CreateFMul(k.load(a, addIdx(k, aRow, kk)),
                                       k.load(bm, addIdx(k, bRow, kk)));
                    return k.b.CreateFAdd(acc, prod);
                  },
                  "k");
              k.storeResult(n, addIdx(k, mulIdx(k, r, M), j), dot, j);
            },
            "j");
      },
      "row");
}

// Y[i,j] = sum_r A[r,i] B[r,j]   (A is [?,K], B is [?,M], Y is [K,M])
void lowerMatMulTN(KernelEmitter &k, const Node &n) {
  const Node *a = n.operands[0], *bm = n.operands[1];
  int64_t K_ = a->type.dims[0], M = bm->type.dims[0];
  k.loop(
      K_ * M, [&](Value *i) { k.store(&n, i, k.f32(0)); }, "z");
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        Value *aRow = mulIdx(k, r, K_), *bRow = mulIdx(k, r, M);
        k.loop(
            K_,
            [&](Value *i) {
              Value *av = k.load(a, addIdx(k, aRow, i));
              Value *yRow = mulIdx(k, i, M);
              k.loop(
                  M,
                  [&](Value *j) {
                    Value *yi = addIdx(k, yRow, j);
                    Value *prod =
                        k.b.CreateFMul(av, k.load(bm, addIdx(k, bRow, j)));
                    k.store(&n, yi, k.b.CreateFAdd(k.load(&n, yi), prod));
                  },
                  "j");
            },
            "i");
      },
      "row");
}

// Y[j] = sum over every other index of X[..., j]
void lowerBiasGrad(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  int64_t M = n.type.elements(), inner = x->type.elements() / M;
  k.loop(
      M, [&](Value *j) { k.store(&n, j, k.f32(0)); }, "z");
  k.loop(
      k.i64(0), k.mulRows(x, inner),
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        k.loop(
            M,
            [&](Value *j) {
              k.store(
                  &n, j,
                  k.b.CreateFAdd(k.load(&n, j), k.load(x, addIdx(k, row, j))));
            },
            "j");
      },
      "row");
}

// Any elementwise op (Formulas.cpp gives the math), and the fused chain
// after it.
void lowerElementwise(KernelEmitter &k, const Node &n) {
  int64_t elements = n.type.elements();
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *base = mulIdx(k, r, elements);
        k.loop(
            elements,
            [&](Value *e) {
              Value *i = addIdx(k, base, e);
              k.storeResult(n, i, k.element(n, i, e), e);
            },
            "e");
      },
      "row");
}

/// Row maximum of `z` (M wide) starting at `row`.
Value *rowMax(KernelEmitter &k, const Node *z, Value *row, int64_t M) {
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  return k.reduce(
      M, ninf,
      [&](Value *j, Value *acc) {
        return k.call(Intrinsic::maxnum, {acc, k.load(z, addIdx(k, row, j))});
      },
      "max");
}

/// sum_j exp(z[j] - mx); if `store` is set, exp(z[j] - mx) is also written
/// to it.
Value *rowSumExp(KernelEmitter &k, const Node *z, Value *row, int64_t M,
                 Value *mx, const Node *store) {
  return k.reduce(
      M, k.f32(0),
      [&](Value *j, Value *acc) {
        Value *i = addIdx(k, row, j);
        Value *e = k.call(Intrinsic::exp, {k.b.CreateFSub(k.load(z, i), mx)});
        if (store)
          k.store(store, i, e);
        return k.b.CreateFAdd(acc, e);
      },
      "sum");
}

// y = exp(x - max x) / sum exp(x - max x), per row
void lowerSoftmax(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0];
  int64_t M = n.type.elements();
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        Value *mx = rowMax(k, z, row, M);
        Value *inv = k.b.CreateFDiv(k.f32(1), rowSumExp(k, z, row, M, mx, &n));
        k.loop(
            M,
            [&](Value *j) {
              Value *i = addIdx(k, row, j);
              k.store(&n, i, k.b.CreateFMul(k.load(&n, i), inv));
            },
            "j");
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

// L = (1/n) sum_r sum_j t[r,j] (logsumexp(z[r]) - z[r,j]): never takes the
// log of a rounded probability, so it stays finite.
void lowerSoftmaxXent(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *t = n.operands[1];
  int64_t M = z->type.elements();
  Value *total = k.reduce(
      k.i64(0), k.n, {k.f32(0)},
      [&](Value *r, auto &acc) {
        Value *row = mulIdx(k, r, M);
        Value *mx = rowMax(k, z, row, M);
        Value *lse = k.b.CreateFAdd(
            mx, k.call(Intrinsic::log, {rowSumExp(k, z, row, M, mx, nullptr)}));
        Value *rowLoss = k.reduce(
            M, k.f32(0),
            [&](Value *j, Value *a) {
              Value *i = addIdx(k, row, j);
              Value *term = k.b.CreateFMul(k.load(t, i),
                                           k.b.CreateFSub(lse, k.load(z, i)));
              return k.b.CreateFAdd(a, term);
            },
            "xent");
        return std::vector<Value *>{k.b.CreateFAdd(acc[0], rowLoss)};
      },
      "row")[0];
  Value *count = k.b.CreateSIToFP(k.n, k.b.getFloatTy());
  k.store(&n, k.i64(0), k.b.CreateFDiv(total, count));
}

// dz[r,j] = (softmax(z[r])_j - t[r,j]) * dL / n
void lowerSoftmaxXentGrad(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *t = n.operands[1], *dl = n.operands[2];
  int64_t M = z->type.elements();
  Value *count = k.b.CreateSIToFP(k.n, k.b.getFloatTy());
  Value *scale = k.b.CreateFDiv(k.load(dl, k.i64(0)), count);
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        Value *mx = rowMax(k, z, row, M);
        Value *inv = k.b.CreateFDiv(k.f32(1), rowSumExp(k, z, row, M, mx, &n));
        k.loop(
            M,
            [&](Value *j) {
              Value *i = addIdx(k, row, j);
              Value *p = k.b.CreateFMul(k.load(&n, i), inv);
              k.store(&n, i,
                      k.b.CreateFMul(k.b.CreateFSub(p, k.load(t, i)), scale));
            },
            "j");
      },
      "row");
}

/// Index of the first maximum of a row.
Value *rowArgMax(KernelEmitter &k, const Node *v, Value *row, int64_t M) {
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  return k.reduce(
      k.i64(0), k.i64(M), {ninf, k.i64(0)},
      [&](Value *j, auto &acc) {
        Value *x = k.load(v, addIdx(k, row, j));
        Value *better = k.b.CreateFCmpOGT(x, acc[0]);
        return std::vector<Value *>{k.b.CreateSelect(better, x, acc[0]),
                                    k.b.CreateSelect(better, j, acc[1])};
      },
      "argmax")[1];
}

// correct = number of rows whose argmax of scores equals that of labels
void lowerCountCorrect(KernelEmitter &k, const Node &n) {
  const Node *s = n.operands[0], *t = n.operands[1];
  int64_t M = s->type.elements();
  Value *hits = k.reduce(
      k.i64(0), k.n, {k.i64(0)},
      [&](Value *r, auto &acc) {
        Value *row = mulIdx(k, r, M);
        Value *same =
            k.b.CreateICmpEQ(rowArgMax(k, s, row, M), rowArgMax(k, t, row, M));
        return std::vector<Value *>{
            k.b.CreateAdd(acc[0], k.b.CreateZExt(same, k.b.getInt64Ty()))};
      },
      "row")[0];
  k.store(&n, k.i64(0), k.b.CreateSIToFP(hits, k.b.getFloatTy()));
}

// Adam with bias correction, as torch.optim.Adam computes it:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
struct Adam {
  double b1, b2;
  Value *stepSize, *bc2Sqrt, *eps;

  /// The step's scalars, computed once per kernel call from `step` (t).
  Adam(KernelEmitter &k, const Node &n)
      : b1(n.attr("beta1")), b2(n.attr("beta2")) {
    IRBuilder<> &b = k.b;
    Value *t = b.CreateSIToFP(k.step, b.getDoubleTy());
    auto powd = [&](double base) {
      return k.call(Intrinsic::pow,
                    {ConstantFP::get(b.getDoubleTy(), base), t});
    };
    Value *one = ConstantFP::get(b.getDoubleTy(), 1.0);
    stepSize = b.CreateFPTrunc(
        b.CreateFDiv(ConstantFP::get(b.getDoubleTy(), n.attr("lr")),
                     b.CreateFSub(one, powd(b1))),
        b.getFloatTy());
    bc2Sqrt = b.CreateFPTrunc(
        k.call(Intrinsic::sqrt, {b.CreateFSub(one, powd(b2))}), b.getFloatTy());
    eps = k.f32(n.attr("epsilon"));
  }

  /// Updates element `i` of w, m and v (base pointers) with gradient `g`.
  void update(KernelEmitter &k, Value *w, Value *m, Value *v, Value *i,
              Value *g) const {
    IRBuilder<> &b = k.b;
    llvm::Type *f32 = b.getFloatTy();
    auto at = [&](Value *base) { return b.CreateInBoundsGEP(f32, base, i); };
    Value *mi = b.CreateFAdd(b.CreateFMul(k.f32(b1), b.CreateLoad(f32, at(m))),
                             b.CreateFMul(k.f32(1 - b1), g));
    Value *vi = b.CreateFAdd(b.CreateFMul(k.f32(b2), b.CreateLoad(f32, at(v))),
                             b.CreateFMul(k.f32(1 - b2), b.CreateFMul(g, g)));
    Value *denom =
        b.CreateFAdd(b.CreateFDiv(k.call(Intrinsic::sqrt, {vi}), bc2Sqrt), eps);
    Value *delta = b.CreateFDiv(b.CreateFMul(stepSize, mi), denom);
    b.CreateStore(mi, at(m));
    b.CreateStore(vi, at(v));
    b.CreateStore(b.CreateFSub(b.CreateLoad(f32, at(w)), delta), at(w));
  }
};

void lowerAdamUpdate(KernelEmitter &k, const Node &n) {
  Adam adam(k, n);
  k.loop(
      n.operands[0]->type.elements(),
      [&](Value *i) {
        adam.update(k, k.buffer(n.operands[0]), k.buffer(n.operands[2]),
                    k.buffer(n.operands[3]), i, k.load(n.operands[1], i));
      },
      "p");
}

LoweringTable makeTable() {
  LoweringTable t{};
  auto set = [&](OpKind op, Lowering rule) { t[int(op)] = rule; };
  set(K::Input, noCode);
  set(K::Param, noCode);
  set(K::Const, noCode);
  set(K::MatMul, lowerMatMul);
  set(K::MatMulNT, lowerMatMulNT);
  set(K::MatMulTN, lowerMatMulTN);
  set(K::BiasGrad, lowerBiasGrad);
  for (int i = 0; i < kNumOps; ++i)
    if (isElementwise(OpKind(i)))
      t[i] = lowerElementwise;
  set(K::Softmax, lowerSoftmax);
  set(K::SoftmaxGrad, lowerSoftmaxGrad);
  set(K::SoftmaxXent, lowerSoftmaxXent);
  set(K::SoftmaxXentGrad, lowerSoftmaxXentGrad);
  set(K::CountCorrect, lowerCountCorrect);
  set(K::AdamUpdate, lowerAdamUpdate);
  registerImageLowerings(t);
  return t;
}

} // namespace

void lowerOptimizerGroup(KernelEmitter &k, const FusionGroup &group,
                         int64_t weightFloats) {
  Value *v =
      k.b.CreateInBoundsGEP(k.b.getFloatTy(), k.optState, k.i64(weightFloats));
  Adam adam(k, *group.anchor);
  k.loop(
      weightFloats,
      [&](Value *i) {
        Value *g = k.b.CreateLoad(
            k.b.getFloatTy(),
            k.b.CreateInBoundsGEP(k.b.getFloatTy(), k.scratch, i));
        adam.update(k, k.params, k.optState, v, i, g);
      },
      "p");
}

// A gradient finished one row at a time, updating its weight as each row
// completes; the row is accumulated in a small stack tile, never stored:
//   matmul_tn: dW[i, :] = sum_r A[r, i] B[r, :]
//   bias_grad: db[:] = sum over rows of X[row, :]
void lowerUpdateGroup(KernelEmitter &k, const FusionGroup &group) {
  const Node &grad = *group.anchor, &update = *group.root;
  Adam adam(k, update);
  Value *w = k.buffer(update.operands[0]), *m = k.buffer(update.operands[2]),
        *v = k.buffer(update.operands[3]);
  const Node *x = grad.operands[0];
  bool isMatMul = grad.op == OpKind::MatMulTN;
  int64_t rows = isMatMul ? x->type.dims[0] : 1;
  int64_t M = isMatMul ? grad.operands[1]->type.dims[0] : grad.type.elements();
  Value *tile = k.tile(M);
  k.loop(
      rows,
      [&](Value *i) {
        k.loop(
            M, [&](Value *j) { k.storeTile(tile, j, k.f32(0)); }, "z");
        if (isMatMul) {
          // over the batch: tile[:] += A[r, i] * B[r, :]
          const Node *bm = grad.operands[1];
          k.loop(
              k.i64(0), k.n,
              [&](Value *r) {
                Value *av =
                    k.load(x, addIdx(k, mulIdx(k, r, x->type.dims[0]), i));
                Value *bRow = mulIdx(k, r, M);
                k.loop(
                    M,
                    [&](Value *j) {
                      Value *prod =
                          k.b.CreateFMul(av, k.load(bm, addIdx(k, bRow, j)));
                      k.storeTile(tile, j,
                                  k.b.CreateFAdd(k.loadTile(tile, j), prod));
                    },
                    "j");
              },
              "r");
        } else {
          // over every row of X: tile[:] += X[row, :]
          int64_t perRow = x->type.elements() / M;
          k.loop(
              k.i64(0), k.mulRows(x, perRow),
              [&](Value *r) {
                Value *row = mulIdx(k, r, M);
                k.loop(
                    M,
                    [&](Value *j) {
                      k.storeTile(tile, j,
                                  k.b.CreateFAdd(k.loadTile(tile, j),
                                                 k.load(x, addIdx(k, row, j))));
                    },
                    "j");
              },
              "r");
        }
        Value *base = mulIdx(k, i, M);
        k.loop(
            M,
            [&](Value *j) {
              adam.update(k, w, m, v, addIdx(k, base, j), k.loadTile(tile, j));
            },
            "p");
      },
      "i");
}

Lowering lowering(OpKind op) {
  static const LoweringTable table = makeTable();
  return table[int(op)];
}

} // namespace sora::ir
