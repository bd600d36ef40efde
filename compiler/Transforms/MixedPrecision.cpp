//===- MixedPrecision.cpp - bfloat16 operands for every product -----------===//
//
// `precision = bf16` (the train block) is PyTorch's autocast on CPU: the
// matrix products and convolutions, forward and backward, multiply
// bfloat16 operands and sum in f32; weights, gradients and optimizer state
// stay f32. In the graph that is a round_bf16 before each operand of each
// Product op, one per value however many products read it. It runs when
// the graphs are built, after autodiff (the gradient of a product is
// itself a product, and is rounded the same way), and is not one of the
// optional passes: `--passes none` keeps the model's arithmetic. A kernel
// that reads rounded operands may multiply them as bfloat16 pairs (AVX512's
// vdpbf16ps) without changing a product.
//
//===----------------------------------------------------------------------===//
#include "Transforms/Passes.h"

#include <map>

namespace sora::ir {

void roundProductOperands(Graph &g) {
  std::vector<Node *> products;
  for (const auto &n : g.nodes())
    if (hasTrait(n->op, Product))
      products.push_back(n.get());
  std::map<Node *, Node *> rounded;
  for (Node *p : products)
    for (Node *&operand : p->operands) {
      Node *&r = rounded[operand];
      if (!r) {
        r = g.createAfter(operand, OpKind::RoundBf16, {operand});
        r->layer = p->layer;
        r->phase = p->phase;
      }
      operand = r;
    }
}

} // namespace sora::ir
