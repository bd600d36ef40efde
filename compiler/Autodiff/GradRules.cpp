//===- GradRules.cpp - One gradient rule per op, as a table
//----------------===//
//
// Each rule is the textbook derivative, written with other ops of the IR.
// y is the node itself, dy the incoming gradient; the comment above each
// rule gives the math.
//
//===----------------------------------------------------------------------===//
#include "Autodiff/GradRules.h"

#include "IR/BuildGraph.h"

#include <array>
#include <fmt/format.h>
#include <stdexcept>

namespace sora::ir {

namespace {

using Grads = std::vector<Node *>;
using Need = std::vector<bool>;
using K = OpKind;

// Leaves have no operands: nothing to propagate.
Grads leaf(Graph &, Node *, Node *, const Need &) { return {}; }

// Ops that appear only in gradient, metric or update code.
Grads notDifferentiable(Graph &, Node *n, Node *, const Need &) {
  throw std::logic_error(fmt::format(
      "autodiff reached '{}', which has no derivative", mnemonic(n->op)));
}

// y = A.B:    dA = dy.B^T,  dB = A^T.dy
Grads matMul(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *a = n->operands[0], *b = n->operands[1];
  return {need[0] ? g.create(K::MatMulNT, {dy, b}) : nullptr,
          need[1] ? g.create(K::MatMulTN, {a, dy}) : nullptr};
}

// y = A.B^T:  dA = dy.B,    dB = dy^T.A
Grads matMulNT(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *a = n->operands[0], *b = n->operands[1];
  return {need[0] ? g.create(K::MatMul, {dy, b}) : nullptr,
          need[1] ? g.create(K::MatMulTN, {dy, a}) : nullptr};
}

// y = A^T.B:  dA = B.dy^T,  dB = A.dy
Grads matMulTN(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *a = n->operands[0], *b = n->operands[1];
  return {need[0] ? g.create(K::MatMulNT, {b, dy}) : nullptr,
          need[1] ? g.create(K::MatMul, {a, dy}) : nullptr};
}

// y = x + b (broadcast over the batch):  dx = dy,  db = sum over batch of dy
Grads biasAdd(Graph &g, Node *, Node *dy, const Need &need) {
  return {dy, need[1] ? g.create(K::BiasGrad, {dy}) : nullptr};
}

// y = a + b:  da = dy, db = dy
Grads add(Graph &, Node *, Node *dy, const Need &) { return {dy, dy}; }

// y = a - b:  da = dy, db = -dy
Grads sub(Graph &g, Node *, Node *dy, const Need &need) {
  return {dy, need[1] ? g.create(K::Neg, {dy}) : nullptr};
}

// y = a * b:  da = dy * b, db = dy * a
Grads mul(Graph &g, Node *n, Node *dy, const Need &need) {
  return {need[0] ? g.create(K::Mul, {dy, n->operands[1]}) : nullptr,
          need[1] ? g.create(K::Mul, {dy, n->operands[0]}) : nullptr};
}

// y = a / b:  da = dy / b, db = -(dy * y) / b
Grads div(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *b = n->operands[1];
  Node *db = nullptr;
  if (need[1])
    db = g.create(K::Neg, {g.create(K::Div, {g.create(K::Mul, {dy, n}), b})});
  return {need[0] ? g.create(K::Div, {dy, b}) : nullptr, db};
}

// y = -x:  dx = -dy
Grads neg(Graph &g, Node *, Node *dy, const Need &) {
  return {g.create(K::Neg, {dy})};
}

// y = scale * x + shift:  dx = scale * dy
Grads affine(Graph &g, Node *n, Node *dy, const Need &) {
  return {
      g.create(K::Affine, {dy}, {{"scale", n->attr("scale")}, {"shift", 0}})};
}

// y = scale / x:  dx = -scale * dy / x^2 = -(dy * y) / x
Grads reciprocal(Graph &g, Node *n, Node *dy, const Need &) {
  Node *x = n->operands[0];
  return {g.create(K::Neg, {g.create(K::Div, {g.create(K::Mul, {dy, n}), x})})};
}

// y = reshape x:  dx = dy reshaped back
Grads reshape(Graph &g, Node *n, Node *dy, const Need &) {
  return {reshapeTo(g, dy, n->operands[0]->type.dims)};
}

// y = max(x, 0):  dx = dy * (y > 0)
Grads relu(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::ReluGrad, {dy, n})};
}

