//===- Optimizers.cpp - The update of a weight by its gradient ------------===//
//
// Each optimizer is a per-element update of a weight and its state from a
// gradient element, with per-step scalars (the learning rate of the
// schedule, Adam's bias corrections) computed once per kernel call. The
// same update serves three loop shapes:
//  - an update op on its own (one loop over the weight),
//  - an UpdateEpilogue group: inside the loop that finishes the gradient,
//    so the gradient is never stored,
//  - an OptimizerUpdate group: one loop over every weight at once.
// The formulas are PyTorch's (torch.optim), which the parity fixtures check.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RowOps.h"
#include "CodeGen/VectorOps.h"

#include <llvm/IR/Intrinsics.h>

namespace sora::ir {

namespace {

using namespace llvm;
using K = OpKind;

/// The learning rate at this call's step, as the schedule gives it (t counts
/// optimizer steps from 0; the kernel's step counts from 1):
///   constant:     lr
///   exponential:  lr * rate^(t / steps)
///   step:         lr * factor^floor(t / every)
///   linear:       lr + (final - lr) * min(t / steps, 1)
///   plateau:      max(lr * factor^r, final), r from the optimizer state
Value *learningRate(KernelEmitter &k, const Node &n) {
  IRBuilder<> &b = k.b;
  auto d = [&](double v) { return ConstantFP::get(b.getDoubleTy(), v); };
  Value *lr = d(n.attrs.lr());
  Value *t = b.CreateSIToFP(b.CreateSub(k.step, k.i64(1)), b.getDoubleTy());
  switch (n.attrs.schedule()) {
  case LrSchedule::Exponential:
    return b.CreateFMul(
        lr, k.call(Intrinsic::pow, {d(n.attrs.decayRate()),
                                    b.CreateFDiv(t, d(n.attrs.decaySteps()))}));
  case LrSchedule::Step:
    return b.CreateFMul(
        lr, k.call(Intrinsic::pow,
                   {d(n.attrs.decayFactor()),
                    k.call(Intrinsic::floor,
                           {b.CreateFDiv(t, d(n.attrs.decayEvery()))})}));
  case LrSchedule::Linear: {
    Value *frac = k.call(Intrinsic::minnum,
                         {b.CreateFDiv(t, d(n.attrs.decaySteps())), d(1)});
    return b.CreateFAdd(
        lr, b.CreateFMul(b.CreateFSub(d(n.attrs.finalLr()), lr), frac));
  }
  case LrSchedule::Plateau: {
    // max(lr * factor^r, min_lr), r the reductions fit has made so far.
    Value *r =
        b.CreateFPExt(b.CreateLoad(b.getFloatTy(), k.buffer(k.lrReductions)),
                      b.getDoubleTy());
    return k.call(Intrinsic::maxnum,
                  {b.CreateFMul(lr, k.call(Intrinsic::pow,
                                           {d(n.attrs.decayFactor()), r})),
                   d(n.attrs.finalLr())});
  }
  case LrSchedule::Constant:
    break;
  }
  return lr;
}

/// One optimizer's per-element update, its scalars computed at creation.
class Updater {
public:
  Updater(KernelEmitter &k, const Node &n) : k_(k), n_(n) {
    IRBuilder<> &b = k.b;
    Value *lr = learningRate(k, n);
    if (n.op == K::AdamUpdate) {
      // step size lr / (1 - b1^t); v is unbiased by sqrt(1 - b2^t)
      Value *t = b.CreateSIToFP(k.step, b.getDoubleTy());
      auto pow = [&](double base) {
        return k.call(Intrinsic::pow,
                      {ConstantFP::get(b.getDoubleTy(), base), t});
      };
      Value *one = ConstantFP::get(b.getDoubleTy(), 1.0);
      stepSize_ = b.CreateFPTrunc(
          b.CreateFDiv(lr, b.CreateFSub(one, pow(n.attrs.beta1()))),
          b.getFloatTy());
      bc2Sqrt_ = b.CreateFPTrunc(
          k.call(Intrinsic::sqrt, {b.CreateFSub(one, pow(n.attrs.beta2()))}),
          b.getFloatTy());
    } else {
      stepSize_ = b.CreateFPTrunc(lr, b.getFloatTy());
    }
  }

