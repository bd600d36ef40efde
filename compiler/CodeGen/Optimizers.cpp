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
// The formulas are PyTorch's (torch.optim), which the parity fixtures check:
// the gradient is clipped first (torch.nn.utils.clip_grad_value_, or scaled
// by grad_norm_scale's factor), then weight decay is added to it (or, for
// AdamW, applied to the weight).
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

/// One optimizer's per-element update, its scalars computed at creation.
class Updater {
public:
  Updater(KernelEmitter &k, const Node &n) : k_(k), n_(n) {
    IRBuilder<> &b = k.b;
    Value *lr = learningRate(k, n);
    if (n.op == K::AdamUpdate) {
      // step size lr / (1 - b1^t); v is unbiased by sqrt(1 - b2^t), as a
      // product by its reciprocal (made once, in double): a vector division
      // per element cost the seed 4 % of its epoch
      Value *t = b.CreateSIToFP(k.step, b.getDoubleTy());
      auto pow = [&](double base) {
        return k.call(Intrinsic::pow,
                      {ConstantFP::get(b.getDoubleTy(), base), t});
      };
      Value *one = ConstantFP::get(b.getDoubleTy(), 1.0);
      stepSize_ = b.CreateFPTrunc(
          b.CreateFDiv(lr, b.CreateFSub(one, pow(n.attrs.beta1()))),
          b.getFloatTy());
      invBc2Sqrt_ = b.CreateFPTrunc(
          b.CreateFDiv(one, k.call(Intrinsic::sqrt,
                                   {b.CreateFSub(one, pow(n.attrs.beta2()))})),
          b.getFloatTy());
      // AdamW: w *= 1 - lr * weight_decay before the step
      if (n.attrs.decoupled() && n.attrs.weightDecay() > 0)
        keep_ = b.CreateFPTrunc(
            b.CreateFSub(
                one, b.CreateFMul(lr, ConstantFP::get(b.getDoubleTy(),
                                                      n.attrs.weightDecay()))),
            b.getFloatTy());
    } else {
      stepSize_ = b.CreateFPTrunc(lr, b.getFloatTy());
    }
    if (hasClipScale(n))
      clipScale_ = k.load(n.operands.back(), k.i64(0));
  }

