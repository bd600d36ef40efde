//===- LossLowerings.cpp - Losses and metrics, row by row -----------------===//
//
// Every loss is the batch mean of a per-sample loss; each gradient op
// computes dL/d(input) for dL = its third operand (1 for the objective).
// The cross-entropies work on the logits before the output's softmax or
// sigmoid, with the log-sum-exp and softplus forms that never take the log
// of a rounded probability, so they stay finite and accurate. They take
// Keras' label smoothing (targets t (1 - ls) + ls / classes, or + ls / 2
// for the binary one) and class weights (each sample's loss times the
// weight of its label's class; the mean stays over the batch, as Keras'
// class_weight, not over the weights as torch's CrossEntropyLoss(weight=)).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RowOps.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

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

/// The weight of class `cls` (an i64) from `n`'s class_weights (a
/// constant table in the module), or 1 without them.
Value *classWeight(KernelEmitter &k, const Node &n, Value *cls) {
  const std::vector<double> &weights = n.attrs.classWeights();
  if (weights.empty())
    return k.f32(1);
  Module *module = k.b.GetInsertBlock()->getModule();
  std::vector<float> values(weights.begin(), weights.end());
  Constant *table =
      ConstantDataArray::get(module->getContext(), ArrayRef<float>(values));
  auto *global =
      new GlobalVariable(*module, table->getType(), true,
                         GlobalValue::PrivateLinkage, table, "class_weights");
  Value *at = k.b.CreateInBoundsGEP(table->getType(), global, {k.i64(0), cls});
  return k.b.CreateLoad(k.b.getFloatTy(), at);
}

