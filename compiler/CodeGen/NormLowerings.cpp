//===- NormLowerings.cpp - Batch and layer normalisation ------------------===//
//
// The statistics of batch normalisation (each feature c of the last
// dimension over every line of the batch), its gradient through them, layer
// normalisation (each line on its own) and its gradient, and the running
// statistics' in-place update. Every sum runs in one order, on one thread,
// so results are bit-identical at every thread count. normalize, inv_std
// and channel_mul are elementwise (Formulas.cpp).
//
// With xh = (x - mean) * rstd, rstd = 1 / sqrt(var + eps) and means over
// the N values normalised together, both gradients are
//   dx = rstd * (dy - mean(dy) - xh * mean(dy * xh)).
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RowOps.h"

#include <llvm/IR/Intrinsics.h>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

/// 1 / sqrt(var + epsilon)
Value *rstdOf(KernelEmitter &k, const Node &n, Value *var) {
  Value *s =
      k.call(Intrinsic::sqrt, {k.b.CreateFAdd(var, k.f32(n.attrs.epsilon()))});
  return k.b.CreateFDiv(k.f32(1), s);
}

/// 1 / (lines of x) as a float: the batch statistics' divisor.
Value *perLine(KernelEmitter &k, const Node *x) {
  return k.b.CreateFDiv(k.f32(1),
                        k.b.CreateSIToFP(k.lines(x), k.b.getFloatTy()));
}

// mean[c] = sum over lines of x[l, c] / lines
void lowerFeatureMean(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  int64_t C = n.type.elements();
  sumColumns(
      k, x, C, [&](Value *c) { return k.load(&n, c); },
      [&](Value *c, Value *v) { k.store(&n, c, v); }, "line");
  Value *scale = perLine(k, x);
  k.loop(
      C,
      [&](Value *c) { k.store(&n, c, k.b.CreateFMul(k.load(&n, c), scale)); },
      "c");
}

// var[c] = sum over lines of (x[l, c] - mean[c])^2 / lines (biased)
void lowerFeatureVar(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0], *mean = n.operands[1];
  int64_t C = n.type.elements();
  k.loop(
      C, [&](Value *c) { k.store(&n, c, k.f32(0)); }, "c");
  k.loop(
      k.i64(0), k.lines(x),
      [&](Value *l) {
        Value *base = mulIdx(k, l, C);
        k.loop(
            C,
            [&](Value *c) {
              Value *d = k.b.CreateFSub(k.load(x, addIdx(k, base, c)),
                                        k.load(mean, c));
              k.store(&n, c, k.fma(d, d, k.load(&n, c)));
            },
            "c");
      },
      "line");
  Value *scale = perLine(k, x);
  k.loop(
      C,
      [&](Value *c) { k.store(&n, c, k.b.CreateFMul(k.load(&n, c), scale)); },
      "c");
}

// dx = rstd[c] (dy - mean(dy)[c] - xh mean(dy xh)[c]), the means over lines
void lowerNormalizeGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1], *mean = n.operands[2],
             *invStd = n.operands[3];
  int64_t C = n.type.dims.back();
  Value *sums = k.tile(2 * C); // sum dy | sum dy xh, then rstd | scaled
  k.loop(
      2 * C, [&](Value *c) { k.storeTile(sums, c, k.f32(0)); }, "c");
  auto xh = [&](Value *i, Value *c, Value *rstd) {
    return k.b.CreateFMul(k.b.CreateFSub(k.load(x, i), k.load(mean, c)), rstd);
  };
  auto overLines = [&](const std::function<void(Value *, Value *)> &body) {
    k.loop(
        k.i64(0), k.lines(x),
        [&](Value *l) {
          Value *base = mulIdx(k, l, C);
          k.loop(
              C, [&](Value *c) { body(addIdx(k, base, c), c); }, "c");
        },
        "line");
  };
  overLines([&](Value *i, Value *c) {
    Value *g = k.load(dy, i), *rstd = k.load(invStd, c);
    Value *c2 = addIdx(k, c, k.i64(C));
    k.storeTile(sums, c, k.b.CreateFAdd(k.loadTile(sums, c), g));
    k.storeTile(sums, c2, k.fma(g, xh(i, c, rstd), k.loadTile(sums, c2)));
  });
  Value *scale = perLine(k, x);
  k.loop(
      2 * C,
      [&](Value *c) {
        k.storeTile(sums, c, k.b.CreateFMul(k.loadTile(sums, c), scale));
      },
      "c");
  overLines([&](Value *i, Value *c) {
    Value *rstd = k.load(invStd, c);
    Value *inner = k.b.CreateFSub(
        k.b.CreateFSub(k.load(dy, i), k.loadTile(sums, c)),
        k.b.CreateFMul(xh(i, c, rstd),
                       k.loadTile(sums, addIdx(k, c, k.i64(C)))));
    k.store(&n, i, k.b.CreateFMul(rstd, inner));
  });
}

