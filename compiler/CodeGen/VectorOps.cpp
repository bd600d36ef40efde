//===- VectorOps.cpp - Explicit vectors for the micro-kernels -------------===//
#include "CodeGen/VectorOps.h"

#include <llvm/IR/Constants.h>

namespace sora::ir {

using namespace llvm;

Vec::Vec(KernelEmitter &k)
    : k(k), lanes(k.vectorWidth),
      type(FixedVectorType::get(k.b.getFloatTy(), unsigned(lanes))) {}

void Vec::keepWide() {
  if (lanes == 16)
    k.b.GetInsertBlock()->getParent()->addFnAttr("min-legal-vector-width",
                                                 "512");
}

Value *Vec::zero() const { return Constant::getNullValue(type); }

Value *Vec::splat(Value *s) {
  return k.b.CreateVectorSplat(unsigned(lanes), s);
}

Value *Vec::lane(Value *v, int64_t i) { return k.b.CreateExtractElement(v, i); }

Value *Vec::mask(int64_t used) {
  std::vector<Constant *> bits;
  for (int64_t i = 0; i < lanes; ++i)
    bits.push_back(k.b.getInt1(i < used));
  return ConstantVector::get(bits);
}

Value *Vec::at(Value *base, Value *index) {
  return k.b.CreateInBoundsGEP(k.b.getFloatTy(), base, index);
}

Value *Vec::load(Value *base, Value *index, int64_t used) {
  if (used >= lanes)
    return k.b.CreateAlignedLoad(type, at(base, index), Align(4));
  return k.b.CreateMaskedLoad(type, at(base, index), Align(4), mask(used),
                              zero());
}

void Vec::store(Value *base, Value *index, Value *v, int64_t used) {
  if (used >= lanes)
    k.b.CreateAlignedStore(v, at(base, index), Align(4));
  else
    k.b.CreateMaskedStore(v, at(base, index), Align(4), mask(used));
}

} // namespace sora::ir