// y = 1 / (1 + e^-x):  dx = dy * y * (1 - y)
Grads sigmoid(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::SigmoidGrad, {dy, n})};
}

// y = tanh x:  dx = dy * (1 - y^2)
Grads tanhRule(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::TanhGrad, {dy, n})};
}

// y = x > 0 ? x : alpha x:  dx = dy * (x > 0 ? 1 : alpha)
Grads leakyRelu(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::LeakyReluGrad, {dy, n->operands[0]}, n->attrs)};
}

// y = softmax x:  dx = y * (dy - sum(dy * y))
Grads softmax(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::SoftmaxGrad, {dy, n})};
}

/// A loss L(prediction, labels): the gradient op computes dL/dprediction
/// (labels get none).
template <OpKind GradOp>
Grads lossGrad(Graph &g, Node *n, Node *dy, const Need &need) {
  if (need[1])
    throw std::logic_error("labels are not differentiable");
  return {g.create(GradOp, {n->operands[0], n->operands[1], dy}), nullptr};
}

// L = mean over the batch of -sum(t * log softmax z):
//   dz = (softmax z - t) / n * dL; labels get no gradient.
Grads softmaxXent(Graph &g, Node *n, Node *dy, const Need &need) {
  if (need[1])
    throw std::logic_error("labels are not differentiable");
  return {g.create(K::SoftmaxXentGrad, {n->operands[0], n->operands[1], dy}),
          nullptr};
}

GradTable makeTable() {
  GradTable t{};
  auto set = [&](OpKind op, GradRule rule) { t[int(op)] = rule; };
  set(K::Input, leaf);
  set(K::Param, leaf);
  set(K::Const, leaf);
  set(K::MatMul, matMul);
  set(K::MatMulNT, matMulNT);
  set(K::MatMulTN, matMulTN);
  set(K::BiasAdd, biasAdd);
  set(K::Add, add);
  set(K::Sub, sub);
  set(K::Mul, mul);
  set(K::Div, div);
  set(K::Neg, neg);
  set(K::Affine, affine);
  set(K::Reciprocal, reciprocal);
  set(K::Reshape, reshape);
  set(K::Relu, relu);
  set(K::Sigmoid, sigmoid);
  set(K::Tanh, tanhRule);
  set(K::LeakyRelu, leakyRelu);
  set(K::Softmax, softmax);
  set(K::SoftmaxXent, softmaxXent);
  // L = mean of -log softmax(z)[class]:  dz = (softmax z - onehot) / n
  set(K::SparseSoftmaxXent, lossGrad<K::SparseSoftmaxXentGrad>);
  // L = mean of -(t log s(z) + (1-t) log(1-s(z))):  dz = (s(z) - t) / count
  set(K::SigmoidBinaryXent, lossGrad<K::SigmoidBinaryXentGrad>);
  // L = mean of (p - t)^2:  dp = 2 (p - t) / count
  set(K::MeanSquaredError, lossGrad<K::MeanSquaredErrorGrad>);
  for (OpKind op :
       {K::BiasGrad, K::ReluGrad, K::SigmoidGrad, K::TanhGrad, K::LeakyReluGrad,
        K::SoftmaxGrad, K::SoftmaxXentGrad, K::SparseSoftmaxXentGrad,
        K::SigmoidBinaryXentGrad, K::MeanSquaredErrorGrad, K::MeanAbsoluteError,
        K::CountCorrect, K::SparseCountCorrect, K::BinaryCountCorrect,
        K::AdamUpdate, K::SgdUpdate, K::MomentumUpdate, K::RmspropUpdate})
    set(op, notDifferentiable);
  registerImageGradRules(t);
  return t;
}

} // namespace

GradRule gradRule(OpKind op) {
  static const GradTable table = makeTable();
  return table[int(op)];
}

} // namespace sora::ir
