//===- Formulas.cpp - The math of each elementwise op, one element --------===//
//
// An elementwise op's value at one index from its operands' values there.
// The same formula serves the op's own loop and a fused chain running inside
// another op's loop (KernelEmitter::storeResult), so an op's math is written
// once.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"
#include "IR/OpTable.h"

#include <llvm/IR/Intrinsics.h>

namespace sora::ir {

namespace {

using namespace llvm;
using V = std::vector<Value *>;
using K = OpKind;

Value *expOf(KernelEmitter &k, Value *x) { return k.call(Intrinsic::exp, {x}); }

Value *add(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFAdd(v[0], v[1]);
}
Value *sub(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFSub(v[0], v[1]);
}
Value *mul(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFMul(v[0], v[1]);
}
Value *div(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFDiv(v[0], v[1]);
}
Value *neg(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFNeg(v[0]);
}
// y = x + b[column]
Value *biasAdd(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFAdd(v[0], v[1]);
}
// y = x * s[column]
Value *channelMul(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFMul(v[0], v[1]);
}
// y = 1 / sqrt(var + epsilon)
Value *invStd(KernelEmitter &k, const Node &n, const V &v) {
  Value *s =
      k.call(Intrinsic::sqrt, {k.b.CreateFAdd(v[0], k.f32(n.attrs.epsilon()))});
  return k.b.CreateFDiv(k.f32(1), s);
}
// y = (x - mean[column]) * inv_std[column]
Value *normalize(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFMul(k.b.CreateFSub(v[0], v[1]), v[2]);
}
// y = x, with another shape: the same floats
Value *identity(KernelEmitter &, const Node &, const V &v) { return v[0]; }
// y = scale * x + shift
Value *affine(KernelEmitter &k, const Node &n, const V &v) {
  return k.b.CreateFAdd(k.b.CreateFMul(v[0], k.f32(n.attrs.scale())),
                        k.f32(n.attrs.shift()));
}
// y = scale / x
Value *reciprocal(KernelEmitter &k, const Node &n, const V &v) {
  return k.b.CreateFDiv(k.f32(n.attrs.scale()), v[0]);
}
// y = max(x, 0)
Value *relu(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateSelect(k.b.CreateFCmpOGT(v[0], k.f32(0)), v[0], k.f32(0));
}
// dx = y > 0 ? dy : 0
Value *reluGrad(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateSelect(k.b.CreateFCmpOGT(v[1], k.f32(0)), v[0], k.f32(0));
}
// y = 1 / (1 + exp(-x))
Value *sigmoidOf(KernelEmitter &k, Value *x) {
  Value *e = expOf(k, k.b.CreateFNeg(x));
  return k.b.CreateFDiv(k.f32(1), k.b.CreateFAdd(k.f32(1), e));
}
Value *sigmoid(KernelEmitter &k, const Node &, const V &v) {
  return sigmoidOf(k, v[0]);
}
// dx = dy * y * (1 - y)
Value *sigmoidGrad(KernelEmitter &k, const Node &, const V &v) {
  Value *d = k.b.CreateFMul(v[1], k.b.CreateFSub(k.f32(1), v[1]));
  return k.b.CreateFMul(v[0], d);
}
// y = tanh(x) = 1 - 2 / (exp(2x) + 1), stable at both ends
Value *tanhFormula(KernelEmitter &k, const Node &, const V &v) {
  Value *e = expOf(k, k.b.CreateFMul(v[0], k.f32(2)));
  Value *t = k.b.CreateFDiv(k.f32(2), k.b.CreateFAdd(e, k.f32(1)));
  return k.b.CreateFSub(k.f32(1), t);
}
// dx = dy * (1 - y^2)
Value *tanhGrad(KernelEmitter &k, const Node &, const V &v) {
  Value *d = k.b.CreateFSub(k.f32(1), k.b.CreateFMul(v[1], v[1]));
  return k.b.CreateFMul(v[0], d);
}
// y = x > 0 ? x : alpha x
Value *leakyRelu(KernelEmitter &k, const Node &n, const V &v) {
  return k.b.CreateSelect(k.b.CreateFCmpOGT(v[0], k.f32(0)), v[0],
                          k.b.CreateFMul(v[0], k.f32(n.attrs.alpha())));
}
// dx = x > 0 ? dy : alpha dy
Value *leakyReluGrad(KernelEmitter &k, const Node &n, const V &v) {
  return k.b.CreateSelect(k.b.CreateFCmpOGT(v[1], k.f32(0)), v[0],
                          k.b.CreateFMul(v[0], k.f32(n.attrs.alpha())));
}
// The activations below are PyTorch's (ELU, SELU, GELU, Softplus, SiLU).
// y = x > 0 ? x : alpha (exp(x) - 1)
Value *elu(KernelEmitter &k, const Node &n, const V &v) {
  Value *neg = k.b.CreateFMul(k.f32(n.attrs.alpha()),
                              k.b.CreateFSub(expOf(k, v[0]), k.f32(1)));
  return k.b.CreateSelect(k.b.CreateFCmpOGT(v[0], k.f32(0)), v[0], neg);
}
// dx = x > 0 ? dy : dy alpha exp(x)
Value *eluGrad(KernelEmitter &k, const Node &n, const V &v) {
  Value *slope = k.b.CreateFMul(k.f32(n.attrs.alpha()), expOf(k, v[1]));
  return k.b.CreateSelect(k.b.CreateFCmpOGT(v[1], k.f32(0)), v[0],
                          k.b.CreateFMul(v[0], slope));
}
// SELU's constants (Klambauer et al. 2017), as PyTorch writes them.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
// y = scale (x > 0 ? x : alpha (exp(x) - 1))
Value *selu(KernelEmitter &k, const Node &, const V &v) {
  Value *neg = k.b.CreateFMul(k.f32(kSeluAlpha),
                              k.b.CreateFSub(expOf(k, v[0]), k.f32(1)));
  Value *y = k.b.CreateSelect(k.b.CreateFCmpOGT(v[0], k.f32(0)), v[0], neg);
  return k.b.CreateFMul(k.f32(kSeluScale), y);
}
// dx = dy scale (x > 0 ? 1 : alpha exp(x))
Value *seluGrad(KernelEmitter &k, const Node &, const V &v) {
  Value *slope = k.b.CreateSelect(
      k.b.CreateFCmpOGT(v[1], k.f32(0)), k.f32(kSeluScale),
      k.b.CreateFMul(k.f32(kSeluScale * kSeluAlpha), expOf(k, v[1])));
  return k.b.CreateFMul(v[0], slope);
}
// Phi(x), the standard normal's distribution function, = erfc(-x/sqrt 2)/2,
// with erfc from its Chebyshev fit (Numerical Recipes' erfcc: relative error
// below 1.2e-7 everywhere, so no cancellation in either tail).
constexpr double kSqrtHalf = 0.70710678118654752440;   // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794; // 1 / sqrt(2 pi)
Value *normalCdf(KernelEmitter &k, Value *x) {
  auto &b = k.b;
  Value *z = b.CreateFMul(k.call(Intrinsic::fabs, {x}), k.f32(kSqrtHalf));
  Value *t = b.CreateFDiv(k.f32(1),
                          b.CreateFAdd(k.f32(1), b.CreateFMul(k.f32(0.5), z)));
  static const double c[] = {-1.26551223, 1.00002368, 0.37409196,  0.09678418,
                             -0.18628806, 0.27886807, -1.13520398, 1.48851587,
                             -0.82215223, 0.17087277};
  Value *poly = k.f32(c[9]);
  for (int i = 8; i >= 0; --i)
    poly = b.CreateFAdd(k.f32(c[i]), b.CreateFMul(t, poly));
  Value *halfErfc = b.CreateFMul(
      k.f32(0.5),
      b.CreateFMul(t, expOf(k, b.CreateFSub(poly, b.CreateFMul(z, z)))));
  return b.CreateSelect(b.CreateFCmpOGE(x, k.f32(0)),
                        b.CreateFSub(k.f32(1), halfErfc), halfErfc);
}
// y = x Phi(x), the exact (erf) form
Value *gelu(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFMul(v[0], normalCdf(k, v[0]));
}
// dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
Value *geluGrad(KernelEmitter &k, const Node &, const V &v) {
  auto &b = k.b;
  Value *x = v[1];
  Value *pdf =
      b.CreateFMul(k.f32(kInvSqrt2Pi),
                   expOf(k, b.CreateFMul(k.f32(-0.5), b.CreateFMul(x, x))));
  return b.CreateFMul(v[0],
                      b.CreateFAdd(normalCdf(k, x), b.CreateFMul(x, pdf)));
}
// y = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)); log1p by its series
// where 1 + u would round u away.
Value *softplus(KernelEmitter &k, const Node &, const V &v) {
  auto &b = k.b;
  Value *u = expOf(k, b.CreateFNeg(k.call(Intrinsic::fabs, {v[0]})));
  Value *series = b.CreateFMul(
      u, b.CreateFSub(
             k.f32(1),
             b.CreateFMul(u, b.CreateFSub(k.f32(0.5),
                                          b.CreateFMul(u, k.f32(1.0 / 3))))));
  Value *log1p =
      b.CreateSelect(b.CreateFCmpOLT(u, k.f32(1e-3)), series,
                     k.call(Intrinsic::log, {b.CreateFAdd(k.f32(1), u)}));
  return b.CreateFAdd(k.call(Intrinsic::maxnum, {v[0], k.f32(0)}), log1p);
}
// dx = dy sigmoid(x)
Value *softplusGrad(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFMul(v[0], sigmoidOf(k, v[1]));
}
// y = x sigmoid(x) (PyTorch's SiLU)
Value *swish(KernelEmitter &k, const Node &, const V &v) {
  return k.b.CreateFMul(v[0], sigmoidOf(k, v[0]));
}
// dx = dy s (1 + x (1 - s)), s = sigmoid(x)
Value *swishGrad(KernelEmitter &k, const Node &, const V &v) {
  auto &b = k.b;
  Value *s = sigmoidOf(k, v[1]);
  Value *d =
      b.CreateFAdd(k.f32(1), b.CreateFMul(v[1], b.CreateFSub(k.f32(1), s)));
  return b.CreateFMul(v[0], b.CreateFMul(s, d));
}

// y = x rounded to the nearest bfloat16 (its 8 significant bits, ties to
// even, as vcvtneps2bf16 and torch's .bfloat16()), kept as f32; a NaN stays
// a (quiet) NaN
Value *roundBf16(KernelEmitter &k, const Node &, const V &v) {
  auto &b = k.b;
  llvm::Type *bitsType = v[0]->getType()->getWithNewBitWidth(32);
  auto c = [&](uint32_t x) { return ConstantInt::get(bitsType, x); };
  Value *bits = b.CreateBitCast(v[0], bitsType);
  Value *odd = b.CreateAnd(b.CreateLShr(bits, 16), c(1));
  Value *rounded = b.CreateAdd(bits, b.CreateAdd(c(0x7fff), odd));
  Value *quietNan = b.CreateOr(bits, c(0x00400000));
  Value *out = b.CreateSelect(b.CreateFCmpUNO(v[0], v[0]), quietNan, rounded);
  return b.CreateBitCast(b.CreateAnd(out, c(0xffff0000)), v[0]->getType());
}

OpTable<Formula> makeTable() {
  OpTable<Formula> t;
  t.set(K::Add, add);
  t.set(K::Sub, sub);
  t.set(K::Mul, mul);
  t.set(K::Div, div);
  t.set(K::Neg, neg);
  t.set(K::BiasAdd, biasAdd);
  t.set(K::Reshape, identity);
  t.set(K::ChannelMul, channelMul);
  t.set(K::Normalize, normalize);
  t.set(K::InvStd, invStd);
  t.set(K::Affine, affine);
  t.set(K::Reciprocal, reciprocal);
  t.set(K::RoundBf16, roundBf16);
  t.set(K::Relu, relu);
  t.set(K::ReluGrad, reluGrad);
  t.set(K::Sigmoid, sigmoid);
  t.set(K::SigmoidGrad, sigmoidGrad);
  t.set(K::Tanh, tanhFormula);
  t.set(K::TanhGrad, tanhGrad);
  t.set(K::LeakyRelu, leakyRelu);
  t.set(K::LeakyReluGrad, leakyReluGrad);
  t.set(K::Elu, elu);
  t.set(K::EluGrad, eluGrad);
  t.set(K::Selu, selu);
  t.set(K::SeluGrad, seluGrad);
  t.set(K::Gelu, gelu);
  t.set(K::GeluGrad, geluGrad);
  t.set(K::Softplus, softplus);
  t.set(K::SoftplusGrad, softplusGrad);
  t.set(K::Swish, swish);
  t.set(K::SwishGrad, swishGrad);
  return t;
}

} // namespace

Formula formula(OpKind op) {
  static const OpTable<Formula> table = makeTable();
  return table[op];
}

} // namespace sora::ir
