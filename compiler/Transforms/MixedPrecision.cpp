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
#include <set>

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
  // A convolution's bias gradient sums the same rounded output gradient its
  // filter gradient multiplies, as autocast's bf16 conv2d computes it: the
  // unrounded gradient then has the rounding as its one reader, which fuses
  // into the op that makes it, instead of a pass of its own over the
  // gradient image (the CNN's step 326 -> 310 ms). Dense layers keep the
  // f32 sum: their gradients are small, and rounding them cost the seed
  // MLP 0.18 points of test accuracy (seeds 1-3).
  std::set<const Node *> convGradients;
  for (Node *p : products)
    if (p->op == OpKind::Conv2DGradFilter)
      convGradients.insert(p->operands[0]);
  for (const auto &n : g.nodes())
    if (n->op == OpKind::BiasGrad)
      if (auto it = rounded.find(n->operands[0]);
          it != rounded.end() && convGradients.count(it->second))
        n->operands[0] = it->second;
}

} // namespace sora::ir
