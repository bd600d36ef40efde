//===- LossLowerings.cpp - Losses and metrics, row by row -----------------===//
//
// Every loss is the batch mean of a per-sample loss; each gradient op
// computes dL/d(input) for dL = its third operand (1 for the objective).
// The cross-entropies work on the logits before the output's softmax or
// sigmoid, with the log-sum-exp and softplus forms that never take the log
// of a rounded probability, so they stay finite and accurate.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RowOps.h"

#include <llvm/IR/Intrinsics.h>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

/// The batch size as a float.
Value *batchSize(KernelEmitter &k) {
  return k.b.CreateSIToFP(k.n, k.b.getFloatTy());
}
/// The class index held (as a float) in a label of [?,1].
Value *classOf(KernelEmitter &k, const Node *labels, Value *r) {
  return k.b.CreateFPToSI(k.load(labels, r), k.b.getInt64Ty());
}

/// Stores into `n` the batch mean of a softmax cross-entropy of the logits
/// z (its first operand), given row r's loss from the row's start index and
/// its logsumexp, which never takes the log of a rounded probability and so
/// stays finite.
template <typename RowLoss>
void lowerXent(KernelEmitter &k, const Node &n, RowLoss rowLoss) {
  const Node *z = n.operands[0];
  int64_t M = z->type.elements();
  Value *total = k.reduce(
      k.i64(0), k.n, {k.f32(0)},
      [&](Value *r, auto &acc) {
        Value *row = mulIdx(k, r, M);
        Value *mx = rowMax(k, z, row, M);
        Value *lse = k.b.CreateFAdd(
            mx, k.call(Intrinsic::log, {rowSumExp(k, z, row, M, mx, nullptr)}));
        return std::vector<Value *>{
            k.b.CreateFAdd(acc[0], rowLoss(r, row, lse))};
      },
      "row")[0];
  k.store(&n, k.i64(0), k.b.CreateFDiv(total, batchSize(k)));
}

/// dz[r,j] = (softmax(z[r])_j - target[r,j]) * dL / n, its operands being
/// (z, labels, dL); targetsOf(r) gives row r's target at (column j, flat
/// index i).
template <typename TargetsOf>
void lowerXentGrad(KernelEmitter &k, const Node &n, TargetsOf targetsOf) {
  const Node *z = n.operands[0], *dl = n.operands[2];
  int64_t M = z->type.elements();
  Value *scale = k.b.CreateFDiv(k.load(dl, k.i64(0)), batchSize(k));
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        auto target = targetsOf(r);
        rowSoftmax(k, z, row, M, n, [&](Value *j, Value *i, Value *p) {
          return k.b.CreateFMul(k.b.CreateFSub(p, target(j, i)), scale);
        });
      },
      "row");
}

/// Stores into `n` the number of rows r for which hit(r) holds.
template <typename Hit>
void storeRowCount(KernelEmitter &k, const Node &n, Hit hit) {
  Value *hits = k.reduce(
      k.i64(0), k.n, {k.i64(0)},
      [&](Value *r, auto &acc) {
        return std::vector<Value *>{
            k.b.CreateAdd(acc[0], k.b.CreateZExt(hit(r), k.b.getInt64Ty()))};
      },
      "row")[0];
  k.store(&n, k.i64(0), k.b.CreateSIToFP(hits, k.b.getFloatTy()));
}

// L = (1/n) sum_r sum_j t[r,j] (logsumexp(z[r]) - z[r,j])
void lowerSoftmaxXent(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *t = n.operands[1];
  int64_t M = z->type.elements();
  lowerXent(k, n, [&](Value *, Value *row, Value *lse) {
    return k.reduce(
        M, k.f32(0),
        [&](Value *j, Value *a) {
          Value *i = addIdx(k, row, j);
          Value *term =
              k.b.CreateFMul(k.load(t, i), k.b.CreateFSub(lse, k.load(z, i)));
          return k.b.CreateFAdd(a, term);
        },
        "xent");
  });
}

