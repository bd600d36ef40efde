//===- ModelCodeGen.cpp - A model's graphs, kernels and API ---------------===//
//
// The descriptor constant is Descriptor.cpp's, the header HeaderText.cpp's.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/ModelCodeGen.h"

#include "Autodiff/Autodiff.h"
#include "CodeGen/Descriptor.h"
#include "CodeGen/KernelEmitter.h"
#include "CodeGen/RuntimeContract.h"
#include "CodeGen/Target.h"
#include "IR/BuildGraph.h"
#include "IR/OpRules.h"
#include "IR/PhaseTimer.h"
#include "Transforms/Passes.h"
#include "sora/runtime.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>

namespace sora::ir {

using namespace llvm;

namespace {

/// The one OptimizerUpdate group of `g`, or null.
const FusionGroup *optimizerGroup(const Graph &g) {
  for (const FusionGroup &group : g.groups)
    if (group.kind == FusionGroup::OptimizerUpdate)
      return &group;
  return nullptr;
}

} // namespace

/// Can the data-parallel graph be split into grad_step and apply_update:
/// every weight updated by the one loop, its gradient pinned at its own
/// offset at the start of scratch?
bool dataParallelReady(const CompiledModel &cm) {
  const Graph &g = *cm.dataParallel;
  const FusionGroup *group = optimizerGroup(g);
  if (!g.plan || !group || group->chain.size() != cm.layout.weights.size())
    return false;
  std::map<const Node *, int64_t> offset(g.plan->offsets.begin(),
                                         g.plan->offsets.end());
  for (const Node *update : group->chain) {
    const ParamSlot *slot = cm.layout.find(update->operands[0]->name);
    auto it = offset.find(update->operands[1]);
    if (!slot || it == offset.end() || it->second != slot->offset * 4)
      return false;
  }
  return true;
}

CompiledModel
buildModelGraphs(const dsl::Model &model, const std::string &sourceDir,
                 const PipelineOptions &pipeline, ModelGraphs which,
                 const std::function<void(Graph &)> &preparePredict) {
  PhaseTimer timer("build graphs");
  CompiledModel cm;
  cm.model = &model;
  cm.sourceDir = sourceDir;
  cm.maxBatch = model.train ? model.train->batchSize : 64;
  cm.predict = buildPredictGraph(model);
  if (preparePredict)
    preparePredict(*cm.predict);
  cm.layout.addParams(*cm.predict);
  if (model.train && which != ModelGraphs::Predict) {
    cm.evaluate = buildEvalGraph(model);
    cm.train = buildTrainGraph(model, *model.train);
    cm.layout.addParams(*cm.train);
    if (which == ModelGraphs::DataParallel)
      cm.dataParallel =
          buildTrainGraph(model, *model.train, /*gradientOutputs=*/true);
  }
  for (Graph *g : {cm.predict.get(), cm.evaluate.get(), cm.train.get(),
                   cm.dataParallel.get()}) {
    if (!g)
      continue;
    g->maxBatch = cm.maxBatch;
    if (model.train && model.train->bf16)
      roundProductOperands(*g);
    if (g == cm.dataParallel.get()) {
      // An extra graph that --print-ir-after* does not show.
      PipelineOptions quiet = pipeline;
      quiet.printAfterAll = false;
      quiet.printAfter.clear();
      runPipeline(*g, quiet);
    } else {
      runPipeline(*g, pipeline);
    }
    std::string error = verify(*g);
    if (!error.empty())
      throw std::logic_error("invalid graph @" + g->name() + ": " + error);
  }
  if (cm.dataParallel && !dataParallelReady(cm))
    cm.dataParallel.reset();
  return cm;
}

int bakeFrozenWeights(CompiledModel &cm, const std::vector<float> &block,
                      const std::vector<ParamSlot> &slots) {
  auto frozen = [&](const std::string &name) {
    for (Graph *g : {cm.predict.get(), cm.train.get()})
      if (g)
        for (const Node *p : g->params(ParamRole::Frozen))
          if (p->name == name)
            return true;
    return false;
  };
  ParamLayout layout;
  for (const ParamSlot &slot : slots)
    if (frozen(slot.name)) {
      auto first = block.begin() + slot.offset;
      cm.bakedFrozen[slot.name].assign(first, first + slot.type.elements());
      layout.elsewhere.insert(slot.name);
    }
  // As buildModelGraphs lays it out, less the baked weights.
  layout.addParams(*cm.predict);
  if (cm.train)
    layout.addParams(*cm.train);
  cm.layout = layout;
  // grad_step pins gradients at the weights' offsets in the whole block.
  cm.dataParallel.reset();
  return int(layout.elsewhere.size());
}

namespace {

/// Which ops of a graph a kernel runs: all of them, all but the fused
/// optimizer update (grad_step: the gradients stay in scratch), or only
/// that update (apply_update: no samples, no loss).
enum class KernelPart { Whole, Gradients, Update };

/// One kernel of a model: the graph it runs and which part of it.
struct KernelSpec {
  Graph *graph;
  const char *suffix; ///< of its function's name
  bool isPredict;
  KernelPart part;
};

/// The kernels of `cm`, in the order they are emitted.
std::vector<KernelSpec> kernelsOf(const CompiledModel &cm) {
  std::vector<KernelSpec> kernels = {
      {cm.predict.get(), "_predict_kernel", true, KernelPart::Whole}};
  if (cm.evaluate)
    kernels.push_back(
        {cm.evaluate.get(), "_evaluate_kernel", false, KernelPart::Whole});
  if (cm.train)
    kernels.push_back(
        {cm.train.get(), "_train_step_kernel", false, KernelPart::Whole});
  if (cm.dataParallel) {
    kernels.push_back({cm.dataParallel.get(), "_grad_step_kernel", false,
                       KernelPart::Gradients});
    kernels.push_back({cm.dataParallel.get(), "_apply_update_kernel", false,
                       KernelPart::Update});
  }
  return kernels;
}

/// The value a predict kernel writes straight to its caller's output.
const Node *directOutput(const KernelSpec &spec) {
  return spec.isPredict ? spec.graph->output("output") : nullptr;
}

/// What emitting a module's kernels needs and gathers as it goes.
struct ModuleEmission {
  Module &mod;
  int vectorWidth;
  bool bf16Dot;
  bool vnni;
  bool amx;
  /// An inference build's baked weights, one constant per parameter, which
  /// the kernels read instead of an instance's parameters (one a kernel
  /// never reads, an int8 product's f32 weight, leaves the object).
  std::map<std::string, GlobalVariable *> bakedWeights;
  /// --profile: the rows the train step's timings go to.
  std::vector<std::string> profileRows;
  int trainLoopNests = 0;
};

/// A read-only copy of `values`, named `name`, in `mod`.
GlobalVariable *constantArray(Module &mod, ArrayRef<float> values,
                              const std::string &name) {
  return readOnlyData(mod, ConstantDataArray::get(mod.getContext(), values),
                      name);
}

/// `x` rounded to the nearest bfloat16 as round_bf16 does (Formulas.cpp).
float roundToBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits = std::isnan(x) ? (bits | 0x00400000u)
                       : bits + 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  std::memcpy(&x, &bits, 4);
  return x;
}

/// In an inference build, a round_bf16 of a baked weight is a constant:
/// the weight rounded at compile time, which the products read instead of
/// rounding it on every call.
std::map<const Node *, Value *> roundedBakedWeights(const CompiledModel &cm,
                                                    ModuleEmission &em,
                                                    const Graph &g) {
  std::map<const Node *, Value *> out;
  if (cm.bakedParams.empty())
    return out;
  for (const auto &node : g.nodes()) {
    const Node *param = node->operands.empty() ? nullptr : node->operands[0];
    if (node->op != OpKind::RoundBf16 || node->group >= 0 ||
        param->op != OpKind::Param)
      continue;
    const ParamSlot *slot = cm.layout.find(param->name);
    std::vector<float> rounded(cm.bakedParams.begin() + slot->offset,
                               cm.bakedParams.begin() + slot->offset +
                                   param->type.elements());
    for (float &v : rounded)
      v = roundToBf16(v);
    out[node.get()] = constantArray(
        em.mod, rounded, cm.symbolPrefix() + "_" + param->name + "_bf16");
  }
  return out;
}

/// Emits one kernel function.
Function *emitKernel(const CompiledModel &cm, ModuleEmission &em,
                     const KernelSpec &spec) {
  Module &mod = em.mod;
  Graph &g = *spec.graph;
  const bool isPredict = spec.isPredict;
  const KernelPart part = spec.part;
  LLVMContext &ctx = mod.getContext();
  FunctionType *fty = kernelFunctionType(ctx);
  Function *fn = Function::Create(fty, Function::InternalLinkage,
                                  cm.symbolPrefix() + spec.suffix, mod);
  for (unsigned i = 0; i < kNumKernelArgs; ++i) {
    fn->getArg(i)->setName(kKernelArgNames[i]);
    if (fty->getParamType(i)->isPointerTy())
      fn->addParamAttr(i, Attribute::NoAlias);
  }
  fn->addFnAttr(Attribute::NoUnwind);

  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  FastMathFlags fmf;
  fmf.setAllowReassoc();
  fmf.setAllowContract();
  b.setFastMathFlags(fmf);

  KernelEmitter k(fn, b);
  k.vectorWidth = em.vectorWidth;
  k.bf16Dot = em.bf16Dot && em.vectorWidth == 16;
  k.vnni = em.vnni;
  k.amx = em.amx && em.vectorWidth == 16;
  k.maxRows = g.maxBatch;
  k.setArguments(fn);
  // An int8 product reads its weight quantized, packed at compile time.
  std::map<const Node *, Int8Weights> int8;
  if (!cm.bakedParams.empty())
    int8 = packInt8Weights(mod, cm, g);
  k.int8 = &int8;

  const Node *direct = directOutput(spec);
  ScratchPlan plan = planScratch(g, direct);

  // Buffers: inputs are arguments, params live in their blocks, the rest in
  // scratch; a fused anchor writes through to its group's root buffer. Each
  // function of the kernel (parallel parts, outlined ops) resolves those it
  // uses.
  std::map<const Node *, Value * KernelEmitter::*> samples; // x, then y
  for (const auto &node : g.nodes())
    if (node->op == OpKind::Input)
      samples.emplace(node.get(),
                      samples.empty() ? &KernelEmitter::x : &KernelEmitter::y);
  std::map<const Node *, const Node *> rootOf; // a fused anchor's root
  for (const FusionGroup &group : g.groups)
    if (group.kind == FusionGroup::Epilogue)
      rootOf[group.anchor] = group.root;
  std::map<const Node *, Value *> constants = roundedBakedWeights(cm, em, g);
  // An inference build reads its baked weights, not the instance's.
  for (const auto &node : g.nodes())
    if (auto it = em.bakedWeights.find(node->name);
        node->op == OpKind::Param && it != em.bakedWeights.end())
      constants[node.get()] = it->second;
  k.resolveBuffer = [&cm, plan, direct, samples, rootOf,
                     constants](KernelEmitter &e, IRBuilder<> &eb,
                                const Node *n) -> Value * {
    if (auto it = rootOf.find(n); it != rootOf.end())
      return e.buffer(it->second);
    if (auto it = constants.find(n); it != constants.end())
      return it->second;
    if (auto it = samples.find(n); it != samples.end())
      return e.*(it->second);
    if (n->op == OpKind::Param) {
      const ParamSlot *slot = cm.layout.find(n->name);
      Value *base =
          n->role == ParamRole::OptimizerState ? e.optState : e.params;
      return eb.CreateInBoundsGEP(eb.getFloatTy(), base, e.i64(slot->offset),
                                  n->name);
    }
    if (n == direct)
      return e.out;
    if (auto it = plan.offset.find(n); it != plan.offset.end())
      return eb.CreateInBoundsGEP(eb.getInt8Ty(), e.scratch, e.i64(it->second));
    return nullptr;
  };
  for (const auto &node : g.nodes())
    if (node->op == OpKind::Param && node->name == kLrReductions)
      k.lrReductions = node.get();
  k.beginBody();

  // --profile: each op or group of the train step adds its time to its row.
  bool profiling = cm.profile && &g == cm.train.get();
  FunctionCallee now, add;
  if (profiling) {
    now = mod.getOrInsertFunction("sora_profile_now", b.getDoubleTy());
    add = mod.getOrInsertFunction("sora_profile_add", b.getVoidTy(),
                                  b.getInt64Ty(), b.getDoubleTy());
  }
  auto timed = [&](const Node &at, const std::string &phase,
                   const std::function<void()> &emit) {
    if (!profiling || at.layer.empty()) {
      emit();
      return;
    }
    std::string row = at.layer + "\t" + phase;
    auto it = std::find(em.profileRows.begin(), em.profileRows.end(), row);
    int64_t id = it - em.profileRows.begin();
    if (it == em.profileRows.end())
      em.profileRows.push_back(row);
    Value *start = b.CreateCall(now);
    emit();
    b.CreateCall(add, {k.i64(id), b.CreateFSub(b.CreateCall(now), start)});
  };

  // Ops in order, each in an op function (KernelFunctions.cpp) but the
  // fused optimizer update, which walks the kernel's blocks; a fused group
  // runs at its root. The optimizer update is
  // fused only when the plan laid the gradients out for it.
  for (const auto &node : g.nodes()) {
    const Node *n = node.get();
    const FusionGroup *group = n->group >= 0 ? &g.groups[n->group] : nullptr;
    if (group && group->kind == FusionGroup::OptimizerUpdate && !g.plan)
      group = nullptr;
    // Clipping by norm reads the summed gradients: apply_update's.
    bool inUpdate = (group && group->kind == FusionGroup::OptimizerUpdate) ||
                    n->op == OpKind::GradNormScale;
    if (!n->operands.empty() && ((part == KernelPart::Gradients && inUpdate) ||
                                 (part == KernelPart::Update && !inUpdate)))
      continue;
    if (!group) {
      if (!n->operands.empty() && !constants.count(n))
        timed(*n, n->phase, [&] {
          k.opFunction(cm.symbolPrefix() + "." + mnemonic(n->op),
                       [&](KernelEmitter &e) { lowering(n->op)(e, *n); });
        });
    } else if (group->root == n) {
      std::string phase = group->kind == FusionGroup::UpdateEpilogue
                              ? "backward+update"
                              : group->anchor->phase;
      timed(*group->anchor, phase, [&] {
        if (group->kind == FusionGroup::OptimizerUpdate) {
          lowerOptimizerGroup(k, *group, cm.layout.weightFloats);
          return;
        }
        k.opFunction(cm.symbolPrefix() + "." + mnemonic(group->anchor->op),
                     [&](KernelEmitter &e) {
                       if (group->kind == FusionGroup::UpdateEpilogue) {
                         lowerUpdateGroup(e, *group);
                       } else {
                         e.setEpilogue(group);
                         lowering(group->anchor->op)(e, *group->anchor);
                         e.setEpilogue(nullptr);
                       }
                     });
      });
    }
  }
  if (&g == cm.train.get())
    em.trainLoopNests = k.loopNests;
  // A predict whose output is its input (an imported identity: Dropout at
  // inference) computes nothing into `out`: copy the rows.
  if (direct && direct->op == OpKind::Input) {
    if (samples.size() != 1)
      throw std::logic_error("the output is one of several inputs");
    Value *bytes = b.CreateMul(k.n, k.i64(direct->type.elements() * 4));
    b.CreateMemCpy(k.out, MaybeAlign(4), k.x, MaybeAlign(4), bytes);
  }

  if (!isPredict && part != KernelPart::Update) {
    // out[i], in the order of runtime.h's enum sora_kernel_stat: the
    // batch's sums (means times rows; the counts are sums already), 0 for
    // a metric the train block does not ask for.
    Value *count = b.CreateSIToFP(k.n, b.getDoubleTy());
    struct Stat {
      const char *output;
      int64_t first, size; ///< out[first, first + size)
      bool mean;
    };
    const Stat stats[] = {{"loss", SORA_STAT_LOSS, 1, true},
                          {"correct", SORA_STAT_CORRECT, 1, false},
                          {"mae", SORA_STAT_ABS_ERROR, 1, true},
                          {"mse", SORA_STAT_SQUARED_ERROR, 1, true},
                          {"top_k", SORA_STAT_TOP_K_CORRECT, 1, false},
                          {"confusion", SORA_STAT_TRUE_POSITIVES, 3, false},
                          {"auc_histogram", SORA_STAT_AUC_POSITIVES,
                           2 * SORA_AUC_THRESHOLDS, false}};
    for (const Stat &stat : stats) {
      const Node *result = g.output(stat.output);
      if (!result) {
        Value *at =
            b.CreateInBoundsGEP(b.getDoubleTy(), k.out, k.i64(stat.first));
        b.CreateMemSet(at, b.getInt8(0), stat.size * 8, MaybeAlign(8));
        continue;
      }
      k.loop(stat.size, [&](Value *i) {
        Value *v = b.CreateFPExt(k.load(result, i), b.getDoubleTy());
        if (stat.mean)
          v = b.CreateFMul(v, count);
        Value *at = b.CreateInBoundsGEP(b.getDoubleTy(), k.out,
                                        b.CreateAdd(i, k.i64(stat.first)));
        b.CreateStore(v, at);
      });
    }
  }
  b.CreateRetVoid();
  return fn;
}

} // namespace