  /// How many state blocks the optimizer keeps per weight.
  static int stateCount(OpKind op) {
    return op == K::AdamUpdate ? 2 : op == K::SgdUpdate ? 0 : 1;
  }

  /// Updates element `i` of weight `w` and its `state` (base pointers)
  /// with gradient element `g`.
  void update(Value *w, const std::vector<Value *> &state, Value *i,
              Value *g) const {
    IRBuilder<> &b = k_.b;
    llvm::Type *f32 = b.getFloatTy();
    auto at = [&](Value *base) { return b.CreateInBoundsGEP(f32, base, i); };
    Value *delta; // w -= delta
    switch (n_.op) {
    case K::AdamUpdate: {
      // m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
      // delta = lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
      double b1 = n_.attrs.beta1(), b2 = n_.attrs.beta2();
      Value *m = b.CreateFAdd(
          b.CreateFMul(k_.f32(b1), b.CreateLoad(f32, at(state[0]))),
          b.CreateFMul(k_.f32(1 - b1), g));
      Value *v = b.CreateFAdd(
          b.CreateFMul(k_.f32(b2), b.CreateLoad(f32, at(state[1]))),
          b.CreateFMul(k_.f32(1 - b2), b.CreateFMul(g, g)));
      Value *denom =
          b.CreateFAdd(b.CreateFDiv(k_.call(Intrinsic::sqrt, {v}), bc2Sqrt_),
                       k_.f32(n_.attrs.epsilon()));
      delta = b.CreateFDiv(b.CreateFMul(stepSize_, m), denom);
      b.CreateStore(m, at(state[0]));
      b.CreateStore(v, at(state[1]));
      break;
    }
    case K::SgdUpdate:
      // delta = lr g
      delta = b.CreateFMul(stepSize_, g);
      break;
    case K::MomentumUpdate: {
      // buf = momentum buf + g;  delta = lr (nesterov ? g + momentum buf : buf)
      Value *buf = b.CreateFAdd(b.CreateFMul(k_.f32(n_.attrs.momentum()),
                                             b.CreateLoad(f32, at(state[0]))),
                                g);
      b.CreateStore(buf, at(state[0]));
      Value *dir =
          n_.attrs.nesterov()
              ? b.CreateFAdd(g, b.CreateFMul(k_.f32(n_.attrs.momentum()), buf))
              : buf;
      delta = b.CreateFMul(stepSize_, dir);
      break;
    }
    default: { // RmspropUpdate
      // sq = rho sq + (1-rho) g^2;  delta = lr g / (sqrt(sq) + eps)
      double rho = n_.attrs.rho();
      Value *sq = b.CreateFAdd(
          b.CreateFMul(k_.f32(rho), b.CreateLoad(f32, at(state[0]))),
          b.CreateFMul(k_.f32(1 - rho), b.CreateFMul(g, g)));
      b.CreateStore(sq, at(state[0]));
      Value *denom = b.CreateFAdd(k_.call(Intrinsic::sqrt, {sq}),
                                  k_.f32(n_.attrs.epsilon()));
      delta = b.CreateFDiv(b.CreateFMul(stepSize_, g), denom);
      break;
    }
    }
    b.CreateStore(b.CreateFSub(b.CreateLoad(f32, at(w)), delta), at(w));
  }

private:
  KernelEmitter &k_;
  const Node &n_;
  Value *stepSize_ = nullptr, *bc2Sqrt_ = nullptr;
};

/// The state operands' buffers of update `n`.
std::vector<Value *> stateOf(KernelEmitter &k, const Node &n) {
  std::vector<Value *> state;
  for (size_t i = 2; i < n.operands.size(); ++i)
    state.push_back(k.buffer(n.operands[i]));
  return state;
}

// An update on its own: one loop over the weight.
void lowerUpdate(KernelEmitter &k, const Node &n) {
  Updater u(k, n);
  std::vector<Value *> state = stateOf(k, n);
  k.loop(
      n.operands[0]->type.elements(),
      [&](Value *i) {
        u.update(k.buffer(n.operands[0]), state, i, k.load(n.operands[1], i));
      },
      "p");
}

} // namespace

void lowerOptimizerGroup(KernelEmitter &k, const FusionGroup &group,
                         int64_t weightFloats) {
  const Node &first = *group.anchor;
  Updater u(k, first);
  std::vector<Value *> state;
  for (int s = 0; s < Updater::stateCount(first.op); ++s)
    state.push_back(k.b.CreateInBoundsGEP(k.b.getFloatTy(), k.optState,
                                          k.i64(s * weightFloats)));
  k.loop(
      weightFloats,
      [&](Value *i) {
        Value *g = k.b.CreateLoad(
            k.b.getFloatTy(),
            k.b.CreateInBoundsGEP(k.b.getFloatTy(), k.scratch, i));
        u.update(k.params, state, i, g);
      },
      "p");
}

// A gradient finished one row at a time, updating its weight as each row
// completes; the row is accumulated in a small stack tile, never stored:
//   matmul_tn: dW[i, :] = sum_r A[r, i] B[r, :]
//   bias_grad: db[:] = sum over rows of X[row, :]
/// dW[i0 + a, j0 + c * VW + v] = sum_r A[r, i0 + a] B[r, j0 + c * VW + v] for
/// a < rows and c < vectors: the accumulators stay in vector registers for
/// the whole batch (a register-blocked micro-kernel: each B vector loaded
/// feeds `rows` fused multiply-adds); the finished block is stored to `tile`
/// (rows x vectors * VW floats).
void gradientBlock(KernelEmitter &k, const Node &grad, Value *i0, int64_t rows,
                   Value *j0, int64_t vectors, Value *tile) {
  const Node *a = grad.operands[0], *bm = grad.operands[1];
  Vec vec(k);
  int64_t K_ = a->type.dims.back(), M = bm->type.dims.back(), VW = vec.lanes;
  Value *zero = vec.zero();
  std::vector<Value *> sums = k.reduce(
      k.i64(0), k.lines(a), std::vector<Value *>(rows * vectors, zero),
      [&](Value *r, const std::vector<Value *> &acc) {
        std::vector<Value *> bv, next;
        Value *bRow = addIdx(k, mulIdx(k, r, M), j0);
        for (int64_t c = 0; c < vectors; ++c)
          bv.push_back(vec.load(bm, addIdx(k, bRow, k.i64(c * VW))));
        Value *aRow = addIdx(k, mulIdx(k, r, K_), i0);
        for (int64_t i = 0; i < rows; ++i) {
          Value *s = vec.splat(k.load(a, addIdx(k, aRow, k.i64(i))));
          for (int64_t c = 0; c < vectors; ++c)
            next.push_back(vec.fma(s, bv[c], acc[i * vectors + c]));
        }
        return next;
      },
      "r");
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < vectors; ++c)
      k.b.CreateAlignedStore(
          sums[i * vectors + c],
          k.b.CreateInBoundsGEP(k.b.getFloatTy(), tile,
                                k.i64((i * vectors + c) * VW)),
          Align(4));
}

