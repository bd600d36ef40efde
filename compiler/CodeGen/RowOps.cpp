//===- RowOps.cpp - Reductions over one row of a batch --------------------===//
#include "CodeGen/RowOps.h"

#include <llvm/IR/Intrinsics.h>

#include <limits>

namespace sora::ir {

using namespace llvm;

Value *rowMax(KernelEmitter &k, const Node *z, Value *row, int64_t M) {
  Value *ninf = k.f32(-std::numeric_limits<float>::infinity());
  return k.reduce(
      M, ninf,
      [&](Value *j, Value *acc) {
        return k.call(Intrinsic::maxnum, {acc, k.load(z, addIdx(k, row, j))});
      },
      "max");
}

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

void rowSoftmax(
    KernelEmitter &k, const Node *z, Value *row, int64_t M, const Node &out,
    const std::function<Value *(Value *, Value *, Value *)> &finish) {
  Value *mx = rowMax(k, z, row, M);
  Value *inv = k.b.CreateFDiv(k.f32(1), rowSumExp(k, z, row, M, mx, &out));
  k.loop(
      M,
      [&](Value *j) {
        Value *i = addIdx(k, row, j);
        Value *p = k.b.CreateFMul(k.load(&out, i), inv);
        k.store(&out, i, finish(j, i, p));
      },
      "j");
}

/// Elements of one sample of x (a convolution's output gradient) from which
/// sumColumns splits the batch in kBatchParts.
constexpr int64_t kSplitSums = 4096;

Value *batchPartStart(KernelEmitter &k, Value *part) {
  return k.b.CreateUDiv(k.b.CreateMul(k.n, part), k.i64(kBatchParts));
}

void addBatchParts(KernelEmitter &k, Value *parts, int64_t count,
                   const std::function<void(Value *, Value *)> &set) {
  k.loop(
      count,
      [&](Value *i) {
        Value *sum = k.loadTile(parts, i);
        for (int64_t p = 1; p < kBatchParts; ++p)
          sum = k.b.CreateFAdd(
              sum, k.loadTile(parts, addIdx(k, i, k.i64(p * count))));
        set(i, sum);
      },
      "part.sum");
}

void sumColumns(KernelEmitter &k, const Node *x, int64_t M,
                const std::function<Value *(Value *)> &get,
                const std::function<void(Value *, Value *)> &set,
                const char *rowName) {
  const int64_t perSample = x->type.elements() / M;
  if (x->type.batched && x->type.elements() >= kSplitSums) {
    Value *parts = k.tile(kBatchParts * M);
    k.parallelRanges(
        k.i64(kBatchParts), mulIdx(k, k.n, x->type.elements()),
        [&](KernelEmitter &e, Value *part0, Value *part1) {
          e.loop(
              part0, part1,
              [&](Value *part) {
                forEachCase(e, part, kBatchParts, [&](int64_t p) {
                  auto sampleOf = [&](int64_t q) {
                    return q == 0 ? e.i64(0)
                           : q == kBatchParts
                               ? e.n
                               : e.b.CreateUDiv(mulIdx(e, e.n, q),
                                                e.i64(kBatchParts));
                  };
                  Value *sums = e.b.CreateInBoundsGEP(e.b.getFloatTy(),
                                                      e.shared, e.i64(p * M));
                  e.loop(
                      M, [&](Value *j) { e.storeTile(sums, j, e.f32(0)); },
                      "z");
                  e.loop(
                      sampleOf(p), sampleOf(p + 1),
                      [&](Value *r) {
                        e.loop(
                            perSample,
                            [&](Value *q) {
                              Value *row = mulIdx(
                                  e, addIdx(e, mulIdx(e, r, perSample), q), M);
                              e.loop(
                                  M,
                                  [&](Value *j) {
                                    e.storeTile(
                                        sums, j,
                                        e.b.CreateFAdd(
                                            e.loadTile(sums, j),
                                            e.load(x, addIdx(e, row, j))));
                                  },
                                  "j");
                            },
                            "q");
                      },
                      rowName);
                });
              },
              "part");
        },
        /*sweep=*/false, parts);
    addBatchParts(k, parts, M, set);
    return;
  }
  k.loop(
      M, [&](Value *j) { set(j, k.f32(0)); }, "z");
  k.loop(
      k.i64(0), k.mulRows(x, perSample),
      [&](Value *r) {
        Value *row = mulIdx(k, r, M);
        k.loop(
            M,
            [&](Value *j) {
              set(j, k.b.CreateFAdd(get(j), k.load(x, addIdx(k, row, j))));
            },
            "j");
      },
      rowName);
}

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

} // namespace sora::ir
