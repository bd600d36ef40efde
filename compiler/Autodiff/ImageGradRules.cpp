//===- ImageGradRules.cpp - Gradients of convolution, pooling, dropout
//-----===//
//
// The backward ops of images carry what their lowering needs as attributes:
// the forward op's own attributes, plus the sizes the gradient's result
// cannot take from its operands (the input image size, the kernel size).
//
//===----------------------------------------------------------------------===//
#include "Autodiff/GradRules.h"

#include <fmt/format.h>
#include <stdexcept>

namespace sora::ir {

namespace {

using Grads = std::vector<Node *>;
using Need = std::vector<bool>;
using K = OpKind;

// Ops that appear only in gradient code.
Grads notDifferentiable(Graph &, Node *n, Node *, const Need &) {
  throw std::logic_error(fmt::format(
      "autodiff reached '{}', which has no derivative", mnemonic(n->op)));
}

/// `n`'s attributes followed by `extra`.
std::vector<Attr> attrsPlus(const Node *n, std::vector<Attr> extra) {
  std::vector<Attr> attrs = n->attrs;
  attrs.insert(attrs.end(), extra.begin(), extra.end());
  return attrs;
}

/// {in_h, in_w} of an image operand [?, H, W, C].
std::vector<Attr> inputSize(const Node *x) {
  return {{"in_h", double(x->type.dims[0])}, {"in_w", double(x->type.dims[1])}};
}

// y = conv2d(x, w):  dx = transposed convolution of dy with w,
//                    dw[f,kh,kw,c] = sum over n, oh, ow of dy * x at the tap
Grads conv2d(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *x = n->operands[0], *w = n->operands[1];
  Node *dx = nullptr, *dw = nullptr;
  if (need[0])
    dx = g.create(K::Conv2DGradInput, {dy, w}, attrsPlus(n, inputSize(x)));
  if (need[1])
    dw = g.create(K::Conv2DGradFilter, {dy, x},
                  attrsPlus(n, {{"kernel", double(w->type.dims[1])}}));
  return {dx, dw};
}

// y = max over each window of x:  dx = dy at the window's first maximum
Grads maxPool2d(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::MaxPool2DGrad, {dy, n->operands[0]}, n->attrs)};
}

// y = mean over each window of x:  dx = dy / size^2 at every covered pixel
Grads avgPool2d(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::AvgPool2DGrad, {dy},
                   attrsPlus(n, inputSize(n->operands[0])))};
}

// y = x * mask / (1 - rate):  dx = dy * mask / (1 - rate), the same mask
// regenerated from the same {rate, seed, salt} and step
Grads dropout(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::DropoutGrad, {dy}, n->attrs)};
}

} // namespace

void registerImageGradRules(GradTable &t) {
  auto set = [&](OpKind op, GradRule rule) { t[int(op)] = rule; };
  set(K::Conv2D, conv2d);
  set(K::MaxPool2D, maxPool2d);
  set(K::AvgPool2D, avgPool2d);
  set(K::Dropout, dropout);
  for (OpKind op : {K::Conv2DGradInput, K::Conv2DGradFilter, K::MaxPool2DGrad,
                    K::AvgPool2DGrad, K::DropoutGrad})
    set(op, notDifferentiable);
}

} // namespace sora::ir