/// The mean and 1 / sqrt(var + eps) of x's line from `base`, D long.
std::pair<Value *, Value *> lineStats(KernelEmitter &k, const Node &n,
                                      const Node *x, Value *base, int64_t D) {
  auto sum = [&](const std::function<Value *(Value *)> &term) {
    return k.reduce(D, k.f32(0), [&](Value *d, Value *acc) {
      return k.b.CreateFAdd(acc, term(k.load(x, addIdx(k, base, d))));
    });
  };
  Value *mean = k.b.CreateFMul(sum([](Value *v) { return v; }), k.f32(1.0 / D));
  Value *var = k.b.CreateFMul(sum([&](Value *v) {
                                Value *d = k.b.CreateFSub(v, mean);
                                return k.b.CreateFMul(d, d);
                              }),
                              k.f32(1.0 / D));
  return {mean, rstdOf(k, n, var)};
}

// y = (x - mean) rstd over each line of the last dimension
void lowerLayerNormalize(KernelEmitter &k, const Node &n) {
  const Node *x = n.operands[0];
  int64_t D = n.type.dims.back();
  k.loop(
      k.i64(0), k.lines(&n),
      [&](Value *l) {
        Value *base = mulIdx(k, l, D);
        // Named values, not structured bindings: lambdas capture them
        // (binding capture is C++20).
        std::pair<Value *, Value *> stats = lineStats(k, n, x, base, D);
        Value *mean = stats.first, *rstd = stats.second;
        k.loop(
            D,
            [&](Value *d) {
              Value *i = addIdx(k, base, d);
              k.store(&n, i,
                      k.b.CreateFMul(k.b.CreateFSub(k.load(x, i), mean), rstd));
            },
            "d");
      },
      "line");
}

// dx = rstd (dy - mean(dy) - xh mean(dy xh)) over each line
void lowerLayerNormalizeGrad(KernelEmitter &k, const Node &n) {
  const Node *dy = n.operands[0], *x = n.operands[1];
  int64_t D = n.type.dims.back();
  k.loop(
      k.i64(0), k.lines(&n),
      [&](Value *l) {
        Value *base = mulIdx(k, l, D);
        // Named values, not structured bindings: lambdas capture them
        // (binding capture is C++20).
        std::pair<Value *, Value *> stats = lineStats(k, n, x, base, D);
        Value *mean = stats.first, *rstd = stats.second;
        auto xh = [&](Value *i) {
          return k.b.CreateFMul(k.b.CreateFSub(k.load(x, i), mean), rstd);
        };
        std::vector<Value *> s = k.reduce(
            k.i64(0), k.i64(D), {k.f32(0), k.f32(0)},
            [&](Value *d, const std::vector<Value *> &acc) {
              Value *i = addIdx(k, base, d), *g = k.load(dy, i);
              return std::vector<Value *>{k.b.CreateFAdd(acc[0], g),
                                          k.fma(g, xh(i), acc[1])};
            },
            "d");
        Value *m1 = k.b.CreateFMul(s[0], k.f32(1.0 / D));
        Value *m2 = k.b.CreateFMul(s[1], k.f32(1.0 / D));
        k.loop(
            D,
            [&](Value *d) {
              Value *i = addIdx(k, base, d);
              Value *inner = k.b.CreateFSub(k.b.CreateFSub(k.load(dy, i), m1),
                                            k.b.CreateFMul(xh(i), m2));
              k.store(&n, i, k.b.CreateFMul(rstd, inner));
            },
            "d");
      },
      "line");
}

// running = momentum running + (1 - momentum) value, in place
void lowerRunningUpdate(KernelEmitter &k, const Node &n) {
  const Node *running = n.operands[0], *value = n.operands[1];
  double m = n.attrs.momentum();
  k.loop(
      running->type.elements(),
      [&](Value *c) {
        Value *r =
            k.b.CreateFAdd(k.b.CreateFMul(k.f32(m), k.load(running, c)),
                           k.b.CreateFMul(k.f32(1 - m), k.load(value, c)));
        k.store(running, c, r);
      },
      "c");
}

} // namespace

void registerNormLowerings(LoweringTable &t) {
  t.set(K::FeatureMean, lowerFeatureMean);
  t.set(K::FeatureVar, lowerFeatureVar);
  t.set(K::NormalizeGrad, lowerNormalizeGrad);
  t.set(K::LayerNormalize, lowerLayerNormalize);
  t.set(K::LayerNormalizeGrad, lowerLayerNormalizeGrad);
  t.set(K::RunningUpdate, lowerRunningUpdate);
}

} // namespace sora::ir
