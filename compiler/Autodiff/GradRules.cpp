//===- GradRules.cpp - One gradient rule per op, as a table ---------------===//
//
// Each rule is the textbook derivative, written with other ops of the IR.
// y is the node itself, dy the incoming gradient; the comment above each
// rule gives the math. An op whose Ops.def row names its derivative op
// (GRAD_OP) gets its rule from that row; the rest are written here.
//
//===----------------------------------------------------------------------===//
#include "Autodiff/GradRules.h"

#include "IR/BuildGraph.h"
#include "IR/OpTable.h"

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

// The derivative op of the Ops.def row, with this node's attributes:
//   WithX: dx = G(dy, x)   WithY: dx = G(dy, y)   DyOnly: dx = G(dy)
//   Loss:  dprediction = G(prediction, labels, dloss); labels get none
Grads derived(Graph &g, Node *n, Node *dy, const Need &need) {
  const GradSpec &spec = gradSpec(n->op);
  switch (spec.reads) {
  case GradSpec::WithX:
    return {g.create(spec.op, {dy, n->operands[0]}, n->attrs)};
  case GradSpec::WithY:
    return {g.create(spec.op, {dy, n}, n->attrs)};
  case GradSpec::DyOnly:
    return {g.create(spec.op, {dy}, n->attrs)};
  case GradSpec::Loss:
    if (need[1])
      throw std::logic_error("labels are not differentiable");
    return {g.create(spec.op, {n->operands[0], n->operands[1], dy}, n->attrs),
            nullptr};
  }
  return {};
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
  return {g.create(K::Affine, {dy},
                   {attr::scale(n->attrs.scale()), attr::shift(0)})};
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

// y[r, t] = table[ids[r, t]]:  dtable[v] = sum of dy[r, t] where ids = v
// (every row of the table gets one, zero where the batch used none, as
// PyTorch's dense gradient); the ids get none.
Grads embedding(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *table = n->operands[1];
  return {nullptr, need[1] ? g.create(K::EmbeddingGrad, {dy, n->operands[0]},
                                      {attr::vocab(table->type.dims[0])})
                           : nullptr};
}

// y = sum over the last dimension:  dx = dy, repeated along it
Grads sumLast(Graph &g, Node *n, Node *dy, const Need &) {
  int64_t width = n->operands[0]->type.dims.back();
  return {g.create(K::BroadcastLast, {dy}, {attr::width(width)})};
}

// y = [a, b, ...] along the last dimension:  da, db, ... = the parts of dy
Grads concat(Graph &g, Node *n, Node *dy, const Need &need) {
  Grads parts;
  int64_t offset = 0;
  for (size_t i = 0; i < n->operands.size(); ++i) {
    int64_t width = n->operands[i]->type.dims.back();
    parts.push_back(need[i]
                        ? g.create(K::SliceLast, {dy},
                                   {attr::offset(offset), attr::width(width)})
                        : nullptr);
    offset += width;
  }
  return parts;
}

// y = x[..., offset : offset + width]:  dx = dy in place, zeros around it
Grads sliceLast(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::PadLast, {dy},
                   {attr::offset(n->attrs.offset()),
                    attr::width(n->operands[0]->type.dims.back())})};
}

// y = x * s[c]:  dx = dy * s[c],  ds = sum over all but c of dy * x
Grads channelMul(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *x = n->operands[0], *s = n->operands[1];
  return {need[0] ? g.create(K::ChannelMul, {dy, s}) : nullptr,
          need[1] ? g.create(K::BiasGrad, {g.create(K::Mul, {dy, x})})
                  : nullptr};
}

// y = (x - mean) * inv_std, mean and inv_std(var) x's batch statistics:
// dx through them as well (normalize_grad); they get nothing of their own.
Grads normalize(Graph &g, Node *n, Node *dy, const Need &) {
  Node *x = n->operands[0], *mean = n->operands[1], *inv = n->operands[2];
  Node *var = inv->op == K::InvStd ? inv->operands[0] : inv;
  if (mean->op != K::FeatureMean || mean->operands[0] != x ||
      var->op != K::FeatureVar || var->operands[0] != x ||
      var->operands[1] != mean)
    throw std::logic_error("normalize's gradient needs its input's batch "
                           "statistics");
  return {g.create(K::NormalizeGrad, {dy, x, mean, inv}), nullptr, nullptr};
}

// y = x with its axes in perm's order:  dx = dy in the inverse order
Grads transpose(Graph &g, Node *n, Node *dy, const Need &) {
  const Dims &perm = n->attrs.perm();
  Dims inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = int64_t(i);
  return {g.create(K::Transpose, {dy}, {attr::perm(inverse)})};
}

// Zeros do not depend on the value they take their batch from.
Grads zerosLike(Graph &, Node *, Node *, const Need &) { return {nullptr}; }

GradTable makeTable() {
  GradTable t;
  for (int i = 0; i < kNumOps; ++i) {
    OpKind op = OpKind(i);
    if (gradSpec(op).kind == GradSpec::Derived)
      t.set(op, derived);
    else if (gradSpec(op).kind == GradSpec::None)
      t.set(op, hasTrait(op, Leaf) ? leaf : notDifferentiable);
  }
  t.set(K::MatMul, matMul);
  t.set(K::MatMulNT, matMulNT);
  t.set(K::MatMulTN, matMulTN);
  t.set(K::BiasAdd, biasAdd);
  t.set(K::Add, add);
  t.set(K::Sub, sub);
  t.set(K::Mul, mul);
  t.set(K::Div, div);
  t.set(K::Neg, neg);
  t.set(K::Affine, affine);
  t.set(K::Reciprocal, reciprocal);
  t.set(K::Reshape, reshape);
  t.set(K::Embedding, embedding);
  t.set(K::SumLast, sumLast);
  t.set(K::Concat, concat);
  t.set(K::SliceLast, sliceLast);
  t.set(K::ZerosLike, zerosLike);
  t.set(K::Transpose, transpose);
  t.set(K::ChannelMul, channelMul);
  t.set(K::Normalize, normalize);
  registerImageGradRules(t);
  return t;
}

} // namespace

GradRule gradRule(OpKind op) {
  static const GradTable table = makeTable();
  return table[op];
}

} // namespace sora::ir