/// A label smoothed: t (1 - ls) + ls * share (share: 1 / classes).
Value *smooth(KernelEmitter &k, const Node &n, Value *t, double share) {
  double ls = n.attrs.labelSmoothing();
  if (ls == 0)
    return t;
  return k.b.CreateFAdd(k.b.CreateFMul(t, k.f32(1 - ls)), k.f32(ls * share));
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

/// dz[r,j] = (softmax(z[r])_j - target[r,j]) * w_r * dL / n, its operands
/// being (z, labels, dL); rowOf(r) gives row r's weight w_r and a function
/// of its target at (column j, flat index i).
template <typename RowOf>
void lowerXentGrad(KernelEmitter &k, const Node &n, RowOf rowOf) {
  const Node *z = n.operands[0], *dl = n.operands[2];
  int64_t M = z->type.elements();
  Value *scale = k.b.CreateFDiv(k.load(dl, k.i64(0)), batchSize(k));
  k.loop(
      k.i64(0), k.n,
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        auto of = rowOf(r, row); // (weight, target): no bindings in lambdas
        auto target = of.second;
        Value *rowScale = k.b.CreateFMul(scale, of.first);
        rowSoftmax(k, z, row, M, n, [&](Value *j, Value *i, Value *p) {
          return k.b.CreateFMul(k.b.CreateFSub(p, target(j, i)), rowScale);
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

/// The class weight of one-hot row `row` of the labels: its argmax's.
Value *rowWeight(KernelEmitter &k, const Node &n, Value *row) {
  if (n.attrs.classWeights().empty())
    return k.f32(1);
  const Node *t = n.operands[1];
  return classWeight(k, n, rowArgMax(k, t, row, t->type.elements()));
}

// L = (1/n) sum_r w_r sum_j t'[r,j] (logsumexp(z[r]) - z[r,j]), t' the
// smoothed labels
void lowerSoftmaxXent(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *t = n.operands[1];
  int64_t M = z->type.elements();
  lowerXent(k, n, [&](Value *, Value *row, Value *lse) {
    Value *loss = k.reduce(
        M, k.f32(0),
        [&](Value *j, Value *a) {
          Value *i = addIdx(k, row, j);
          Value *target = smooth(k, n, k.load(t, i), 1.0 / double(M));
          Value *term =
              k.b.CreateFMul(target, k.b.CreateFSub(lse, k.load(z, i)));
          return k.b.CreateFAdd(a, term);
        },
        "xent");
    return k.b.CreateFMul(loss, rowWeight(k, n, row));
  });
}

// dz[r,j] = (softmax(z[r])_j - t'[r,j]) * w_r * dL / n
void lowerSoftmaxXentGrad(KernelEmitter &k, const Node &n) {
  const Node *t = n.operands[1];
  double share = 1.0 / double(t->type.elements());
  lowerXentGrad(k, n, [&](Value *, Value *row) {
    std::function<Value *(Value *, Value *)> target =
        [&k, &n, t, share](Value *, Value *i) {
          return smooth(k, n, k.load(t, i), share);
        };
    return std::pair{rowWeight(k, n, row), target};
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

// L = (1/n) sum_r w_{c_r} ((1 - ls) (logsumexp(z[r]) - z[r, c_r]) +
// ls / M sum_j (logsumexp(z[r]) - z[r,j])) for class indices c: the
// categorical loss of the smoothed one-hot rows, as torch's
// CrossEntropyLoss(label_smoothing=) takes class indices
void lowerSparseSoftmaxXent(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *c = n.operands[1];
  int64_t M = z->type.elements();
  double ls = n.attrs.labelSmoothing();
  lowerXent(k, n, [&](Value *r, Value *row, Value *lse) {
    Value *cls = classOf(k, c, r);
    Value *zc = k.load(z, addIdx(k, row, cls));
    Value *loss = k.b.CreateFSub(lse, zc);
    if (ls != 0) {
      Value *all = k.reduce(
          M, k.f32(0),
          [&](Value *j, Value *a) {
            Value *term = k.b.CreateFSub(lse, k.load(z, addIdx(k, row, j)));
            return k.b.CreateFAdd(a, term);
          },
          "xent");
      loss = k.b.CreateFAdd(k.b.CreateFMul(loss, k.f32(1 - ls)),
                            k.b.CreateFMul(all, k.f32(ls / double(M))));
    }
    return k.b.CreateFMul(loss, classWeight(k, n, cls));
  });
}

// dz[r,j] = (softmax(z[r])_j - t'[r,j]) * w_{c_r} * dL / n, t' the smoothed
// one-hot row of c_r
void lowerSparseSoftmaxXentGrad(KernelEmitter &k, const Node &n) {
  const Node *c = n.operands[1];
  double share = 1.0 / double(n.operands[0]->type.elements());
  lowerXentGrad(k, n, [&](Value *r, Value *) {
    Value *cls = classOf(k, c, r);
    std::function<Value *(Value *, Value *)> target =
        [&k, &n, cls, share](Value *j, Value *) {
          Value *hot =
              k.b.CreateSelect(k.b.CreateICmpEQ(j, cls), k.f32(1), k.f32(0));
          return smooth(k, n, hot, share);
        };
    return std::pair{classWeight(k, n, cls), target};
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

/// The binary cross-entropy's class weight of label t: class 1 above 0.5.
Value *binaryWeight(KernelEmitter &k, const Node &n, Value *t) {
  if (n.attrs.classWeights().empty())
    return k.f32(1);
  Value *positive = k.b.CreateFCmpOGT(t, k.f32(0.5));
  return classWeight(k, n, k.b.CreateZExt(positive, k.b.getInt64Ty()));
}

// L = mean of w(t) (max(z, 0) - z t' + log(1 + exp(-|z|))), which is
// -w(t) (t' log s(z) + (1 - t') log(1 - s(z))) without overflow for any z
void lowerSigmoidBinaryXent(KernelEmitter &k, const Node &n) {
  storeElementMean(k, n, [&](Value *z, Value *t) {
    IRBuilder<> &b = k.b;
    Value *target = smooth(k, n, t, 0.5);
    Value *relu = k.call(Intrinsic::maxnum, {z, k.f32(0)});
    Value *absz = k.call(Intrinsic::fabs, {z});
    Value *softplus = k.call(
        Intrinsic::log,
        {b.CreateFAdd(k.f32(1), k.call(Intrinsic::exp, {b.CreateFNeg(absz)}))});
    Value *loss =
        b.CreateFAdd(b.CreateFSub(relu, b.CreateFMul(z, target)), softplus);
    return b.CreateFMul(loss, binaryWeight(k, n, t));
  });
}

// dz = (sigmoid(z) - t') * w(t) * dL / count
void lowerSigmoidBinaryXentGrad(KernelEmitter &k, const Node &n) {
  const Node *z = n.operands[0], *t = n.operands[1];
  Value *scale =
      k.b.CreateFDiv(k.load(n.operands[2], k.i64(0)), elementCount(k, z));
  k.forEachElement(&n, [&](Value *i) {
    Value *e = k.call(Intrinsic::exp, {k.b.CreateFNeg(k.load(z, i))});
    Value *s = k.b.CreateFDiv(k.f32(1), k.b.CreateFAdd(k.f32(1), e));
    Value *label = k.load(t, i);
    Value *d = k.b.CreateFSub(s, smooth(k, n, label, 0.5));
    k.store(
        &n, i,
        k.b.CreateFMul(d, k.b.CreateFMul(scale, binaryWeight(k, n, label))));
  });
}

// L = mean of (p - t)^2
void lowerMeanSquaredError(KernelEmitter &k, const Node &n) {
  storeElementMean(k, n, [&](Value *p, Value *t) {
    Value *d = k.b.CreateFSub(p, t);
    return k.b.CreateFMul(d, d);
  });
}

// mae = mean of |p - t| (a loss, or a metric)
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

// dp = sign(p - t) * dL / count, with sign(0) = 0 (torch's L1Loss: the
// subgradient 0 where the prediction is exact)
void lowerMeanAbsoluteErrorGrad(KernelEmitter &k, const Node &n) {
  const Node *p = n.operands[0], *t = n.operands[1];
  Value *scale =
      k.b.CreateFDiv(k.load(n.operands[2], k.i64(0)), elementCount(k, p));
  k.forEachElement(&n, [&](Value *i) {
    IRBuilder<> &b = k.b;
    Value *d = b.CreateFSub(k.load(p, i), k.load(t, i));
    Value *sign = b.CreateSelect(
        b.CreateFCmpOGT(d, k.f32(0)), k.f32(1),
        b.CreateSelect(b.CreateFCmpOLT(d, k.f32(0)), k.f32(-1), k.f32(0)));
    k.store(&n, i, b.CreateFMul(sign, scale));
  });
}

// L = mean of 0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta),
// e = p - t (Keras' Huber, torch's HuberLoss)
void lowerHuber(KernelEmitter &k, const Node &n) {
  double delta = n.attrs.delta();
  storeElementMean(k, n, [&](Value *p, Value *t) {
    IRBuilder<> &b = k.b;
    Value *e = b.CreateFSub(p, t);
    Value *a = k.call(Intrinsic::fabs, {e});
    Value *quadratic = b.CreateFMul(k.f32(0.5), b.CreateFMul(e, e));
    Value *linear =
        b.CreateFMul(k.f32(delta), b.CreateFSub(a, k.f32(0.5 * delta)));
    return b.CreateSelect(b.CreateFCmpOLE(a, k.f32(delta)), quadratic, linear);
  });
}

// dp = clamp(p - t, -delta, delta) * dL / count
void lowerHuberGrad(KernelEmitter &k, const Node &n) {
  const Node *p = n.operands[0], *t = n.operands[1];
  double delta = n.attrs.delta();
  Value *scale =
      k.b.CreateFDiv(k.load(n.operands[2], k.i64(0)), elementCount(k, p));
  k.forEachElement(&n, [&](Value *i) {
    Value *e = k.b.CreateFSub(k.load(p, i), k.load(t, i));
    Value *clamped =
        k.call(Intrinsic::minnum,
               {k.call(Intrinsic::maxnum, {e, k.f32(-delta)}), k.f32(delta)});
    k.store(&n, i, k.b.CreateFMul(clamped, scale));
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
  t.set(K::MeanAbsoluteErrorGrad, lowerMeanAbsoluteErrorGrad);
  t.set(K::Huber, lowerHuber);
  t.set(K::HuberGrad, lowerHuberGrad);
  t.set(K::BinaryCountCorrect, lowerBinaryCountCorrect);
}

} // namespace sora::ir
