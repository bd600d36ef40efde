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
              k.store(&n, addIdx(k, mulIdx(k, r, M), j), dot);
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

// Y[r,j] = X[r,j] + b[j]
void lowerBiasAdd(KernelEmitter &k, const Node &n) {
  int64_t M = n.type.dims[0];
  k.loop(
      k.i64(0), k.rows(&n),
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        k.loop(
            M,
            [&](Value *j) {
              Value *i = addIdx(k, row, j);
              k.store(&n, i,
                      k.b.CreateFAdd(k.load(n.operands[0], i),
                                     k.load(n.operands[1], j)));
            },
            "j");
      },
      "row");
}

// Y[j] = sum_r X[r,j]
void lowerReduceBatch(KernelEmitter &k, const Node &n) {
  int64_t M = n.type.elements();
  k.loop(
      M, [&](Value *j) { k.store(&n, j, k.f32(0)); }, "z");
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        k.loop(
            M,
            [&](Value *j) {
              k.store(&n, j,
                      k.b.CreateFAdd(k.load(&n, j),
                                     k.load(n.operands[0], addIdx(k, row, j))));
            },
            "j");
      },
      "row");
}

/// An elementwise op: y[i] = f(operands[0][i], operands[1][i], ...).
template <typename F> void elementwise(KernelEmitter &k, const Node &n, F f) {
  k.forEachElement(&n, [&](Value *i) {
    std::vector<Value *> in;
    for (const Node *o : n.operands)
      in.push_back(k.load(o, i));
    k.store(&n, i, f(in));
  });
}

void lowerAdd(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) { return k.b.CreateFAdd(v[0], v[1]); });
}
void lowerSub(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) { return k.b.CreateFSub(v[0], v[1]); });
}
void lowerMul(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) { return k.b.CreateFMul(v[0], v[1]); });
}
void lowerDiv(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) { return k.b.CreateFDiv(v[0], v[1]); });
}
void lowerNeg(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) { return k.b.CreateFNeg(v[0]); });
}