// dz[r,j] = (softmax(z[r])_j - t[r,j]) * dL / n
void lowerSoftmaxXentGrad(KernelEmitter &k, const Node &n) {
  const Node *t = n.operands[1];
  lowerXentGrad(k, n, [&](Value *) {
    return [&](Value *, Value *i) { return k.load(t, i); };
  });
}

// correct = number of rows whose argmax of scores equals that of labels
void lowerCountCorrect(KernelEmitter &k, const Node &n) {
  const Node *s = n.operands[0], *t = n.operands[1];
  int64_t M = s->type.elements();
  storeRowCount(k, n, [&](Value *r) {
    Value *row = mulIdx(k, r, M);
    return k.b.CreateICmpEQ(rowArgMax(k, s, row, M), rowArgMax(k, t, row, M));
  });
}

// L = (1/n) sum_r (logsumexp(z[r]) - z[r, c_r]) for class indices c
void lowerSparseSoftmaxXent(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *c = n.operands[1];
  lowerXent(k, n, [&](Value *r, Value *row, Value *lse) {
    Value *zc = k.load(z, addIdx(k, row, classOf(k, c, r)));
    return k.b.CreateFSub(lse, zc);
  });
}

// dz[r,j] = (softmax(z[r])_j - [j == c_r]) * dL / n
void lowerSparseSoftmaxXentGrad(KernelEmitter &k, const Node &n) {
  const Node *c = n.operands[1];
  lowerXentGrad(k, n, [&](Value *r) {
    Value *cls = classOf(k, c, r);
    return [&k, cls](Value *j, Value *) {
      return k.b.CreateSelect(k.b.CreateICmpEQ(j, cls), k.f32(1), k.f32(0));
    };
  });
}

// correct = rows whose argmax of scores is the class index
void lowerSparseCountCorrect(KernelEmitter &k, const Node &n) {
  const Node *s = n.operands[0], *c = n.operands[1];
  int64_t M = s->type.elements();
  storeRowCount(k, n, [&](Value *r) {
    return k.b.CreateICmpEQ(rowArgMax(k, s, mulIdx(k, r, M), M),
                            classOf(k, c, r));
  });
}

/// Sums f(prediction, label) over every element of the batch.
template <typename F>
Value *sumElements(KernelEmitter &k, const Node *p, const Node *t, F f) {
  int64_t M = p->type.elements();
  return k.reduce(
      k.i64(0), k.n, {k.f32(0)},
      [&](Value *r, auto &acc) {
        Value *row = mulIdx(k, r, M);
        Value *rowSum = k.reduce(
            M, k.f32(0),
            [&](Value *j, Value *a) {
              Value *i = addIdx(k, row, j);
              return k.b.CreateFAdd(a, f(k.load(p, i), k.load(t, i)));
            },
            "e");
        return std::vector<Value *>{k.b.CreateFAdd(acc[0], rowSum)};
      },
      "row")[0];
}

/// The number of elements the mean runs over: n * elements per sample.
Value *elementCount(KernelEmitter &k, const Node *p) {
  return k.b.CreateFMul(batchSize(k), k.f32(double(p->type.elements())));
}

/// Stores into `n` the mean of f(prediction, label) over every element of
/// the batch, its operands being (prediction, labels).
template <typename F>
void storeElementMean(KernelEmitter &k, const Node &n, F f) {
  Value *total = sumElements(k, n.operands[0], n.operands[1], f);
  k.store(&n, k.i64(0), k.b.CreateFDiv(total, elementCount(k, n.operands[0])));
}

// L = mean of max(z, 0) - z t + log(1 + exp(-|z|)), which is
// -(t log s(z) + (1 - t) log(1 - s(z))) without overflow for any z
void lowerSigmoidBinaryXent(KernelEmitter &k, const Node &n) {
  storeElementMean(k, n, [&](Value *z, Value *t) {
    IRBuilder<> &b = k.b;
    Value *relu = k.call(Intrinsic::maxnum, {z, k.f32(0)});
    Value *absz = k.call(Intrinsic::fabs, {z});
    Value *softplus = k.call(
        Intrinsic::log,
        {b.CreateFAdd(k.f32(1), k.call(Intrinsic::exp, {b.CreateFNeg(absz)}))});
    return b.CreateFAdd(b.CreateFSub(relu, b.CreateFMul(z, t)), softplus);
  });
}

