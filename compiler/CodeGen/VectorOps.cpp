//===- VectorOps.cpp - Explicit vectors for the micro-kernels -------------===//
#include "CodeGen/VectorOps.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsX86.h>

namespace sora::ir {

using namespace llvm;

Vec::Vec(KernelEmitter &k)
    : k(k), lanes(k.vectorWidth),
      type(FixedVectorType::get(k.b.getFloatTy(), unsigned(lanes))) {}

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

bool bf16Operands(const Node &n) {
  for (const Node *o : n.operands)
    if (o->op != OpKind::RoundBf16)
      return false;
  return true;
}

bool bf16Pairs(const KernelEmitter &k, const Node &n) {
  return k.bf16Dot && k.vectorWidth == 16 && bf16Operands(n);
}

Bf16::Bf16(Vec &vec)
    : vec(vec),
      pairs(FixedVectorType::get(vec.k.b.getBFloatTy(), 2 * vec.lanes)) {}

Value *Bf16::dot(Value *acc, Value *a, Value *b) {
  return vec.k.b.CreateIntrinsic(Intrinsic::x86_avx512bf16_dpbf16ps_512, {},
                                 {acc, a, b});
}

namespace {
/// The upper halves of the f32 lanes of `v` (<n x float>), as <2n x i16>
/// whose odd elements they are.
Value *halves(IRBuilder<> &b, Value *v) {
  auto *t = cast<FixedVectorType>(v->getType());
  return b.CreateBitCast(
      v, FixedVectorType::get(b.getInt16Ty(), 2 * t->getNumElements()));
}
} // namespace

Value *Bf16::splatPair(Value *base, Value *index) {
  IRBuilder<> &b = vec.k.b;
  auto *two = FixedVectorType::get(b.getFloatTy(), 2);
  Value *pair =
      halves(b, b.CreateAlignedLoad(two, vec.at(base, index), Align(4)));
  std::vector<int> mask;
  for (int64_t j = 0; j < vec.lanes; ++j)
    mask.insert(mask.end(), {1, 3});
  return b.CreateBitCast(b.CreateShuffleVector(pair, mask), pairs);
}

Value *Bf16::pack(Value *lo, Value *hi) {
  IRBuilder<> &b = vec.k.b;
  std::vector<int> mask;
  for (int j = 0; j < 2 * vec.lanes; ++j)
    mask.push_back(2 * j + 1);
  return b.CreateBitCast(
      b.CreateShuffleVector(halves(b, lo), halves(b, hi), mask), pairs);
}

Value *Bf16::interleave(Value *even, Value *odd) {
  IRBuilder<> &b = vec.k.b;
  std::vector<int> mask;
  int n = int(2 * vec.lanes);
  for (int j = 0; j < vec.lanes; ++j)
    mask.insert(mask.end(), {2 * j + 1, n + 2 * j + 1});
  return b.CreateBitCast(
      b.CreateShuffleVector(halves(b, even), halves(b, odd), mask), pairs);
}

Value *Bf16::splatStored(Value *tile, Value *index) {
  IRBuilder<> &b = vec.k.b;
  Value *at = b.CreateInBoundsGEP(b.getInt32Ty(), tile, index);
  Value *pair = b.CreateAlignedLoad(b.getInt32Ty(), at, Align(4));
  return b.CreateBitCast(b.CreateVectorSplat(unsigned(vec.lanes), pair), pairs);
}

Value *Bf16::tile(int64_t count) {
  Function *fn = vec.k.b.GetInsertBlock()->getParent();
  IRBuilder<> entry(&fn->getEntryBlock(), fn->getEntryBlock().begin());
  AllocaInst *a = entry.CreateAlloca(ArrayType::get(pairs, count));
  a->setAlignment(Align(64));
  return a;
}

Value *Bf16::load(Value *tile, Value *i) {
  return vec.k.b.CreateAlignedLoad(
      pairs, vec.k.b.CreateInBoundsGEP(pairs, tile, i), Align(64));
}

void Bf16::store(Value *tile, Value *i, Value *v) {
  vec.k.b.CreateAlignedStore(v, vec.k.b.CreateInBoundsGEP(pairs, tile, i),
                             Align(64));
}

} // namespace sora::ir