// y = max(x, 0)
void lowerRelu(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) {
    return k.b.CreateSelect(k.b.CreateFCmpOGT(v[0], k.f32(0)), v[0], k.f32(0));
  });
}
// dx = y > 0 ? dy : 0
void lowerReluGrad(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) {
    return k.b.CreateSelect(k.b.CreateFCmpOGT(v[1], k.f32(0)), v[0], k.f32(0));
  });
}
// y = 1 / (1 + exp(-x))
void lowerSigmoid(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) {
    Value *e = k.call(Intrinsic::exp, {k.b.CreateFNeg(v[0])});
    return k.b.CreateFDiv(k.f32(1), k.b.CreateFAdd(k.f32(1), e));
  });
}
// dx = dy * y * (1 - y)
void lowerSigmoidGrad(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) {
    Value *d = k.b.CreateFMul(v[1], k.b.CreateFSub(k.f32(1), v[1]));
    return k.b.CreateFMul(v[0], d);
  });
}
// y = tanh(x) = 1 - 2 / (exp(2x) + 1), stable at both ends
void lowerTanh(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) {
    Value *e = k.call(Intrinsic::exp, {k.b.CreateFMul(v[0], k.f32(2))});
    Value *t = k.b.CreateFDiv(k.f32(2), k.b.CreateFAdd(e, k.f32(1)));
    return k.b.CreateFSub(k.f32(1), t);
  });
}
// dx = dy * (1 - y^2)
void lowerTanhGrad(KernelEmitter &k, const Node &n) {
  elementwise(k, n, [&](auto &v) {
    Value *d = k.b.CreateFSub(k.f32(1), k.b.CreateFMul(v[1], v[1]));
    return k.b.CreateFMul(v[0], d);
  });
}
// y = x > 0 ? x : alpha x
void lowerLeakyRelu(KernelEmitter &k, const Node &n) {
  Value *alpha = k.f32(n.attr("alpha"));
  elementwise(k, n, [&](auto &v) {
    return k.b.CreateSelect(k.b.CreateFCmpOGT(v[0], k.f32(0)), v[0],
                            k.b.CreateFMul(v[0], alpha));
  });
}
// dx = x > 0 ? dy : alpha dy
void lowerLeakyReluGrad(KernelEmitter &k, const Node &n) {
  Value *alpha = k.f32(n.attr("alpha"));
  elementwise(k, n, [&](auto &v) {
    return k.b.CreateSelect(k.b.CreateFCmpOGT(v[1], k.f32(0)), v[0],
                            k.b.CreateFMul(v[0], alpha));
  });
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
void lowerAdamUpdate(KernelEmitter &k, const Node &n) {
  const Node *w = n.operands[0], *g = n.operands[1], *m = n.operands[2],
             *v = n.operands[3];
  double b1 = n.attr("beta1"), b2 = n.attr("beta2");
  IRBuilder<> &b = k.b;
  Value *t = b.CreateSIToFP(k.step, b.getDoubleTy());
  auto powd = [&](double base) {
    return k.call(Intrinsic::pow, {ConstantFP::get(b.getDoubleTy(), base), t});
  };
  Value *one = ConstantFP::get(b.getDoubleTy(), 1.0);
  Value *stepSize = b.CreateFPTrunc(
      b.CreateFDiv(ConstantFP::get(b.getDoubleTy(), n.attr("lr")),
                   b.CreateFSub(one, powd(b1))),
      b.getFloatTy());
  Value *bc2Sqrt = b.CreateFPTrunc(
      k.call(Intrinsic::sqrt, {b.CreateFSub(one, powd(b2))}), b.getFloatTy());
  Value *eps = k.f32(n.attr("epsilon"));
  k.loop(
      w->type.elements(),
      [&](Value *i) {
        Value *gi = k.load(g, i);
        Value *mi = b.CreateFAdd(b.CreateFMul(k.f32(b1), k.load(m, i)),
                                 b.CreateFMul(k.f32(1 - b1), gi));
        Value *vi =
            b.CreateFAdd(b.CreateFMul(k.f32(b2), k.load(v, i)),
                         b.CreateFMul(k.f32(1 - b2), b.CreateFMul(gi, gi)));
        Value *denom = b.CreateFAdd(
            b.CreateFDiv(k.call(Intrinsic::sqrt, {vi}), bc2Sqrt), eps);
        Value *delta = b.CreateFDiv(b.CreateFMul(stepSize, mi), denom);
        k.store(m, i, mi);
        k.store(v, i, vi);
        k.store(w, i, b.CreateFSub(k.load(w, i), delta));
      },
      "p");
}

std::array<Lowering, kNumOps> makeTable() {
  std::array<Lowering, kNumOps> t{};
  auto set = [&](OpKind op, Lowering rule) { t[int(op)] = rule; };
  set(K::Input, noCode);
  set(K::Param, noCode);
  set(K::Const, noCode);
  set(K::MatMul, lowerMatMul);
  set(K::MatMulNT, lowerMatMulNT);
  set(K::MatMulTN, lowerMatMulTN);
  set(K::BiasAdd, lowerBiasAdd);
  set(K::ReduceBatch, lowerReduceBatch);
  set(K::Add, lowerAdd);
  set(K::Sub, lowerSub);
  set(K::Mul, lowerMul);
  set(K::Div, lowerDiv);
  set(K::Neg, lowerNeg);
  set(K::Relu, lowerRelu);
  set(K::ReluGrad, lowerReluGrad);
  set(K::Sigmoid, lowerSigmoid);
  set(K::SigmoidGrad, lowerSigmoidGrad);
  set(K::Tanh, lowerTanh);
  set(K::TanhGrad, lowerTanhGrad);
  set(K::LeakyRelu, lowerLeakyRelu);
  set(K::LeakyReluGrad, lowerLeakyReluGrad);
  set(K::Softmax, lowerSoftmax);
  set(K::SoftmaxGrad, lowerSoftmaxGrad);
  set(K::SoftmaxXent, lowerSoftmaxXent);
  set(K::SoftmaxXentGrad, lowerSoftmaxXentGrad);
  set(K::CountCorrect, lowerCountCorrect);
  set(K::AdamUpdate, lowerAdamUpdate);
  return t;
}

} // namespace

Lowering lowering(OpKind op) {
  static const std::array<Lowering, kNumOps> table = makeTable();
  return table[int(op)];
}

} // namespace sora::ir
