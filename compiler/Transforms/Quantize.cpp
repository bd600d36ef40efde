//===- Quantize.cpp - The int8 products of an inference build -------------===//
//
// `sorac --inference --quantize=int8` runs each dense layer's product in
// int8 (qmatmul_nt, CodeGen/Int8Lowerings.cpp): weights quantized per row
// at compile time, activations per tensor with a scale that calibration
// chose from the f32 model's values on the first training samples (the
// driver runs the graph that exposeInt8Inputs makes). Convolutions and
// everything else stay f32.
//
//===----------------------------------------------------------------------===//
#include "Transforms/Passes.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sora::ir {

std::vector<Node *> int8Products(const Graph &g) {
  std::vector<Node *> products;
  for (const auto &n : g.nodes()) {
    if (n->op != OpKind::MatMulNT)
      continue;
    const Node *w = n->operands[1];
    if (w->op == OpKind::RoundBf16) // precision = bf16
      w = w->operands[0];
    if (w->op == OpKind::Param &&
        (w->role == ParamRole::Weight || w->role == ParamRole::Frozen))
      products.push_back(n.get());
  }
  return products;
}

std::vector<int64_t> exposeInt8Inputs(Graph &g) {
  std::vector<Node *> parts;
  std::vector<int64_t> widths;
  for (Node *p : int8Products(g)) {
    Node *x = p->operands[0];
    int64_t width = x->type.elements();
    if (x->type.dims.size() > 1)
      x = g.create(OpKind::Reshape, {x}, {attr::shape({width})});
    parts.push_back(x);
    widths.push_back(width);
  }
  if (parts.empty())
    return widths;
  Node *all = parts.size() == 1 ? parts[0] : g.create(OpKind::Concat, parts);
  g.replaceAllUses(g.output("output"), all);
  return widths;
}

void quantizeInt8(Graph &g, const std::vector<ActivationRange> &ranges) {
  std::vector<Node *> products = int8Products(g);
  if (products.size() != ranges.size())
    throw std::logic_error("int8: calibration saw another graph");
  for (size_t i = 0; i < products.size(); ++i) {
    const ActivationRange &r = ranges[i];
    bool unsigned8 = r.min >= 0;
    double largest = unsigned8 ? r.max : std::max(-r.min, r.max);
    double scale = largest > 0 ? largest / (unsigned8 ? 255.0 : 127.0) : 1.0;
    Node *n = products[i];
    n->op = OpKind::QMatMulNT;
    n->attrs = {attr::scale(scale), attr::zeroPoint(unsigned8 ? 0 : 128)};
    // The weight is read quantized: a bf16 rounding of it is not needed.
    if (n->operands[1]->op == OpKind::RoundBf16)
      n->operands[1] = n->operands[1]->operands[0];
  }
}

} // namespace sora::ir
