//===- ImageLowerings.cpp - Registers the image lowerings -----------------===//
//
// Convolution, pooling and dropout, and the helpers their files share.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ImageLowerings.h"

#include <llvm/IR/Intrinsics.h>

namespace sora::ir {

namespace image {

using namespace llvm;

Value *smaxIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateBinaryIntrinsic(Intrinsic::smax, a, b);
}
Value *sminIdx(KernelEmitter &k, Value *a, Value *b) {
  return k.b.CreateBinaryIntrinsic(Intrinsic::smin, a, b);
}

Image imageOf(const Node *n) {
  return {n->type.dims[0], n->type.dims[1], n->type.dims[2]};
}

Value *pixel(KernelEmitter &k, const Image &img, Value *r, Value *y, Value *x) {
  Value *row = addSigned(k, mulSigned(k, r, img.h), y);
  return mulSigned(k, addSigned(k, mulSigned(k, row, img.w), x), img.c);
}

void zero(KernelEmitter &k, const Node &dst) {
  k.forEachElement(&dst, [&](Value *i) { k.store(&dst, i, k.f32(0)); });
}

void accumulateInto(KernelEmitter &k, const Node *dst, Value *i, Value *v) {
  k.store(dst, i, k.b.CreateFAdd(k.load(dst, i), v));
}

Conv convOf(const Node &n, const Node *in, const Node *out,
            const Node *kernel) {
  return {imageOf(in),          imageOf(out),     kernel->type.dims[1],
          kernel->type.dims[2], n.attrs.stride(), n.attrs.padTop(),
          n.attrs.padLeft()};
}

} // namespace image

void registerImageLowerings(LoweringTable &t) {
  using namespace image;
  using K = OpKind;
  auto set = [&](OpKind op, Lowering rule) { t.set(op, rule); };
  set(K::Conv2D, lowerConv2D);
  set(K::Conv2DGradInput, lowerConv2DGradInput);
  set(K::Conv2DGradFilter, lowerConv2DGradFilter);
  set(K::MaxPool2D, lowerMaxPool2D);
  set(K::MaxPool2DGrad, lowerMaxPool2DGrad);
  set(K::AvgPool2D, lowerAvgPool2D);
  set(K::AvgPool2DGrad, lowerAvgPool2DGrad);
  set(K::Dropout, lowerDropout);
  set(K::DropoutGrad, lowerDropoutGrad);
}

} // namespace sora::ir
