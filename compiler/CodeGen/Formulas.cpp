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
Value *sigmoid(KernelEmitter &k, const Node &, const V &v) {
  Value *e = k.call(Intrinsic::exp, {k.b.CreateFNeg(v[0])});
  return k.b.CreateFDiv(k.f32(1), k.b.CreateFAdd(k.f32(1), e));
}
// dx = dy * y * (1 - y)
Value *sigmoidGrad(KernelEmitter &k, const Node &, const V &v) {
  Value *d = k.b.CreateFMul(v[1], k.b.CreateFSub(k.f32(1), v[1]));
  return k.b.CreateFMul(v[0], d);
}
// y = tanh(x) = 1 - 2 / (exp(2x) + 1), stable at both ends
Value *tanhFormula(KernelEmitter &k, const Node &, const V &v) {
  Value *e = k.call(Intrinsic::exp, {k.b.CreateFMul(v[0], k.f32(2))});
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

OpTable<Formula> makeTable() {
  OpTable<Formula> t;
  t.set(K::Add, add);
  t.set(K::Sub, sub);
  t.set(K::Mul, mul);
  t.set(K::Div, div);
  t.set(K::Neg, neg);
  t.set(K::BiasAdd, biasAdd);
  t.set(K::Reshape, identity);
  t.set(K::Affine, affine);
  t.set(K::Reciprocal, reciprocal);
  t.set(K::Relu, relu);
  t.set(K::ReluGrad, reluGrad);
  t.set(K::Sigmoid, sigmoid);
  t.set(K::SigmoidGrad, sigmoidGrad);
  t.set(K::Tanh, tanhFormula);
  t.set(K::TanhGrad, tanhGrad);
  t.set(K::LeakyRelu, leakyRelu);
  t.set(K::LeakyReluGrad, leakyReluGrad);
  return t;
}

} // namespace

Formula formula(OpKind op) {
  static const OpTable<Formula> table = makeTable();
  return table[op];
}

} // namespace sora::ir