// dz = (sigmoid(z) - t) * dL / count
void lowerSigmoidBinaryXentGrad(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *t = n.operands[1];
  Value *scale =
      k.b.CreateFDiv(k.load(n.operands[2], k.i64(0)), elementCount(k, z));
  k.forEachElement(&n, [&](Value *i) {
    Value *e = k.call(Intrinsic::exp, {k.b.CreateFNeg(k.load(z, i))});
    Value *s = k.b.CreateFDiv(k.f32(1), k.b.CreateFAdd(k.f32(1), e));
    k.store(&n, i, k.b.CreateFMul(k.b.CreateFSub(s, k.load(t, i)), scale));
  });
}

// L = mean of (p - t)^2
void lowerMeanSquaredError(KernelEmitter &k, const Node &n) {
  storeElementMean(k, n, [&](Value *p, Value *t) {
    Value *d = k.b.CreateFSub(p, t);
    return k.b.CreateFMul(d, d);
  });
}

// mae = mean of |p - t| (a metric: no gradient)
void lowerMeanAbsoluteError(KernelEmitter &k, const Node &n) {
  storeElementMean(k, n, [&](Value *p, Value *t) {
    return k.call(Intrinsic::fabs, {k.b.CreateFSub(p, t)});
  });
}

// dp = 2 (p - t) * dL / count
void lowerMeanSquaredErrorGrad(KernelEmitter &k, const Node &n) {
  const Node *p = n.operands[0], *t = n.operands[1];
  Value *scale =
      k.b.CreateFDiv(k.b.CreateFMul(k.f32(2), k.load(n.operands[2], k.i64(0))),
                     elementCount(k, p));
  k.forEachElement(&n, [&](Value *i) {
    k.store(&n, i,
            k.b.CreateFMul(k.b.CreateFSub(k.load(p, i), k.load(t, i)), scale));
  });
}

// correct = sum over rows of the fraction of elements where
// (score > threshold) == (label > 0.5)
void lowerBinaryCountCorrect(KernelEmitter &k, const Node &n) {
  const Node *s = n.operands[0];
  Value *threshold = k.f32(n.attrs.threshold());
  Value *hits = sumElements(k, s, n.operands[1], [&](Value *v, Value *t) {
    Value *same = k.b.CreateICmpEQ(k.b.CreateFCmpOGT(v, threshold),
                                   k.b.CreateFCmpOGT(t, k.f32(0.5)));
    return k.b.CreateUIToFP(same, k.b.getFloatTy());
  });
  k.store(&n, k.i64(0),
          k.b.CreateFDiv(hits, k.f32(double(s->type.elements()))));
}

} // namespace

void registerLossLowerings(LoweringTable &t) {
  t.set(K::SoftmaxXent, lowerSoftmaxXent);
  t.set(K::SoftmaxXentGrad, lowerSoftmaxXentGrad);
  t.set(K::CountCorrect, lowerCountCorrect);
  t.set(K::SparseSoftmaxXent, lowerSparseSoftmaxXent);
  t.set(K::SparseSoftmaxXentGrad, lowerSparseSoftmaxXentGrad);
  t.set(K::SparseCountCorrect, lowerSparseCountCorrect);
  t.set(K::SigmoidBinaryXent, lowerSigmoidBinaryXent);
  t.set(K::SigmoidBinaryXentGrad, lowerSigmoidBinaryXentGrad);
  t.set(K::MeanSquaredError, lowerMeanSquaredError);
  t.set(K::MeanSquaredErrorGrad, lowerMeanSquaredErrorGrad);
  t.set(K::MeanAbsoluteError, lowerMeanAbsoluteError);
  t.set(K::BinaryCountCorrect, lowerBinaryCountCorrect);
}

} // namespace sora::ir