int64_t scratchBytes(const CompiledModel &cm) {
  int64_t bytes = 0;
  for (const KernelSpec &spec : kernelsOf(cm))
    bytes = std::max(bytes, planScratch(*spec.graph, directOutput(spec)).bytes);
  // The data-parallel step reduces its block in scratch, in place (fit.c):
  // the gradients grad_step leaves there, its stats, a stop request.
  if (cm.dataParallel)
    bytes = std::max(bytes, (cm.layout.weightFloats + SORA_NUM_STATS + 1) * 4);
  return bytes;
}

InstanceMemory instanceMemory(const CompiledModel &cm) {
  auto align64 = [](int64_t v) { return (v + 63) / 64 * 64; };
  InstanceMemory m;
  m.weights = cm.bakedParams.empty() ? align64(cm.layout.weightFloats * 4) : 0;
  m.optimizerState = align64(cm.layout.stateFloats * 4);
  m.scratch = align64(scratchBytes(cm));
  // Several inputs: the _inputs functions' pack buffer of max_batch rows.
  ModelSizes sizes = modelSizes(cm);
  if (packedInputs(*cm.model).size() > 1)
    m.pack = align64(cm.maxBatch * sizes.input * 4);
  return m;
}

namespace {

/// Declares `name` in the runtime and defines `<model>_<suffix>` as a call
/// to it, passing the arguments through (the model handle first).
void emitForward(Module &mod, const std::string &fnName, const char *runtime,
                 FunctionType *fty) {
  Function *target =
      cast<Function>(mod.getOrInsertFunction(runtime, fty).getCallee());
  Function *fn = Function::Create(fty, Function::ExternalLinkage, fnName, mod);
  IRBuilder<> b(BasicBlock::Create(mod.getContext(), "entry", fn));
  std::vector<Value *> args;
  for (Argument &a : fn->args())
    args.push_back(&a);
  CallInst *call = b.CreateCall(target, args);
  call->setTailCall();
  if (fty->getReturnType()->isVoidTy())
    b.CreateRetVoid();
  else
    b.CreateRet(call);
}

/// `fnName(m, input_1, ..., input_k, rest...)`: calls the runtime's
/// `runtime(m, inputs, rest...)` with the k input pointers as an array (a
/// model with several inputs; sora_model_predict_inputs and its kin).
void emitInputsForward(Module &mod, const std::string &fnName,
                       const char *runtime, size_t inputs,
                       FunctionType *runtimeTy) {
  llvm::Type *ptr = PointerType::getUnqual(mod.getContext());
  std::vector<llvm::Type *> params = {ptr};
  params.insert(params.end(), inputs, ptr);
  params.insert(params.end(), runtimeTy->param_begin() + 2,
                runtimeTy->param_end());
  Function *fn = Function::Create(
      FunctionType::get(runtimeTy->getReturnType(), params, false),
      Function::ExternalLinkage, fnName, mod);
  Function *target =
      cast<Function>(mod.getOrInsertFunction(runtime, runtimeTy).getCallee());
  IRBuilder<> b(BasicBlock::Create(mod.getContext(), "entry", fn));
  Value *array = b.CreateAlloca(ArrayType::get(ptr, inputs));
  for (size_t i = 0; i < inputs; ++i)
    b.CreateStore(fn->getArg(1 + i),
                  b.CreateConstInBoundsGEP2_32(ArrayType::get(ptr, inputs),
                                               array, 0, unsigned(i)));
  std::vector<Value *> args = {fn->getArg(0), array};
  for (unsigned i = 1 + inputs; i < fn->arg_size(); ++i)
    args.push_back(fn->getArg(i));
  b.CreateRet(b.CreateCall(target, args));
}

} // namespace

