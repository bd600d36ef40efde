//===- ImageGradRules.cpp - Gradients of convolution and pooling ----------===//
//
// The backward ops of images carry what their lowering needs as attributes:
// the forward op's own attributes, plus the sizes the gradient's result
// cannot take from its operands (the input image size, the kernel size).
//
//===----------------------------------------------------------------------===//
#include "Autodiff/GradRules.h"

namespace sora::ir {

namespace {

using Grads = std::vector<Node *>;
using Need = std::vector<bool>;
using K = OpKind;

/// `n`'s attributes and the size {in_h, in_w} of its image operand x.
AttrList plusInputSize(const Node *n, const Node *x) {
  return n->attrs.plus(
      {attr::inH(x->type.dims[0]), attr::inW(x->type.dims[1])});
}

// y = conv2d(x, w):  dx = transposed convolution of dy with w,
//                    dw[f,kh,kw,c] = sum over n, oh, ow of dy * x at the tap
Grads conv2d(Graph &g, Node *n, Node *dy, const Need &need) {
  Node *x = n->operands[0], *w = n->operands[1];
  Node *dx = nullptr, *dw = nullptr;
  if (need[0])
    dx = g.create(K::Conv2DGradInput, {dy, w}, plusInputSize(n, x));
  if (need[1])
    dw = g.create(K::Conv2DGradFilter, {dy, x},
                  n->attrs.plus({attr::kernel(w->type.dims[1]),
                                 attr::kernelW(w->type.dims[2])}));
  return {dx, dw};
}

// y = mean over each window of x:  dx = dy / size^2 at every covered pixel
Grads avgPool2d(Graph &g, Node *n, Node *dy, const Need &) {
  return {g.create(K::AvgPool2DGrad, {dy}, plusInputSize(n, n->operands[0]))};
}

} // namespace

// Max pooling (dx = dy at each window's first maximum) and dropout (the
// same mask, regenerated from {rate, seed, salt} and the step) take their
// derivative ops from Ops.def.
void registerImageGradRules(GradTable &t) {
  t.set(K::Conv2D, conv2d);
  t.set(K::AvgPool2D, avgPool2d);
}

} // namespace sora::ir
