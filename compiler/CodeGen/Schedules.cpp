//===- Schedules.cpp - The learning rate at a kernel call's step ----------===//
//
// One function gives the rate an update uses at its step, from the update
// op's schedule attributes; every optimizer and loop shape calls it once
// per kernel call, so a runtime factor on the rate has one place to go.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"

#include <llvm/IR/Intrinsics.h>

#include <cmath>

namespace sora::ir {

using namespace llvm;

namespace {

/// The schedule's rate (double) at step `t` (double, from 0) of its own,
/// without the warmup:
///   constant:     lr
///   exponential:  lr * rate^(t / steps)
///   step:         lr * factor^floor(t / every)
///   linear:       lr + (final - lr) * min(t / steps, 1)
///   cosine:       lr * ((1 - alpha) * (1 + cos(pi * min(t, steps) / steps))
///                       / 2 + alpha)                      (Keras' CosineDecay)
///   piecewise:    values[i] for boundaries[i-1] < t <= boundaries[i]
///   plateau:      max(lr * factor^r, final), r the reductions fit has made
///                 so far (ReduceLROnPlateau), from the optimizer state
Value *scheduledRate(KernelEmitter &k, const Node &n, Value *t) {
  IRBuilder<> &b = k.b;
  auto d = [&](double v) { return ConstantFP::get(b.getDoubleTy(), v); };
  Value *lr = d(n.attrs.lr());
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
  case LrSchedule::Cosine: {
    double steps = n.attrs.decaySteps(), alpha = n.attrs.cosineAlpha();
    Value *frac =
        b.CreateFDiv(k.call(Intrinsic::minnum, {t, d(steps)}), d(steps));
    Value *cosine = k.call(Intrinsic::cos, {b.CreateFMul(frac, d(M_PI))});
    Value *decayed = b.CreateFAdd(
        b.CreateFMul(d((1 - alpha) * 0.5), b.CreateFAdd(d(1), cosine)),
        d(alpha));
    return b.CreateFMul(lr, decayed);
  }
  case LrSchedule::Piecewise: {
    const Dims &bounds = n.attrs.boundaries();
    const Numbers &values = n.attrs.values();
    Value *rate = d(values[0]);
    for (size_t i = 0; i < bounds.size(); ++i)
      rate = b.CreateSelect(b.CreateFCmpOGT(t, d(double(bounds[i]))),
                            d(values[i + 1]), rate);
    return rate;
  }
  case LrSchedule::Plateau: {
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

} // namespace

/// The learning rate (double) at this call's step (t counts optimizer
/// steps from 0; the kernel's step counts from 1). A warmup of W steps
/// ramps linearly to the schedule's first rate, lr * (t + 1) / W for
/// t < W, and runs the schedule from its own step 0 after it: at t - W.
Value *learningRate(KernelEmitter &k, const Node &n) {
  IRBuilder<> &b = k.b;
  auto d = [&](double v) { return ConstantFP::get(b.getDoubleTy(), v); };
  Value *t = b.CreateSIToFP(b.CreateSub(k.step, k.i64(1)), b.getDoubleTy());
  int64_t warmup = n.attrs.warmupSteps();
  if (warmup == 0)
    return scheduledRate(k, n, t);
  double w = double(warmup);
  Value *ramp =
      b.CreateFMul(d(n.attrs.lr()), b.CreateFDiv(b.CreateFAdd(t, d(1)), d(w)));
  Value *after = scheduledRate(k, n, b.CreateFSub(t, d(w)));
  return b.CreateSelect(b.CreateFCmpOLT(t, d(w)), ramp, after);
}

} // namespace sora::ir