/// The host's vector width in floats.
int hostVectorWidth() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f"))
    return 16;
  if (features.lookup("avx2") || features.lookup("avx"))
    return 8;
  return 4;
}

/// Whether the host has AVX-512 and `feature` (avx512bf16: vdpbf16ps;
/// avx512vnni: vpdpbusd; amx-bf16: tdpbf16ps, which needs amx-tile).
static bool hostHasAvx512(const char *feature) {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  return features.lookup("avx512f") && features.lookup(feature);
}

EmittedModule emitModule(const CompiledModel &cm, LLVMContext &ctx) {
  PhaseTimer timer("lower to LLVM IR");
  const std::string &name = cm.symbolPrefix();
  auto mod = std::make_unique<Module>(name, ctx);
  bool host = cm.vectorWidth == 0;
  ModuleEmission em{*mod,
                    host ? hostVectorWidth() : cm.vectorWidth,
                    host ? hostHasAvx512("avx512bf16") &&
                               bf16PairsPayOn(llvm::sys::getHostCPUName())
                         : cm.bf16Dot,
                    host ? hostHasAvx512("avx512vnni") : cm.vnni,
                    host ? hostHasAvx512("amx-bf16") : cm.amx,
                    /*bakedWeights=*/{},
                    /*profileRows=*/{},
                    /*trainLoopNests=*/0};
  // An inference build's weights, a training build's frozen ones:
  // read-only data the kernels read.
  for (const ParamSlot &slot : cm.layout.weights)
    if (!cm.bakedParams.empty())
      em.bakedWeights[slot.name] =
          constantArray(*mod,
                        ArrayRef<float>(cm.bakedParams)
                            .slice(slot.offset, slot.type.elements()),
                        name + "_" + slot.name);
  for (const auto &[param, values] : cm.bakedFrozen)
    em.bakedWeights[param] = constantArray(*mod, values, name + "_" + param);

  ModelKernels kernels;
  for (const KernelSpec &spec : kernelsOf(cm)) {
    Function *fn = emitKernel(cm, em, spec);
    if (spec.isPredict)
      kernels.predict = fn;
    else if (spec.part == KernelPart::Gradients)
      kernels.gradStep = fn;
    else if (spec.part == KernelPart::Update)
      kernels.applyUpdate = fn;
    else if (spec.graph == cm.train.get())
      kernels.train = fn;
    else
      kernels.evaluate = fn;
  }
  // The kernels are tiled for em.vectorWidth floats. Where that is 512 bits,
  // LLVM must use them too, in the loops it vectorises (matmul_nt's dot
  // products) and in the tiles emitted as vectors, also on CPUs whose tuning
  // prefers 256 bits (Intel's, Sapphire Rapids included): there it split
  // the vectors in two, and the seed's forward products ran on ymm
  // registers at 41 % of the FMA peak.
  if (em.vectorWidth == 16)
    for (Function &f : *mod)
      if (!f.isDeclaration())
        f.addFnAttr("prefer-vector-width", "512");
  bool baked = !cm.bakedParams.empty();
  GlobalVariable *descVar =
      emitDescriptor(*mod, cm, kernels, baked, em.profileRows);

  // The model-prefixed API: thin calls into the runtime.
  llvm::Type *ptr = PointerType::getUnqual(ctx);
  llvm::Type *i32 = llvm::Type::getInt32Ty(ctx);
  // size_t: the API's counts and sizes are pointer-sized (32 bits on Arm).
  llvm::Type *i64 = llvm::Type::getIntNTy(ctx, cm.pointerBits);
  {
    FunctionType *createTy = FunctionType::get(i32, {ptr, ptr}, false);
    Function *target = cast<Function>(
        mod->getOrInsertFunction("sora_model_create", createTy).getCallee());
    Function *fn =
        Function::Create(FunctionType::get(i32, {ptr}, false),
                         Function::ExternalLinkage, name + "_create", *mod);
    IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
    b.CreateRet(b.CreateCall(target, {descVar, fn->getArg(0)}));
  }
  {
    // <model>_create_in(memory, bytes, out): the caller's memory.
    FunctionType *createTy =
        FunctionType::get(i32, {ptr, ptr, i64, ptr}, false);
    Function *target = cast<Function>(
        mod->getOrInsertFunction("sora_model_create_in", createTy).getCallee());
    Function *fn =
        Function::Create(FunctionType::get(i32, {ptr, i64, ptr}, false),
                         Function::ExternalLinkage, name + "_create_in", *mod);
    IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
    b.CreateRet(b.CreateCall(
        target, {descVar, fn->getArg(0), fn->getArg(1), fn->getArg(2)}));
  }
  emitForward(*mod, name + "_destroy", "sora_model_destroy",
              FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false));
  // One pointer per input: a model with several takes them as they are
  // and the runtime packs its sample rows.
  size_t inputs = cm.model->inputs.size();
  auto forwardInputs = [&](const std::string &fnName, const char *runtime,
                           FunctionType *fty) {
    if (inputs == 1)
      emitForward(*mod, fnName, runtime, fty);
    else
      emitInputsForward(*mod, fnName,
                        (runtime + std::string("_inputs")).c_str(), inputs,
                        fty);
  };
  forwardInputs(name + "_predict", "sora_model_predict",
                FunctionType::get(i32, {ptr, ptr, i64, ptr}, false));
  if (cm.train) {
    forwardInputs(name + "_train_step", "sora_model_train_step",
                  FunctionType::get(i32, {ptr, ptr, ptr, i64, ptr}, false));
    forwardInputs(name + "_evaluate", "sora_model_evaluate",
                  FunctionType::get(i32, {ptr, ptr, ptr, i64, ptr}, false));
    emitForward(*mod, name + "_fit", "sora_model_fit",
                FunctionType::get(i32, {ptr, ptr, ptr}, false));
  }
  if (!baked) {
    emitForward(*mod, name + "_save", "sora_model_save",
                FunctionType::get(i32, {ptr, ptr}, false));
    emitForward(*mod, name + "_load", "sora_model_load",
                FunctionType::get(i32, {ptr, ptr}, false));
  }
  return {std::move(mod), em.trainLoopNests};
}

} // namespace sora::ir
