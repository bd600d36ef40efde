//===- KernelEmitter.cpp - Loops, reductions, element access --------------===//
#include "CodeGen/KernelEmitter.h"

#include "CodeGen/RuntimeContract.h"
#include "IR/OpRules.h"

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

namespace sora::ir {

using namespace llvm;

Value *KernelEmitter::f32(double v) {
  return ConstantFP::get(b.getFloatTy(), v);
}

Value *KernelEmitter::buffer(const Node *node) {
  if (auto it = buffers_.find(node); it != buffers_.end())
    return it->second;
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
                                Value *inRow) {
  if (!hasEpilogue(n)) {
    store(&n, index, value);
    return;
  }
  const Node *previous = &n;
  for (const Node *c : epilogue_->chain) {
    std::vector<Value *> values;
    for (size_t i = 0; i < c->operands.size(); ++i)
      values.push_back(
          c->operands[i] == previous
              ? value
              : load(c->operands[i], operandIndex(*c, i, index, inRow)));
    value = formula(c->op)(*this, *c, values);
    previous = c;
  }
  store(epilogue_->root, index, value);
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

void KernelEmitter::parallelLoop(
    Value *count, int64_t workPerIteration,
    const std::function<void(KernelEmitter &, Value *)> &body) {
  parallelRanges(count, b.CreateMul(count, i64(workPerIteration)),
                 [&](KernelEmitter &e, Value *begin, Value *end) {
                   e.loop(
                       begin, end, [&](Value *i) { body(e, i); }, "par");
                 });
}

void KernelEmitter::parallelRanges(
    Value *count, Value *work,
    const std::function<void(KernelEmitter &, Value *, Value *)> &body) {
  Module &mod = *fn_->getParent();
  LLVMContext &ctx = mod.getContext();
  llvm::Type *ptr = PointerType::getUnqual(ctx);
  llvm::Type *intTy = b.getInt64Ty();
  // The kernel's arguments, in a struct on the stack that workers read,
  // filled at the top of the kernel (they are its arguments).
  StructType *argsType =
      StructType::get(ctx, kernelFunctionType(ctx)->params());
  if (!context_) {
    IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    context_ = entry.CreateAlloca(argsType);
    Value *fields[] = {
#define SORA_KERNEL_ARG(member, name, Kind) member,
#include "CodeGen/RuntimeContract.def"
    };
    for (unsigned i = 0; i < kNumKernelArgs; ++i)
      entry.CreateStore(fields[i],
                        entry.CreateStructGEP(argsType, context_, i));
  }

  // The part sora_parallel_for calls, void part(ptr args, i64 begin, i64
  // end), reads the arguments and calls the body: a function with the
  // kernel's arguments and attributes, so that its buffers stay `noalias`
  // (as metadata once it is inlined), then begin and end. Without that,
  // LLVM must assume each store may change every buffer.
  std::string name =
      (fn_->getName() + ".part").str() + std::to_string(parallelLoops_++);
  Function *part = Function::Create(
      FunctionType::get(b.getVoidTy(), {ptr, intTy, intTy}, false),
      Function::InternalLinkage, name, mod);
  part->addFnAttr(Attribute::NoUnwind);
  std::vector<llvm::Type *> bodyParams(kernelFunctionType(ctx)->params());
  bodyParams.push_back(intTy);
  bodyParams.push_back(intTy);
  Function *bodyFn =
      Function::Create(FunctionType::get(b.getVoidTy(), bodyParams, false),
                       Function::InternalLinkage, name + ".body", mod);
  bodyFn->setAttributes(fn_->getAttributes());
  bodyFn->addFnAttr(Attribute::NoUnwind);
  {
    IRBuilder<> pb(BasicBlock::Create(ctx, "entry", part));
    std::vector<Value *> values;
    for (unsigned i = 0; i < kNumKernelArgs; ++i)
      values.push_back(
          pb.CreateLoad(argsType->getElementType(i),
                        pb.CreateStructGEP(argsType, part->getArg(0), i),
                        kKernelArgNames[i]));
    values.push_back(part->getArg(1));
    values.push_back(part->getArg(2));
    pb.CreateCall(bodyFn, values);
    pb.CreateRetVoid();
  }
  IRBuilder<> pb(BasicBlock::Create(ctx, "entry", bodyFn));
  pb.setFastMathFlags(b.getFastMathFlags());
  KernelEmitter k(bodyFn, pb);
  k.setArguments(bodyFn);
  for (unsigned i = 0; i < kNumKernelArgs; ++i)
    bodyFn->getArg(i)->setName(kKernelArgNames[i]);
  Value *begin = bodyFn->getArg(kNumKernelArgs),
        *end = bodyFn->getArg(kNumKernelArgs + 1);
  begin->setName("begin");
  end->setName("end");
  k.vectorWidth = vectorWidth;
  k.epilogue_ = epilogue_;
  k.resolveBuffer = resolveBuffer;
  k.lrReductions = lrReductions;
  k.beginBody();
  body(k, begin, end);
  pb.CreateRetVoid();

  FunctionCallee parallelFor = mod.getOrInsertFunction(
      "sora_parallel_for", b.getVoidTy(), ptr, ptr, intTy, intTy);
  b.CreateCall(parallelFor, {part, context_, count, work});
  ++loopNests;
}

void KernelEmitter::outlined(const std::function<void(KernelEmitter &)> &body) {
  Module &mod = *fn_->getParent();
  Function *part = Function::Create(
      kernelFunctionType(mod.getContext()), Function::InternalLinkage,
      fn_->getName() + ".op" + std::to_string(outlined_++), mod);
  part->setAttributes(fn_->getAttributes());
  part->addFnAttr(Attribute::NoInline);
  IRBuilder<> pb(BasicBlock::Create(mod.getContext(), "entry", part));
  pb.setFastMathFlags(b.getFastMathFlags());
  KernelEmitter k(part, pb);
  k.setArguments(part);
  if (isa<Constant>(params)) // an inference build's baked weights
    k.params = params;
  k.vectorWidth = vectorWidth;
  k.epilogue_ = epilogue_;
  k.resolveBuffer = resolveBuffer;
  k.lrReductions = lrReductions;
  k.beginBody();
  body(k);
  pb.CreateRetVoid();
  loopNests += k.loopNests;
  std::vector<Value *> args;
  for (Argument &a : fn_->args())
    args.push_back(&a);
  b.CreateCall(part, args);
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

} // namespace sora::ir
