//===- KernelFunctions.cpp - The functions a kernel is made of ------------===//
//
// A kernel (predict, train_step, ...) is mostly a sequence of calls: each
// op, or fused group, is an op function whose buffers are its arguments,
// and each loop shared among threads is a part that sora_parallel_for
// runs. An op function names no kernel's memory plan, so the same op in two
// kernels (the forward pass is in predict, evaluate and both training
// kernels) or in two layers of the same shapes is the same function, which
// LLVM's MergeFunctions keeps once before the optimisation pipeline runs
// (Target.cpp): LLVM's work grows with a model's distinct ops, not with
// its kernels and layers, and stays linear in the size of a kernel.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelEmitter.h"

#include "CodeGen/RuntimeContract.h"

#include <llvm/IR/Module.h>

#include <algorithm>
#include <set>

namespace sora::ir {

using namespace llvm;

namespace {

/// Internal, no unwinding, and no address anyone compares: what lets
/// MergeFunctions replace a function by its twin everywhere.
void markInternal(Function *f) {
  f->addFnAttr(Attribute::NoUnwind);
  f->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
}

/// Where a buffer lies: a base (a kernel argument, the baked weights) and
/// a byte range from it; `base` null when unknown.
struct Region {
  const Value *base = nullptr;
  int64_t begin = 0, end = 0;
};

Region regionOf(const Module &mod, Value *ptr, const Node *node,
                int64_t maxRows) {
  APInt offset(64, 0);
  const Value *base = ptr->stripAndAccumulateConstantOffsets(
      mod.getDataLayout(), offset, /*AllowNonInbounds=*/true);
  if (!isa<Argument>(base) && !isa<GlobalVariable>(base))
    return {};
  int64_t rows = node->type.batched ? maxRows : 1;
  int64_t begin = offset.getSExtValue();
  return {base, begin, begin + rows * node->type.elements() * 4};
}

bool overlap(const Region &a, const Region &b) {
  return !a.base || !b.base ||
         (a.base == b.base && a.begin < b.end && b.begin < a.end);
}

} // namespace

KernelEmitter
KernelEmitter::derived(Function *f, IRBuilder<> &builder,
                       const std::vector<const Node *> *opBuffers) const {
  KernelEmitter k(f, builder);
  builder.setFastMathFlags(b.getFastMathFlags());
  k.vectorWidth = vectorWidth;
  k.bf16Dot = bf16Dot;
  k.vnni = vnni;
  k.amx = amx;
  k.int8 = int8;
  k.maxRows = maxRows;
  k.epilogue_ = epilogue_;
  k.lrReductions = lrReductions;
  k.inOpFunction_ = inOpFunction_ || opBuffers;
  k.opBuffers_ = opBuffers ? *opBuffers : opBuffers_;
  if (!opBuffers)
    k.resolveBuffer = resolveBuffer;
  k.bindArguments(f);
  return k;
}

void KernelEmitter::bindArguments(Function *f) {
  if (!inOpFunction_) {
    setArguments(f);
    return;
  }
  params = optState = scratch = x = y = out = nullptr;
  n = f->getArg(0);
  step = f->getArg(1);
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
    const std::function<void(KernelEmitter &, Value *, Value *)> &body,
    bool sweep, Value *sharedBuffer) {
  Module &mod = *fn_->getParent();
  LLVMContext &ctx = mod.getContext();
  llvm::Type *ptr = PointerType::getUnqual(ctx);
  llvm::Type *intTy = b.getInt64Ty();
  // This function's arguments, in a struct on the stack that workers
  // read, filled at its top; with a shared buffer, a struct of their own
  // filled here, the buffer's pointer after the arguments.
  FunctionType *fty = fn_->getFunctionType();
  std::vector<llvm::Type *> fields(fty->param_begin(), fty->param_end());
  if (sharedBuffer)
    fields.push_back(ptr);
  StructType *argsType = StructType::get(ctx, fields);
  Value *context = context_;
  if (sharedBuffer) {
    IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    context = entry.CreateAlloca(argsType);
    for (unsigned i = 0; i < fty->getNumParams(); ++i)
      b.CreateStore(fn_->getArg(i), b.CreateStructGEP(argsType, context, i));
    b.CreateStore(sharedBuffer,
                  b.CreateStructGEP(argsType, context, fty->getNumParams()));
  } else if (!context_) {
    IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    context = context_ = entry.CreateAlloca(argsType);
    for (unsigned i = 0; i < fty->getNumParams(); ++i)
      entry.CreateStore(fn_->getArg(i),
                        entry.CreateStructGEP(argsType, context_, i));
  }
  std::string name =
      fn_->getName().str() + ".part" + std::to_string(parallelLoops_++);

  // The range: void body(<this function's arguments>, i64 begin, i64 end),
  // with their attributes (noalias), inlined into the part below: the
  // inliner keeps what noalias said as alias scopes.
  std::vector<llvm::Type *> loopParams = fields;
  loopParams.push_back(intTy);
  loopParams.push_back(intTy);
  Function *loopFn =
      Function::Create(FunctionType::get(b.getVoidTy(), loopParams, false),
                       Function::InternalLinkage, name + ".loop", mod);
  markInternal(loopFn);
  loopFn->addFnAttr(Attribute::AlwaysInline);
  for (unsigned i = 0; i < fty->getNumParams(); ++i) {
    loopFn->getArg(i)->setName(fn_->getArg(i)->getName());
    if (fn_->hasParamAttribute(i, Attribute::NoAlias))
      loopFn->addParamAttr(i, Attribute::NoAlias);
  }
  Argument *begin = loopFn->getArg(unsigned(fields.size()));
  Argument *end = loopFn->getArg(unsigned(fields.size()) + 1);
  begin->setName("begin");
  end->setName("end");
  IRBuilder<> lb(BasicBlock::Create(ctx, "entry", loopFn));
  KernelEmitter k = derived(loopFn, lb);
  if (sharedBuffer) {
    k.shared = loopFn->getArg(fty->getNumParams());
    k.shared->setName("shared");
  }
  k.beginBody();
  body(k, begin, end);
  lb.CreateRetVoid();

  // The part: void part(ptr args, i64 begin, i64 end), as
  // sora_parallel_for calls it.
  FunctionType *partType =
      FunctionType::get(b.getVoidTy(), {ptr, intTy, intTy}, false);
  Function *part =
      Function::Create(partType, Function::InternalLinkage, name, mod);
  markInternal(part);
  part->getArg(0)->setName("args");
  part->getArg(1)->setName("begin");
  part->getArg(2)->setName("end");
  IRBuilder<> pb(BasicBlock::Create(ctx, "entry", part));
  std::vector<Value *> args;
  for (unsigned i = 0; i < fields.size(); ++i)
    args.push_back(pb.CreateLoad(
        argsType->getElementType(i),
        pb.CreateStructGEP(argsType, part->getArg(0), i),
        i < fty->getNumParams() ? fn_->getArg(i)->getName() : "shared"));
  args.push_back(part->getArg(1));
  args.push_back(part->getArg(2));
  pb.CreateCall(loopFn, args);
  pb.CreateRetVoid();

  FunctionCallee parallelFor = mod.getOrInsertFunction(
      sweep ? "sora_parallel_sweep" : "sora_parallel_for", b.getVoidTy(), ptr,
      ptr, intTy, intTy);
  b.CreateCall(parallelFor, {part, context, count, work});
  ++loopNests;
}

void KernelEmitter::opFunction(
    const std::string &name, const std::function<void(KernelEmitter &)> &body) {
  if (inOpFunction_)
    throw std::logic_error("an op function inside an op function");
  Module &mod = *fn_->getParent();
  LLVMContext &ctx = mod.getContext();

  // Which buffers the op uses, in the order it asks for them: its body
  // emitted once into a probe that is then thrown away, with the functions
  // and constants it made (its parts, a table).
  std::vector<const Node *> used;
  {
    std::set<const GlobalValue *> before;
    for (const Function &f : mod)
      before.insert(&f);
    for (const GlobalVariable &g : mod.globals())
      before.insert(&g);
    Function *probe =
        Function::Create(kernelFunctionType(ctx), Function::InternalLinkage,
                         fn_->getName() + ".probe", mod);
    IRBuilder<> pb(BasicBlock::Create(ctx, "entry", probe));
    KernelEmitter k = derived(probe, pb);
    k.resolveBuffer = [&used](KernelEmitter &e, IRBuilder<> &,
                              const Node *node) -> Value * {
      if (std::find(used.begin(), used.end(), node) == used.end())
        used.push_back(node);
      return e.scratch;
    };
    k.beginBody();
    body(k);
    pb.CreateRetVoid();
    std::vector<Function *> made;
    for (Function &f : mod)
      if (!before.count(&f) && !f.isDeclaration())
        made.push_back(&f);
    for (Function *f : made)
      f->dropAllReferences();
    for (Function *f : made)
      f->eraseFromParent();
    std::vector<GlobalVariable *> tables;
    for (GlobalVariable &g : mod.globals())
      if (!before.count(&g) && g.use_empty())
        tables.push_back(&g);
    for (GlobalVariable *g : tables)
      g->eraseFromParent();
  }

  // This kernel's buffers for them; each that overlaps no other is
  // noalias in the op function.
  std::vector<Value *> args = {n, step};
  std::vector<Region> regions;
  for (const Node *node : used) {
    args.push_back(buffer(node));
    regions.push_back(regionOf(mod, args.back(), node, maxRows));
  }
  std::vector<llvm::Type *> types = {b.getInt64Ty(), b.getInt64Ty()};
  types.insert(types.end(), used.size(), PointerType::getUnqual(ctx));
  Function *op =
      Function::Create(FunctionType::get(b.getVoidTy(), types, false),
                       Function::InternalLinkage, name, mod);
  markInternal(op);
  // Kept a call: inlined, it would be copied back into every kernel.
  op->addFnAttr(Attribute::NoInline);
  op->getArg(0)->setName("n");
  op->getArg(1)->setName("step");
  for (size_t i = 0; i < used.size(); ++i)
    op->getArg(unsigned(2 + i))->setName(used[i]->name);
  for (size_t i = 0; i < used.size(); ++i) {
    bool alone = true;
    for (size_t j = 0; j < used.size(); ++j)
      alone &= i == j || !overlap(regions[i], regions[j]);
    if (alone)
      op->addParamAttr(unsigned(2 + i), Attribute::NoAlias);
  }

  IRBuilder<> ob(BasicBlock::Create(ctx, "entry", op));
  KernelEmitter k = derived(op, ob, &used);
  k.beginBody();
  body(k);
  ob.CreateRetVoid();
  loopNests += k.loopNests;
  b.CreateCall(op, args);
}

} // namespace sora::ir
