//===- ModelCodeGen.cpp - Kernels, descriptor and API of a model
//-----------===//
#include "CodeGen/ModelCodeGen.h"

#include "Autodiff/Autodiff.h"
#include "CodeGen/KernelEmitter.h"
#include "IR/BuildGraph.h"
#include "IR/OpRules.h"
#include "Transforms/Passes.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
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

CompiledModel buildModelGraphs(const dsl::Model &model,
                               const std::string &sourceDir,
                               const PipelineOptions &pipeline,
                               bool withTraining) {
  CompiledModel cm;
  cm.model = &model;
  cm.sourceDir = sourceDir;
  cm.maxBatch = model.train ? model.train->batchSize : 64;
  cm.predict = buildPredictGraph(model);
  cm.layout.addParams(*cm.predict);
  if (model.train && withTraining) {
    cm.evaluate = buildEvalGraph(model);
    cm.train = buildTrainGraph(model, *model.train);
    cm.layout.addParams(*cm.train);
    cm.dataParallel =
        buildTrainGraph(model, *model.train, /*gradientOutputs=*/true);
  }
  for (Graph *g : {cm.predict.get(), cm.evaluate.get(), cm.train.get(),
                   cm.dataParallel.get()}) {
    if (!g)
      continue;
    g->maxBatch = cm.maxBatch;
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

namespace {

/// Which ops of a graph a kernel runs: all of them, all but the fused
/// optimizer update (grad_step: the gradients stay in scratch), or only
/// that update (apply_update: no samples, no loss).
enum class KernelPart { Whole, Gradients, Update };

/// Emits one kernel function for `g`.
Function *emitKernel(CompiledModel &cm, Graph &g, const std::string &fnName,
                     Module &mod, bool isPredict,
                     KernelPart part = KernelPart::Whole) {
  LLVMContext &ctx = mod.getContext();
  llvm::Type *ptr = PointerType::getUnqual(ctx);
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  FunctionType *fty =
      FunctionType::get(llvm::Type::getVoidTy(ctx),
                        {ptr, ptr, ptr, ptr, ptr, i64, i64, ptr}, false);
  Function *fn = Function::Create(fty, Function::InternalLinkage, fnName, mod);
  const char *argNames[] = {"params", "opt_state", "scratch", "x",
                            "y",      "n",         "step",    "out"};
  for (unsigned i = 0; i < 8; ++i) {
    fn->getArg(i)->setName(argNames[i]);
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
  k.vectorWidth = cm.vectorWidth;
  // An inference build reads its baked weights, not the instance's.
  k.params = cm.bakedWeights ? static_cast<Value *>(cm.bakedWeights)
                             : static_cast<Value *>(fn->getArg(0));
  k.optState = fn->getArg(1);
  k.scratch = fn->getArg(2);
  k.x = fn->getArg(3);
  k.y = fn->getArg(4);
  k.n = fn->getArg(5);
  k.step = fn->getArg(6);
  k.out = fn->getArg(7);

  const Node *direct = isPredict ? g.output("output") : nullptr;
  ScratchPlan plan = planScratch(g, direct);
  cm.scratchBytes = std::max(cm.scratchBytes, plan.bytes);

  // Buffers: inputs are arguments, params live in their blocks, the rest in
  // scratch; a fused anchor writes through to its group's root buffer. The
  // same set-up runs at the top of each parallel loop's own function.
  k.installBuffers = [&cm, &g, plan, direct](KernelEmitter &e) {
    IRBuilder<> &eb = e.b;
    bool sawSamples = false;
    for (const auto &node : g.nodes()) {
      const Node *n = node.get();
      if (n->op == OpKind::Input) {
        e.setBuffer(n, sawSamples ? e.y : e.x);
        sawSamples = true;
      } else if (n->op == OpKind::Param) {
        const ParamSlot *slot = cm.layout.find(n->name);
        Value *base = n->role == ParamRole::Weight ? e.params : e.optState;
        e.setBuffer(n, eb.CreateInBoundsGEP(eb.getFloatTy(), base,
                                            e.i64(slot->offset), n->name));
      } else if (n == direct) {
        e.setBuffer(n, e.out);
      } else if (auto it = plan.offset.find(n); it != plan.offset.end()) {
        e.setBuffer(n, eb.CreateInBoundsGEP(eb.getInt8Ty(), e.scratch,
                                            e.i64(it->second)));
      }
    }
    for (const FusionGroup &group : g.groups)
      if (group.kind == FusionGroup::Epilogue)
        e.setBuffer(group.anchor, e.buffer(group.root));
  };
  k.installBuffers(k);

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
    auto it = std::find(cm.profileRows.begin(), cm.profileRows.end(), row);
    int64_t id = it - cm.profileRows.begin();
    if (it == cm.profileRows.end())
      cm.profileRows.push_back(row);
    Value *start = b.CreateCall(now);
    emit();
    b.CreateCall(add, {k.i64(id), b.CreateFSub(b.CreateCall(now), start)});
  };

  // Ops in order; a fused group runs at its root. The optimizer update is
  // fused only when the plan laid the gradients out for it.
  for (const auto &node : g.nodes()) {
    const Node *n = node.get();
    const FusionGroup *group = n->group >= 0 ? &g.groups[n->group] : nullptr;
    if (group && group->kind == FusionGroup::OptimizerUpdate && !g.plan)
      group = nullptr;
    bool inUpdate = group && group->kind == FusionGroup::OptimizerUpdate;
    if (!n->operands.empty() && ((part == KernelPart::Gradients && inUpdate) ||
                                 (part == KernelPart::Update && !inUpdate)))
      continue;
    if (!group) {
      if (!n->operands.empty())
        timed(*n, n->phase, [&] { lowering(n->op)(k, *n); });
      else
        lowering(n->op)(k, *n);
    } else if (group->root == n) {
      std::string phase = group->kind == FusionGroup::UpdateEpilogue
                              ? "backward+update"
                              : group->anchor->phase;
      timed(*group->anchor, phase, [&] {
        if (group->kind == FusionGroup::OptimizerUpdate) {
          lowerOptimizerGroup(k, *group, cm.layout.weightFloats);
        } else if (group->kind == FusionGroup::UpdateEpilogue) {
          lowerUpdateGroup(k, *group);
        } else {
          k.setEpilogue(group);
          lowering(group->anchor->op)(k, *group->anchor);
          k.setEpilogue(nullptr);
        }
      });
    }
  }
  if (&g == cm.train.get())
    cm.trainLoopNests = k.loopNests;

  if (!isPredict && part != KernelPart::Update) {
    // out[i], in the order of runtime.h's enum sora_kernel_stat: the
    // batch's sums (means times rows; correct is a count already), 0 for a
    // metric the train block does not ask for.
    Value *count = b.CreateSIToFP(k.n, b.getDoubleTy());
    const std::pair<const char *, bool> stats[] = {
        {"loss", true}, {"correct", false}, {"mae", true}, {"mse", true}};
    for (int i = 0; i < 4; ++i) {
      const Node *result = g.output(stats[i].first);
      Value *v = ConstantFP::get(b.getDoubleTy(), 0.0);
      if (result) {
        v = b.CreateFPExt(k.load(result, k.i64(0)), b.getDoubleTy());
        if (stats[i].second)
          v = b.CreateFMul(v, count);
      }
      b.CreateStore(v, b.CreateInBoundsGEP(b.getDoubleTy(), k.out, k.i64(i)));
    }
  }
  b.CreateRetVoid();
  return fn;
}

/// Builds constants of the runtime's all-8-byte-field structs.
class DescriptorBuilder {
public:
  explicit DescriptorBuilder(Module &mod)
      : mod_(mod), ctx_(mod.getContext()), ptr_(PointerType::getUnqual(ctx_)),
        i64_(llvm::Type::getInt64Ty(ctx_)) {}

  Constant *i64(int64_t v) { return ConstantInt::get(i64_, v); }
  Constant *f64(double v) {
    return ConstantFP::get(llvm::Type::getDoubleTy(ctx_), v);
  }
  Constant *null() { return ConstantPointerNull::get(ptr_); }
  Constant *str(const std::string &s) {
    IRBuilder<> b(ctx_);
    auto *gv =
        new GlobalVariable(mod_, ArrayType::get(b.getInt8Ty(), s.size() + 1),
                           true, GlobalValue::PrivateLinkage,
                           ConstantDataArray::getString(ctx_, s), ".str");
    gv->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
    return gv;
  }
  Constant *optStr(const std::string &s) { return s.empty() ? null() : str(s); }
  /// A struct constant whose field types follow the values.
  Constant *record(const std::vector<Constant *> &fields) {
    return ConstantStruct::getAnon(ctx_, fields);
  }

private:
  Module &mod_;
  LLVMContext &ctx_;
  PointerType *ptr_;
  llvm::Type *i64_;
};

/// A sora_data_spec.
Constant *dataSpec(DescriptorBuilder &d, const dsl::DataSource &s) {
  bool csv = s.kind == dsl::DataSource::Csv;
  return d.record({s.kind == dsl::DataSource::Idx ? d.str(s.images) : d.null(),
                   s.kind == dsl::DataSource::Idx ? d.str(s.labels) : d.null(),
                   d.f64(s.present() ? s.scale : 1), d.i64(s.onehot),
                   d.i64(csv ? 1 : 0), csv ? d.str(s.path) : d.null(),
                   d.i64(s.labelColumn)});
}

/// A private array of sora_param_desc for `slots` (null when empty).
Constant *paramDescs(DescriptorBuilder &d, Module &mod,
                     const std::vector<ParamSlot> &slots,
                     const std::string &name) {
  std::vector<Constant *> descs;
  for (const ParamSlot &s : slots) {
    std::vector<Constant *> shape(4, d.i64(0));
    for (size_t i = 0; i < s.type.dims.size() && i < 4; ++i)
      shape[i] = d.i64(s.type.dims[i]);
    descs.push_back(d.record(
        {d.str(s.name), d.i64(s.offset), d.i64(s.type.elements()),
         d.i64(s.type.dims.size()), shape[0], shape[1], shape[2], shape[3],
         d.i64(int64_t(s.init)), d.i64(s.fanIn), d.i64(s.fanOut)}));
  }
  if (descs.empty())
    return d.null();
  auto *type = ArrayType::get(descs[0]->getType(), descs.size());
  return new GlobalVariable(mod, type, true, GlobalValue::PrivateLinkage,
                            ConstantArray::get(type, descs), name);
}

/// The --profile rows as a private array of strings (null when none).
Constant *profileRows(DescriptorBuilder &d, Module &mod,
                      const std::vector<std::string> &rows,
                      const std::string &name) {
  if (rows.empty())
    return d.null();
  std::vector<Constant *> strings;
  for (const std::string &r : rows)
    strings.push_back(d.str(r));
  auto *type = ArrayType::get(strings[0]->getType(), strings.size());
  return new GlobalVariable(mod, type, true, GlobalValue::PrivateLinkage,
                            ConstantArray::get(type, strings),
                            name + "_profile_rows");
}

} // namespace

/// FNV-1a over the model's tensors (names and shapes, state included), so
/// that a checkpoint of a different model is recognised.
int64_t modelHash(const CompiledModel &cm) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string &text) {
    for (unsigned char c : text)
      h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  mix(cm.model->name);
  for (const auto *slots : {&cm.layout.weights, &cm.layout.state})
    for (const ParamSlot &s : *slots)
      mix(s.name + s.type.str());
  return int64_t(h & 0x7fffffffffffffffull);
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

std::unique_ptr<Module> emitModule(CompiledModel &cm, LLVMContext &ctx) {
  if (cm.vectorWidth == 0)
    cm.vectorWidth = hostVectorWidth();
  const dsl::Model &model = *cm.model;
  const std::string &name = cm.symbolPrefix();
  auto mod = std::make_unique<Module>(name, ctx);
  // An inference build's weights: read-only data the kernels read.
  if (!cm.bakedParams.empty()) {
    auto *type =
        ArrayType::get(llvm::Type::getFloatTy(ctx), cm.bakedParams.size());
    auto *weights = new GlobalVariable(
        *mod, type, true, GlobalValue::PrivateLinkage,
        ConstantDataArray::get(ctx, ArrayRef<float>(cm.bakedParams)),
        name + "_weights");
    weights->setAlignment(Align(64));
    cm.bakedWeights = weights;
  }

  Function *predict =
      emitKernel(cm, *cm.predict, name + "_predict_kernel", *mod, true);
  Function *evaluate =
      cm.evaluate
          ? emitKernel(cm, *cm.evaluate, name + "_evaluate_kernel", *mod, false)
          : nullptr;
  Function *train =
      cm.train
          ? emitKernel(cm, *cm.train, name + "_train_step_kernel", *mod, false)
          : nullptr;
  Function *gradStep = nullptr, *applyUpdate = nullptr;
  if (cm.dataParallel) {
    gradStep = emitKernel(cm, *cm.dataParallel, name + "_grad_step_kernel",
                          *mod, false, KernelPart::Gradients);
    applyUpdate =
        emitKernel(cm, *cm.dataParallel, name + "_apply_update_kernel", *mod,
                   false, KernelPart::Update);
  }

  DescriptorBuilder d(*mod);
  bool baked = cm.bakedWeights != nullptr;
  Constant *paramArray =
      baked ? d.null()
            : paramDescs(d, *mod, cm.layout.weights, name + "_params_desc");
  Constant *stateArray =
      paramDescs(d, *mod, cm.layout.state, name + "_state_desc");

  const dsl::Node &in = model.nodes[model.inputs[0]];
  const dsl::Node &out = model.nodes[model.output];
  int64_t inputSize = 1, outputSize = 1;
  for (int64_t dim : in.shape)
    inputSize *= dim;
  for (int64_t dim : out.shape)
    outputSize *= dim;
  const dsl::TrainConfig defaults;
  const dsl::TrainConfig &t = model.train ? *model.train : defaults;
  // Label rows as the kernels read them (class indices are one float).
  int64_t labelSize = outputSize;
  if (cm.train)
    for (Node *n : cm.train->inputs())
      if (n->name == "labels")
        labelSize = n->type.elements();
  auto fnOrNull = [&](Function *f) -> Constant * { return f ? f : d.null(); };
  Constant *desc =
      d.record({d.str(model.name),
                d.str(cm.sourceDir),
                d.i64(inputSize),
                d.i64(outputSize),
                d.i64(labelSize),
                d.i64(baked ? 0 : cm.layout.weightFloats),
                d.i64(cm.layout.stateFloats),
                d.i64(cm.scratchBytes),
                d.i64(cm.maxBatch),
                d.i64(baked ? 0 : cm.layout.weights.size()),
                paramArray,
                d.i64(cm.train ? 1 : 0),
                d.i64(t.batchSize),
                d.i64(t.epochs),
                d.i64(t.seed),
                d.f64(t.validationSplit),
                d.i64(t.shuffle ? 1 : 0),
                d.i64((t.metricLoss ? 1 : 0) | (t.metricAccuracy ? 2 : 0) |
                      (t.metricMae ? 4 : 0) | (t.metricRmse ? 8 : 0)),
                d.i64(model.train ? 1 + int(t.loss) : 0),
                dataSpec(d, t.data),
                dataSpec(d, t.test),
                fnOrNull(train),
                fnOrNull(evaluate),
                predict,
                d.i64(cm.layout.state.size()),
                stateArray,
                d.i64(modelHash(cm)),
                d.i64(model.train ? accuracyKind(model, t) : 0),
                d.i64(cm.profileRows.size()),
                profileRows(d, *mod, cm.profileRows, name),
                fnOrNull(gradStep),
                fnOrNull(applyUpdate),
                d.i64(gradStep ? cm.layout.weightFloats : 0)});
  auto *descVar =
      new GlobalVariable(*mod, desc->getType(), true,
                         GlobalValue::ExternalLinkage, desc, name + "_desc");

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
  emitForward(*mod, name + "_predict", "sora_model_predict",
              FunctionType::get(i32, {ptr, ptr, i64, ptr}, false));
  if (cm.train) {
    emitForward(*mod, name + "_train_step", "sora_model_train_step",
                FunctionType::get(i32, {ptr, ptr, ptr, i64, ptr}, false));
    emitForward(*mod, name + "_evaluate", "sora_model_evaluate",
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
  return mod;
}

/// The C++ wrapper of the generated API: an RAII class that owns an
/// instance and turns errors into exceptions.
std::string cxxWrapper(const std::string &n, bool train, bool baked) {
  std::string c;
  c += "#include <cstddef>\n#include <stdexcept>\n#include <utility>\n\n";
  c += "namespace sora_models {\n\n";
  c += fmt::format("/** Owns a {0} instance; every error throws "
                   "std::runtime_error with the runtime's message. */\n",
                   n);
  c += fmt::format("class {0}_model {{\npublic:\n", n);
  c += fmt::format("  {0}_model() {{ check({0}_create(&m_)); }}\n", n);
  c += fmt::format("  ~{0}_model() {{ {0}_destroy(m_); }}\n", n);
  c += fmt::format("  {0}_model(const {0}_model &) = delete;\n"
                   "  {0}_model &operator=(const {0}_model &) = delete;\n"
                   "  {0}_model({0}_model &&o) noexcept : m_(o.m_) {{ o.m_ = "
                   "nullptr; }}\n"
                   "  {0}_model &operator=({0}_model &&o) noexcept {{\n"
                   "    std::swap(m_, o.m_);\n    return *this;\n  }}\n\n",
                   n);
  c +=
      fmt::format("  void predict(const float *x, std::size_t n, float *y) {{\n"
                  "    check({0}_predict(m_, x, n, y));\n  }}\n",
                  n);
  if (train) {
    c += fmt::format(
        "  float train_step(const float *x, const float *y, std::size_t n) "
        "{{\n    float loss;\n    check({0}_train_step(m_, x, y, n, "
        "&loss));\n    return loss;\n  }}\n"
        "  sora_metrics evaluate(const float *x, const float *y, std::size_t "
        "n) {{\n    sora_metrics out;\n    check({0}_evaluate(m_, x, y, n, "
        "&out));\n    return out;\n  }}\n"
        "  void fit(const char *data_dir = nullptr,\n"
        "           const sora_fit_options *options = nullptr) {{\n"
        "    check({0}_fit(m_, data_dir, options));\n  }}\n",
        n);
  }
  if (!baked)
    c += fmt::format("  void save(const char *path) const {{ "
                     "check({0}_save(m_, path)); }}\n"
                     "  void load(const char *path) {{ check({0}_load(m_, "
                     "path)); }}\n",
                     n);
  c += fmt::format("\n  {0} *get() {{ return m_; }}\n\nprivate:\n"
                   "  static void check(sora_status s) {{\n"
                   "    if (s != SORA_OK)\n"
                   "      throw std::runtime_error(sora_last_error());\n  }}\n"
                   "  {0} *m_ = nullptr;\n}};\n\n}} // namespace "
                   "sora_models\n\n",
                   n);
  return c;
}

std::string emitHeader(const CompiledModel &cm, const std::string &sourcePath) {
  const dsl::Model &m = *cm.model;
  const std::string &n = cm.symbolPrefix();
  std::string upper = n;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const dsl::Node &in = m.nodes[m.inputs[0]];
  const dsl::Node &out = m.nodes[m.output];
  int64_t inputSize = 1, outputSize = 1;
  for (int64_t dim : in.shape)
    inputSize *= dim;
  for (int64_t dim : out.shape)
    outputSize *= dim;
  std::string h;
  h += fmt::format("/* {}.h: generated by sorac from {}. Do not edit. */\n", n,
                   sourcePath);
  h += fmt::format("#ifndef {0}_H\n#define {0}_H\n\n", upper);
  h += "#include <stddef.h>\n#include \"sora/runtime.h\"\n\n";
  h += "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  h += fmt::format("#define {}_INPUT_SIZE {} /* floats per sample, {} */\n",
                   upper, inputSize, in.name);
  h += fmt::format("#define {}_OUTPUT_SIZE {} /* floats per prediction */\n",
                   upper, outputSize);
  bool baked = !cm.bakedParams.empty();
  if (baked)
    h += fmt::format("#define {}_BAKED_WEIGHTS_BYTES {} /* read-only data in "
                     "the object */\n",
                     upper, cm.bakedParams.size() * 4);
  h += fmt::format("#define {}_PARAMS_BYTES {} /* weights and biases an "
                   "instance holds */\n",
                   upper, baked ? 0 : cm.layout.weightFloats * 4);
  h += fmt::format("#define {}_OPT_STATE_BYTES {} /* optimizer state */\n",
                   upper, cm.layout.stateFloats * 4);
  h += fmt::format("#define {}_SCRATCH_BYTES {} /* planned intermediates */\n",
                   upper, cm.scratchBytes);
  h += fmt::format("#define {}_MAX_BATCH {} /* rows per kernel call */\n",
                   upper, cm.maxBatch);
  auto align64 = [](int64_t v) { return (v + 63) / 64 * 64; };
  h += fmt::format(
      "#define {}_MEMORY_BYTES {} /* an instance in the caller's memory "
      "(_create_in) */\n\n",
      upper,
      256 + 64 + align64((baked ? 0 : cm.layout.weightFloats) * 4) +
          align64(cm.layout.stateFloats * 4) + align64(cm.scratchBytes));
  h += fmt::format(
      "/** A model instance (opaque). */\ntypedef struct {0} {0};\n\n", n);
  h += fmt::format("/** What the runtime knows of the model. */\n"
                   "extern const sora_model_desc {}_desc;\n\n",
                   n);
  auto decl = [&](const char *doc, const std::string &proto) {
    h += fmt::format("/** {} */\n{}\n", doc, proto);
  };
  decl(baked ? "Allocates an instance (caller owns); its weights are the "
               "baked ones."
             : "Allocates an instance with freshly initialised weights (caller "
               "owns).",
       fmt::format("sora_status {0}_create({0} **out);", n));
  decl("Creates an instance in the caller's memory (MEMORY_BYTES bytes, kept "
       "alive while used): nothing is allocated, then or by predict, "
       "train_step and evaluate.",
       fmt::format("sora_status {0}_create_in(void *memory, size_t bytes, "
                   "{0} **out);",
                   n));
  decl("Frees an instance (nothing for one made by _create_in).",
       fmt::format("void {0}_destroy({0} *m);", n));
  decl("Writes n predictions (n * OUTPUT_SIZE floats) for n samples.",
       fmt::format("sora_status {0}_predict({0} *m, const float *x, size_t n, "
                   "float *y);",
                   n));
  if (cm.train) {
    decl("One optimizer step on n <= MAX_BATCH samples; *loss (may be NULL) "
         "gets the batch's mean loss.",
         fmt::format("sora_status {0}_train_step({0} *m, const float *x, "
                     "const float *y, size_t n, float *loss);",
                     n));
    decl("Mean loss and metrics (those of the train block) over n samples.",
         fmt::format("sora_status {0}_evaluate({0} *m, const float *x, "
                     "const float *y, size_t n, sora_metrics *out);",
                     n));
    decl("Runs the train block on the data found from data_dir (may be "
         "NULL), from the epoch the instance has reached.",
         fmt::format("sora_status {0}_fit({0} *m, const char *data_dir, "
                     "const sora_fit_options *o);",
                     n));
  }
  if (!baked) {
    decl("Writes the weights (and optimizer state, step, epoch) as "
         "safetensors.",
         fmt::format("sora_status {0}_save(const {0} *m, const char *path);",
                     n));
    decl("Reads a checkpoint written by _save (or a weights-only safetensors "
         "file with the same tensor names and shapes).",
         fmt::format("sora_status {0}_load({0} *m, const char *path);", n));
  }
  h += "\n#ifdef __cplusplus\n}\n\n";
  h += cxxWrapper(n, bool(cm.train), baked);
  h += "#endif\n#endif\n";
  return h;
}

} // namespace sora::ir
