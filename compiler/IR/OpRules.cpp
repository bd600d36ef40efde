//===- OpRules.cpp - One shape rule per op
//---------------------------------===//
#include "IR/OpRules.h"

#include <array>

namespace sora::ir {

namespace {

Type batched(std::vector<int64_t> dims) {
  return {false, true, std::move(dims)};
}
Type fixed(std::vector<int64_t> dims) {
  return {false, false, std::move(dims)};
}
Type scalar() { return fixed({}); }

bool isMatrixBatch(const Node *n) {
  return n->type.batched && n->type.dims.size() == 1;
}
bool isMatrix(const Node *n) {
  return !n->type.batched && n->type.dims.size() == 2;
}

Type fail(std::string &error, const std::string &message) {
  error = message;
  return Type::noneType();
}

// A leaf's type is set by its creator.
Type leafRule(const std::vector<Node *> &, const std::vector<Attr> &,
              std::string &error) {
  return fail(error, "leaf types are set when the leaf is created");
}

// [?,K] x [K,M] -> [?,M]
Type matMulRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                std::string &error) {
  if (!isMatrixBatch(o[0]) || !isMatrix(o[1]) ||
      o[0]->type.dims[0] != o[1]->type.dims[0])
    return fail(error, "matmul expects [?,K] and [K,M]");
  return batched({o[1]->type.dims[1]});
}

// [?,K] x [M,K] -> [?,M]
Type matMulNTRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                  std::string &error) {
  if (!isMatrixBatch(o[0]) || !isMatrix(o[1]) ||
      o[0]->type.dims[0] != o[1]->type.dims[1])
    return fail(error, "matmul_nt expects [?,K] and [M,K]");
  return batched({o[1]->type.dims[0]});
}

// [?,K] x [?,M] -> [K,M]
Type matMulTNRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                  std::string &error) {
  if (!isMatrixBatch(o[0]) || !isMatrixBatch(o[1]))
    return fail(error, "matmul_tn expects [?,K] and [?,M]");
  return fixed({o[0]->type.dims[0], o[1]->type.dims[0]});
}

// [?,M] + [M] -> [?,M]
Type biasAddRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                 std::string &error) {
  if (!isMatrixBatch(o[0]) || o[1]->type.batched ||
      o[1]->type.dims != o[0]->type.dims)
    return fail(error, "bias_add expects [?,M] and [M]");
  return o[0]->type;
}

// [?,M] -> [M]
Type reduceBatchRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                     std::string &error) {
  if (!o[0]->type.batched)
    return fail(error, "reduce_batch expects a batched operand");
  return fixed(o[0]->type.dims);
}

// Elementwise: every operand has the first operand's type.
Type sameTypeRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                  std::string &error) {
  for (Node *n : o)
    if (n->type != o[0]->type || n->type.none)
      return fail(error, "operands must have the same type");
  return o[0]->type;
}

// (logits [?,M], labels [?,M]) -> f32[]
Type lossRule(const std::vector<Node *> &o, const std::vector<Attr> &,
              std::string &error) {
  if (!isMatrixBatch(o[0]) || o[1]->type != o[0]->type)
    return fail(error, "expects logits and labels of the same type [?,M]");
  return scalar();
}

// (logits, labels, dloss f32[]) -> [?,M]
Type lossGradRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                  std::string &error) {
  if (!isMatrixBatch(o[0]) || o[1]->type != o[0]->type ||
      o[2]->type != scalar())
    return fail(error, "expects logits [?,M], labels [?,M] and f32[]");
  return o[0]->type;
}

// (w, g, m, v), all of one unbatched type -> none
Type optimizerRule(const std::vector<Node *> &o, const std::vector<Attr> &,
                   std::string &error) {
  for (Node *n : o)
    if (n->type != o[0]->type || n->type.batched || n->type.none)
      return fail(error, "expects parameter, gradient and state of one type");
  return Type::noneType();
}

std::array<ShapeRule, kNumOps> makeTable() {
  std::array<ShapeRule, kNumOps> t{};
  auto set = [&](OpKind op, ShapeRule rule) { t[int(op)] = rule; };
  set(OpKind::Input, leafRule);
  set(OpKind::Param, leafRule);
  set(OpKind::Const, leafRule);
  set(OpKind::MatMul, matMulRule);
  set(OpKind::MatMulNT, matMulNTRule);
  set(OpKind::MatMulTN, matMulTNRule);
  set(OpKind::BiasAdd, biasAddRule);
  set(OpKind::ReduceBatch, reduceBatchRule);
  for (OpKind op :
       {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Neg,
        OpKind::Relu, OpKind::ReluGrad, OpKind::Sigmoid, OpKind::SigmoidGrad,
        OpKind::Tanh, OpKind::TanhGrad, OpKind::LeakyRelu,
        OpKind::LeakyReluGrad, OpKind::Softmax, OpKind::SoftmaxGrad})
    set(op, sameTypeRule);
  set(OpKind::SoftmaxXent, lossRule);
  set(OpKind::CountCorrect, lossRule);
  set(OpKind::SoftmaxXentGrad, lossGradRule);
  set(OpKind::AdamUpdate, optimizerRule);
  return t;
}

} // namespace

ShapeRule shapeRule(OpKind op) {
  static const std::array<ShapeRule, kNumOps> table = makeTable();
  return table[int(op)];
}

} // namespace sora::ir
