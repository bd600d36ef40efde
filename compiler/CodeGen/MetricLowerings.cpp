//===- MetricLowerings.cpp - top-k accuracy, precision, recall, AUC -------===//
//
// Counts over a batch that the runtime sums over an epoch and only then
// turns into metrics (runtime/src/model.c), as Keras' stateful metrics do:
// precision from the true and false positives of the whole epoch, not a
// mean of per-batch ratios. Their results are counts, not means.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RowOps.h"

#include <llvm/IR/Intrinsics.h>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

/// Stores into `n` the number of rows r whose class cls(r) has fewer than
/// k scores above its own: in the top k, ties counted in (tf.math.in_top_k).
template <typename ClassOf>
void storeTopK(KernelEmitter &k, const Node &n, ClassOf cls) {
  const Node *s = n.operands[0];
  int64_t M = s->type.elements();
  Value *topK = k.i64(n.attrs.topK());
  Value *hits = k.reduce(
      k.i64(0), k.n, {k.i64(0)},
      [&](Value *r, auto &acc) {
        Value *row = mulIdx(k, r, M);
        Value *own = k.load(s, addIdx(k, row, cls(r, row)));
        Value *above = k.reduce(
            k.i64(0), k.i64(M), {k.i64(0)},
            [&](Value *j, auto &a) {
              Value *higher =
                  k.b.CreateFCmpOGT(k.load(s, addIdx(k, row, j)), own);
              return std::vector<Value *>{k.b.CreateAdd(
                  a[0], k.b.CreateZExt(higher, k.b.getInt64Ty()))};
            },
            "j")[0];
        Value *hit = k.b.CreateICmpSLT(above, topK);
        return std::vector<Value *>{
            k.b.CreateAdd(acc[0], k.b.CreateZExt(hit, k.b.getInt64Ty()))};
      },
      "row")[0];
  k.store(&n, k.i64(0), k.b.CreateSIToFP(hits, k.b.getFloatTy()));
}

// top_k = rows whose one-hot label's argmax is among the k highest scores
void lowerTopKCorrect(KernelEmitter &k, const Node &n) {
  const Node *t = n.operands[1];
  storeTopK(k, n, [&](Value *, Value *row) {
    return rowArgMax(k, t, row, t->type.elements());
  });
}

// top_k = rows whose class index is among the k highest scores
void lowerSparseTopKCorrect(KernelEmitter &k, const Node &n) {
  const Node *c = n.operands[1];
  storeTopK(k, n, [&](Value *r, Value *) {
    return k.b.CreateFPToSI(k.load(c, r), k.b.getInt64Ty());
  });
}

// [true positives, false positives, false negatives] over every element:
// predicted positive where the probability is above 0.5 (Keras' Precision
// and Recall), positive where the label is above 0.5
void lowerBinaryConfusion(KernelEmitter &k, const Node &n) {
  const Node *p = n.operands[0], *t = n.operands[1];
  Value *count = k.mulRows(p, p->type.elements());
  auto sums = k.reduce(
      k.i64(0), count, {k.f32(0), k.f32(0), k.f32(0)},
      [&](Value *i, auto &acc) {
        IRBuilder<> &b = k.b;
        Value *predicted = b.CreateFCmpOGT(k.load(p, i), k.f32(0.5));
        Value *actual = b.CreateFCmpOGT(k.load(t, i), k.f32(0.5));
        auto add = [&](Value *a, Value *both) {
          return b.CreateFAdd(a, b.CreateUIToFP(both, b.getFloatTy()));
        };
        return std::vector<Value *>{
            add(acc[0], b.CreateAnd(predicted, actual)),
            add(acc[1], b.CreateAnd(predicted, b.CreateNot(actual))),
            add(acc[2], b.CreateAnd(b.CreateNot(predicted), actual))};
      },
      "e");
  for (int i = 0; i < 3; ++i)
    k.store(&n, k.i64(i), sums[i]);
}

// hist[0, b] counts the positive elements (label above 0.5), hist[1, b]
// the negative ones, whose probability exceeds b of Keras' 200 AUC
// thresholds (-eps, 1/199, ..., 198/199, 1 + eps): b = ceil(199 p) within
// [1, 199]
void lowerThresholdHistogram(KernelEmitter &k, const Node &n) {
  const Node *p = n.operands[0], *t = n.operands[1];
  const int64_t buckets = n.type.elements() / 2;
  k.loop(
      2 * buckets, [&](Value *b) { k.store(&n, b, k.f32(0)); }, "z");
  k.loop(
      k.i64(0), k.mulRows(p, p->type.elements()),
      [&](Value *i) {
        IRBuilder<> &b = k.b;
        Value *scaled =
            k.call(Intrinsic::ceil,
                   {b.CreateFMul(k.load(p, i), k.f32(double(buckets - 1)))});
        // maxnum first: a NaN probability lands in bucket 1, not in poison.
        Value *clamped = k.call(Intrinsic::minnum,
                                {k.call(Intrinsic::maxnum, {scaled, k.f32(1)}),
                                 k.f32(double(buckets - 1))});
        Value *bucket = b.CreateFPToSI(clamped, b.getInt64Ty());
        Value *negative = b.CreateFCmpOLE(k.load(t, i), k.f32(0.5));
        Value *at = b.CreateAdd(
            bucket, b.CreateSelect(negative, k.i64(buckets), k.i64(0)));
        k.store(&n, at, b.CreateFAdd(k.load(&n, at), k.f32(1)));
      },
      "e");
}

} // namespace

void registerMetricLowerings(LoweringTable &t) {
  t.set(K::TopKCorrect, lowerTopKCorrect);
  t.set(K::SparseTopKCorrect, lowerSparseTopKCorrect);
  t.set(K::BinaryConfusion, lowerBinaryConfusion);
  t.set(K::ThresholdHistogram, lowerThresholdHistogram);
}

} // namespace sora::ir
