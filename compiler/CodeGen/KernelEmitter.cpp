//===- KernelEmitter.cpp - Loops, reductions, element access --------------===//
#include "CodeGen/KernelEmitter.h"

#include "CodeGen/RuntimeContract.h"
#include "CodeGen/VectorOps.h"
#include "IR/OpRules.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <algorithm>

namespace sora::ir {

using namespace llvm;

Value *KernelEmitter::f32(double v) {
  if (lanes_)
    return ConstantFP::get(FixedVectorType::get(b.getFloatTy(), lanes_), v);
  return ConstantFP::get(b.getFloatTy(), v);
}

Value *KernelEmitter::buffer(const Node *node) {
  if (auto it = buffers_.find(node); it != buffers_.end())
    return it->second;
  if (inOpFunction_) {
    // An op function's buffers are its arguments after n and step.
    auto it = std::find(opBuffers_.begin(), opBuffers_.end(), node);
    if (it == opBuffers_.end())
      throw std::logic_error(std::string("an op function uses a buffer its "
                                         "probe did not: a ") +
                             mnemonic(node->op));
    return buffers_[node] = fn_->getArg(2 + unsigned(it - opBuffers_.begin()));
  }
  if (!setup_ || !resolveBuffer)
    throw std::logic_error("buffers are resolved only after beginBody()");
  IRBuilder<> sb(setup_->getTerminator());
  Value *ptr = resolveBuffer(*this, sb, node);
  if (!ptr)
    throw std::logic_error(std::string("no buffer for a ") +
                           mnemonic(node->op));
  return buffers_[node] = ptr;
}

void KernelEmitter::beginBody() {
  setup_ = b.GetInsertBlock();
  BasicBlock *body = BasicBlock::Create(b.getContext(), "body", fn_);
  b.CreateBr(body);
  b.SetInsertPoint(body);
}

Value *KernelEmitter::load(const Node *node, Value *index) {
  if (node->op == OpKind::Const)
    return f32(node->attrs.value());
  Value *p = b.CreateInBoundsGEP(b.getFloatTy(), buffer(node), index);
  return b.CreateAlignedLoad(b.getFloatTy(), p, Align(4));
}

void KernelEmitter::store(const Node *node, Value *index, Value *value) {
  Value *p = b.CreateInBoundsGEP(b.getFloatTy(), buffer(node), index);
  b.CreateAlignedStore(value, p, Align(4));
}

Value *KernelEmitter::operandIndex(const Node &n, size_t i, Value *index,
                                   Value *inRow) {
  if (!readsByFeature(n.op, i))
    return index;
  // A bias (a scale, a mean) is indexed by the last dimension.
  int64_t columns = n.type.dims.back();
  if (columns == n.type.elements())
    return inRow;
  return b.CreateURem(inRow, i64(columns));
}

Value *KernelEmitter::element(const Node &n, Value *index, Value *inRow) {
  std::vector<Value *> values;
  for (size_t i = 0; i < n.operands.size(); ++i)
    values.push_back(load(n.operands[i], operandIndex(n, i, index, inRow)));
  return formula(n.op)(*this, n, values);
}

void KernelEmitter::storeResult(const Node &n, Value *index, Value *value,
                                Value *inRow, int64_t used) {
  // A vector holds the elements from `index` (and column `inRow`) on, of
  // which the first `used` are real: operands are loaded and the result
  // stored as vectors, masked past `used`.
  auto *vector = dyn_cast<FixedVectorType>(value->getType());
  Vec vec(*this);
  auto loadAt = [&](const Node *node, Value *i) {
    if (!vector || node->op == OpKind::Const)
      return load(node, i);
    return vec.load(buffer(node), i, used);
  };
  auto storeAt = [&](const Node *node, Value *v) {
    if (vector)
      vec.store(buffer(node), index, v, used);
    else
      store(node, index, v);
  };
  if (!hasEpilogue(n)) {
    storeAt(&n, value);
    return;
  }
  // The formulas build their constants with f32(): splats meanwhile.
  lanes_ = vector ? int64_t(vector->getNumElements()) : 0;
  const Node *previous = &n;
  for (const Node *c : epilogue_->chain) {
    std::vector<Value *> values;
    for (size_t i = 0; i < c->operands.size(); ++i)
      values.push_back(
          c->operands[i] == previous
              ? value
              : loadAt(c->operands[i], operandIndex(*c, i, index, inRow)));
    value = formula(c->op)(*this, *c, values);
    previous = c;
  }
  lanes_ = 0;
  storeAt(epilogue_->root, value);
}

void KernelEmitter::setArguments(Function *kernel) {
  Value **arguments[] = {
#define SORA_KERNEL_ARG(member, name, Kind) &member,
#include "CodeGen/RuntimeContract.def"
  };
  for (unsigned i = 0; i < kNumKernelArgs; ++i)
    *arguments[i] = kernel->getArg(i);
}

Value *KernelEmitter::fma(Value *a, Value *b_, Value *c) {
  return call(Intrinsic::fmuladd, {a, b_, c});
}

Value *KernelEmitter::tile(int64_t floats) {
  // In the entry block, so that it is allocated once per call.
  IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
  AllocaInst *a = entry.CreateAlloca(ArrayType::get(b.getFloatTy(), floats));
  a->setAlignment(Align(64));
  return a;
}

Value *KernelEmitter::loadTile(Value *tile, Value *i) {
  return b.CreateLoad(b.getFloatTy(),
                      b.CreateInBoundsGEP(b.getFloatTy(), tile, i));
}

void KernelEmitter::storeTile(Value *tile, Value *i, Value *v) {
  b.CreateStore(v, b.CreateInBoundsGEP(b.getFloatTy(), tile, i));
}

void KernelEmitter::loop(Value *lo, Value *hi, const Body &body,
                         const char *name) {
  reduce(
      lo, hi, {},
      [&](Value *i, const std::vector<Value *> &) {
        body(i);
        return std::vector<Value *>{};
      },
      name);
}

std::vector<Value *> KernelEmitter::reduce(Value *lo, Value *hi,
                                           std::vector<Value *> init,
                                           const ReduceBody &body,
                                           const char *name) {
  LLVMContext &ctx = b.getContext();
  if (depth_ == 0)
    ++loopNests;
  ++depth_;
  BasicBlock *entry = b.GetInsertBlock();
  BasicBlock *header =
      BasicBlock::Create(ctx, std::string(name) + ".head", fn_);
  BasicBlock *bodyBB =
      BasicBlock::Create(ctx, std::string(name) + ".body", fn_);
  BasicBlock *exit = BasicBlock::Create(ctx, std::string(name) + ".exit", fn_);
  b.CreateBr(header);

  b.SetInsertPoint(header);
  PHINode *i = b.CreatePHI(b.getInt64Ty(), 2, name);
  i->addIncoming(lo, entry);
  std::vector<PHINode *> accs;
  for (Value *v : init) {
    PHINode *acc = b.CreatePHI(v->getType(), 2, std::string(name) + ".acc");
    acc->addIncoming(v, entry);
    accs.push_back(acc);
  }
  b.CreateCondBr(b.CreateICmpSLT(i, hi), bodyBB, exit);

  b.SetInsertPoint(bodyBB);
  std::vector<Value *> current(accs.begin(), accs.end());
  std::vector<Value *> next = body(i, current);
  Value *inc = b.CreateAdd(i, i64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
  BasicBlock *latch = b.GetInsertBlock();
  i->addIncoming(inc, latch);
  for (size_t j = 0; j < accs.size(); ++j)
    accs[j]->addIncoming(next[j], latch);
  b.CreateBr(header);

  b.SetInsertPoint(exit);
  --depth_;
  return current;
}

Value *
KernelEmitter::reduce(int64_t hi, Value *init,
                      const std::function<Value *(Value *, Value *)> &body,
                      const char *name) {
  return reduce(
      i64(0), i64(hi), {init},
      [&](Value *i, const std::vector<Value *> &acc) {
        return std::vector<Value *>{body(i, acc[0])};
      },
      name)[0];
}

Value *KernelEmitter::call(Intrinsic::ID id, std::vector<Value *> args) {
  Function *f =
      Intrinsic::getDeclaration(fn_->getParent(), id, {args[0]->getType()});
  return b.CreateCall(f, args);
}

void KernelEmitter::forEachElement(const Node *like, const Body &body) {
  int64_t elements = like->type.elements();
  loop(
      i64(0), rows(like),
      [&](Value *r) {
        Value *base = b.CreateMul(r, i64(elements), "", true, true);
        loop(
            elements,
            [&](Value *e) { body(b.CreateAdd(base, e, "", true, true)); }, "e");
      },
      "row");
}

void KernelEmitter::forEachRow(
    const Node *like,
    const std::function<void(KernelEmitter &, Value *)> &body) {
  // Fewer elements in a full batch, and the loop stays where it is: a
  // parallel loop costs two functions to compile, and sora_parallel_for
  // would run it inline anyway (its kMinWork).
  constexpr int64_t kParallelElements = 1 << 17;
  int64_t elements = like->type.elements();
  if (like->type.batched && elements * maxRows >= kParallelElements)
    return parallelLoop(rows(like), elements, [&](KernelEmitter &e, Value *r) {
      body(e, mulIdx(e, r, elements));
    });
  loop(
      i64(0), rows(like),
      [&](Value *r) { body(*this, mulIdx(*this, r, elements)); }, "row");
}

GlobalVariable *readOnlyData(Module &mod, Constant *data,
                             const std::string &name) {
  auto *global = new GlobalVariable(mod, data->getType(), true,
                                    GlobalValue::PrivateLinkage, data, name);
  global->setAlignment(Align(64));
  return global;
}

void forEachCase(KernelEmitter &k, Value *index, int64_t cases,
                 const std::function<void(int64_t)> &body) {
  if (cases == 1) {
    body(0);
    return;
  }
  Function *fn = k.b.GetInsertBlock()->getParent();
  LLVMContext &ctx = fn->getContext();
  BasicBlock *done = BasicBlock::Create(ctx, "case.done", fn);
  SwitchInst *choice = k.b.CreateSwitch(index, done, unsigned(cases));
  for (int64_t c = 0; c < cases; ++c) {
    BasicBlock *arm = BasicBlock::Create(ctx, "case", fn);
    choice->addCase(k.b.getInt64(uint64_t(c)), arm);
    k.b.SetInsertPoint(arm);
    body(c);
    k.b.CreateBr(done);
  }
  k.b.SetInsertPoint(done);
}

} // namespace sora::ir