// A gradient finished a block at a time, updating its weight as each block
// completes; the gradient is never stored:
//   matmul_tn: dW[i, j] = sum_r A[r, i] B[r, j], in blocks of 4 rows x 2
//              vectors, the accumulators in registers for the whole batch
//   bias_grad: db[:] = sum over rows of X[row, :], in a stack tile
void lowerUpdateGroup(KernelEmitter &k, const FusionGroup &group) {
  const Node &grad = *group.anchor, &update = *group.root;
  const Node *x = grad.operands[0];
  if (grad.op == OpKind::BiasGrad) {
    Updater u(k, update);
    Value *w = k.buffer(update.operands[0]);
    std::vector<Value *> state = stateOf(k, update);
    int64_t M = grad.type.elements();
    Value *tile = k.tile(M);
    sumColumns(
        k, x, M, [&](Value *j) { return k.loadTile(tile, j); },
        [&](Value *j, Value *v) { k.storeTile(tile, j, v); }, "r");
    k.loop(
        M, [&](Value *j) { u.update(w, state, j, k.loadTile(tile, j)); }, "p");
    return;
  }

  const Node *bm = grad.operands[1];
  int64_t K_ = x->type.dims.back(), M = bm->type.dims.back();
  constexpr int64_t I = 4, V = 4;
  int64_t VW = k.vectorWidth, J = V * VW;
  int64_t fullRows = K_ / I * I, fullCols = M / J * J;
  int64_t restVectors = (M - fullCols) / VW;
  int64_t vectorCols = fullCols + restVectors * VW;
  // One band of `rows` weight rows from i0, emitted through `e`: blocks of
  // rows x J columns, the whole vectors left, then the columns left over
  // (one dot product over the batch each); each block updates its weights
  // as soon as it is finished.
  auto band = [&](KernelEmitter &e, Value *i0, int64_t rows) {
    Updater u(e, update);
    Value *w = e.buffer(update.operands[0]);
    std::vector<Value *> state = stateOf(e, update);
    Value *tile = e.tile(I * J);
    auto apply = [&](Value *j0, int64_t cols) {
      e.loop(
          rows,
          [&](Value *i) {
            Value *wRow = addIdx(e, mulIdx(e, addIdx(e, i0, i), M), j0);
            Value *tRow = mulIdx(e, i, cols);
            e.loop(
                cols,
                [&](Value *j) {
                  u.update(w, state, addIdx(e, wRow, j),
                           e.loadTile(tile, addIdx(e, tRow, j)));
                },
                "p");
          },
          "a");
    };
    e.loop(
        fullCols / J,
        [&](Value *t) {
          Value *j0 = mulIdx(e, t, J);
          gradientBlock(e, grad, i0, rows, j0, V, tile);
          apply(j0, J);
        },
        "jt");
    if (restVectors > 0) {
      gradientBlock(e, grad, i0, rows, e.i64(fullCols), restVectors, tile);
      apply(e.i64(fullCols), restVectors * VW);
    }
    for (int64_t j = vectorCols; j < M; ++j)
      for (int64_t i = 0; i < rows; ++i) {
        Value *row = addIdx(e, i0, e.i64(i));
        Value *sum = e.reduce(
            e.i64(0), e.lines(x), {e.f32(0)},
            [&](Value *r, const std::vector<Value *> &acc) {
              Value *av = e.load(x, addIdx(e, mulIdx(e, r, K_), row));
              Value *bv = e.load(bm, addIdx(e, mulIdx(e, r, M), e.i64(j)));
              return std::vector<Value *>{e.fma(av, bv, acc[0])};
            },
            "r")[0];
        u.update(w, state, addIdx(e, mulIdx(e, row, M), e.i64(j)), sum);
      }
  };
  // Bands of I rows are independent (each writes its own weights): they
  // are shared among threads.
  if (fullRows > 0)
    k.parallelLoop(
        k.i64(fullRows / I), I * M * 128,
        [&](KernelEmitter &e, Value *t) { band(e, mulIdx(e, t, I), I); });
  for (int64_t i = fullRows; i < K_; ++i)
    band(k, k.i64(i), 1);
}

void registerOptimizerLowerings(LoweringTable &t) {
  t.setWhere(Update, lowerUpdate);
}

} // namespace sora::ir