  /// Whether update `n` reads grad_norm_scale's factor (its last operand).
  static bool hasClipScale(const Node &n) {
    return n.operands.back()->op == K::GradNormScale;
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
    if (double c = n_.attrs.clipValue(); c > 0)
      g = k_.call(Intrinsic::minnum,
                  {k_.call(Intrinsic::maxnum, {g, k_.f32(-c)}), k_.f32(c)});
    if (clipScale_)
      g = b.CreateFMul(g, clipScale_);
    Value *w0 = b.CreateLoad(f32, at(w));
    // torch.optim's weight_decay: L2 on the loss, added to the gradient
    if (double wd = n_.attrs.weightDecay(); wd > 0 && !isDecoupled())
      g = b.CreateFAdd(g, b.CreateFMul(k_.f32(wd), w0));
    Value *delta; // w -= delta
    switch (n_.op) {
    case K::AdamUpdate: {
      // m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
      // delta = lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
      // (torch.optim.Adam's order; the product by the reciprocal differs
      // from its division by about an ulp)
      double b1 = n_.attrs.beta1(), b2 = n_.attrs.beta2();
      Value *m = b.CreateFAdd(
          b.CreateFMul(k_.f32(b1), b.CreateLoad(f32, at(state[0]))),
          b.CreateFMul(k_.f32(1 - b1), g));
      Value *v = b.CreateFAdd(
          b.CreateFMul(k_.f32(b2), b.CreateLoad(f32, at(state[1]))),
          b.CreateFMul(k_.f32(1 - b2), b.CreateFMul(g, g)));
      Value *denom =
          b.CreateFAdd(b.CreateFMul(k_.call(Intrinsic::sqrt, {v}), invBc2Sqrt_),
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
    b.CreateStore(b.CreateFSub(keep_ ? b.CreateFMul(w0, keep_) : w0, delta),
                  at(w));
  }

private:
  bool isDecoupled() const {
    return n_.op == K::AdamUpdate && n_.attrs.decoupled();
  }

  KernelEmitter &k_;
  const Node &n_;
  Value *stepSize_ = nullptr, *invBc2Sqrt_ = nullptr;
  Value *keep_ = nullptr;      ///< AdamW: 1 - lr * weight_decay
  Value *clipScale_ = nullptr; ///< grad_norm_scale's factor
};

/// The state operands' buffers of update `n`.
std::vector<Value *> stateOf(KernelEmitter &k, const Node &n) {
  std::vector<Value *> state;
  size_t end = n.operands.size() - (Updater::hasClipScale(n) ? 1 : 0);
  for (size_t i = 2; i < end; ++i)
    state.push_back(k.buffer(n.operands[i]));
  return state;
}

// min(1, clip_norm / (sqrt(sum of every gradient's squares) + 1e-6)), as
// torch.nn.utils.clip_grad_norm_; the sum in double.
void lowerGradNormScale(KernelEmitter &k, const Node &n) {
  IRBuilder<> &b = k.b;
  auto d = [&](double v) { return ConstantFP::get(b.getDoubleTy(), v); };
  Value *sum = d(0);
  for (const Node *g : n.operands)
    sum = k.reduce(g->type.elements(), sum, [&](Value *i, Value *acc) {
      Value *v = b.CreateFPExt(k.load(g, i), b.getDoubleTy());
      return b.CreateFAdd(acc, b.CreateFMul(v, v));
    });
  Value *norm = k.call(Intrinsic::sqrt, {sum});
  Value *scale = k.call(
      Intrinsic::minnum,
      {d(1), b.CreateFDiv(d(n.attrs.clipNorm()), b.CreateFAdd(norm, d(1e-6)))});
  k.store(&n, k.i64(0), b.CreateFPTrunc(scale, b.getFloatTy()));
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
  // decay_biases: false gives the biases another weight decay: each
  // update then runs its own loop over its weight.
  for (const Node *u : group.chain)
    if (u->attrs != first.attrs) {
      for (const Node *each : group.chain)
        lowerUpdate(k, *each);
      return;
    }
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

void forEachGradientBlock(
    KernelEmitter &k, int64_t bands, int64_t panels, int64_t workPerBlock,
    const std::function<BlockBody(KernelEmitter &)> &perThread) {
  if (bands <= 0 || panels <= 0)
    return;
  int64_t blocks = bands * panels;
  k.parallelRanges(k.i64(blocks), k.i64(blocks * workPerBlock),
                   [&](KernelEmitter &e, Value *begin, Value *end) {
                     BlockBody body = perThread(e);
                     e.loop(
                         begin, end,
                         [&](Value *t) {
                           body(e.b.CreateURem(t, e.i64(bands)),
                                e.b.CreateUDiv(t, e.i64(bands)));
                         },
                         "blk");
                   });
}

/// Floats in a 64-byte cache line: the unit of a prefetch.
constexpr int64_t kFloatsPerCacheLine = 16;

// A gradient finished a block at a time, updating its weight as each block
// completes; the gradient is never stored:
//   matmul_tn: dW[i, j] = sum_r A[r, i] B[r, j], in blocks of 4 rows x 4
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
  // What one thread's blocks share, made once where it starts: the
  // optimizer's constants (Adam's bias corrections call pow), the buffers
  // and the tile.
  struct Updating {
    Updater u;
    Value *w;
    std::vector<Value *> state;
    Value *tile;
  };
  auto prepare = [&](KernelEmitter &e) {
    return Updating{Updater(e, update), e.buffer(update.operands[0]),
                    stateOf(e, update), e.tile(I * J)};
  };
  // The weight rows [i0, i0 + rows) times `vectors` vectors of columns
  // from j0, emitted through `e`: the block's gradient in registers over
  // the batch, then its weights' updates. The weights and optimizer state
  // the update reads are asked for first, and arrive while the gradient is
  // summed (a wide layer's outgrow the L2 cache: each block's rows are
  // short runs that the hardware prefetcher does not foresee).
  auto block = [&](KernelEmitter &e, const Updating &s, Value *i0, int64_t rows,
                   Value *j0, int64_t vectors) {
    int64_t cols = vectors * VW;
    std::vector<Value *> read = s.state;
    read.push_back(s.w);
    for (int64_t i = 0; i < rows; ++i)
      for (Value *buffer : read)
        for (int64_t c = 0; c < cols; c += kFloatsPerCacheLine) {
          Value *at = addIdx(e, mulIdx(e, addIdx(e, i0, e.i64(i)), M),
                             addIdx(e, j0, e.i64(c)));
          e.call(Intrinsic::prefetch,
                 {e.b.CreateInBoundsGEP(e.b.getFloatTy(), buffer, at),
                  e.b.getInt32(1), e.b.getInt32(3), e.b.getInt32(1)});
        }
    gradientBlock(e, grad, i0, rows, j0, vectors, s.tile);
    e.loop(
        rows,
        [&](Value *i) {
          Value *wRow = addIdx(e, mulIdx(e, addIdx(e, i0, i), M), j0);
          Value *tRow = mulIdx(e, i, cols);
          e.loop(
              cols,
              [&](Value *j) {
                s.u.update(s.w, s.state, addIdx(e, wRow, j),
                           e.loadTile(s.tile, addIdx(e, tRow, j)));
              },
              "p");
        },
        "a");
  };
  // The columns after the full panels of J: the whole vectors left, then
  // the columns left over (one dot product over the batch each).
  auto tail = [&](KernelEmitter &e, const Updating &s, Value *i0,
                  int64_t rows) {
    if (restVectors > 0)
      block(e, s, i0, rows, e.i64(fullCols), restVectors);
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
        s.u.update(s.w, s.state, addIdx(e, mulIdx(e, row, M), e.i64(j)), sum);
      }
  };
  // Blocks are independent (each writes its own weights): they are shared
  // among threads, the full panels of J columns, then the columns after
  // them by bands.
  const int64_t bands = fullRows / I, panels = fullCols / J;
  forEachGradientBlock(k, bands, panels, I * J * 128, [&](KernelEmitter &e) {
    return [&, s = prepare(e)](Value *band, Value *panel) {
      block(e, s, mulIdx(e, band, I), I, mulIdx(e, panel, J), V);
    };
  });
  if (fullCols < M)
    forEachGradientBlock(k, bands, 1, I * (M - fullCols) * 128,
                         [&](KernelEmitter &e) {
                           return [&, s = prepare(e)](Value *band, Value *) {
                             tail(e, s, mulIdx(e, band, I), I);
                           };
                         });
  if (fullRows < K_) {
    Updating s = prepare(k);
    for (int64_t i = fullRows; i < K_; ++i) {
      k.loop(
          panels,
          [&](Value *panel) {
            block(k, s, k.i64(i), 1, mulIdx(k, panel, J), V);
          },
          "jt");
      tail(k, s, k.i64(i), 1);
    }
  }
}

void registerOptimizerLowerings(LoweringTable &t) {
  t.setWhere(Update, lowerUpdate);
  t.set(K::GradNormScale, lowerGradNormScale);
}

} // namespace sora::ir
