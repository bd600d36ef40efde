//===- Descriptor.cpp - The sora_model_desc constant of a model -----------===//
//
// The runtime learns everything about a model from one constant: its sizes,
// its tensors, its train block and its kernels. The constants follow
// RuntimeContract.def field by field, and each is checked against it.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/Descriptor.h"

#include "CodeGen/RuntimeContract.h"
#include "IR/BuildGraph.h"
#include "sora/runtime.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>

#include <stdexcept>

namespace sora::ir {

using namespace llvm;

namespace {

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
  /// A constant of runtime struct `s`, its fields in RuntimeContract.def's
  /// order.
  Constant *record(RuntimeStruct s, const std::vector<Constant *> &fields) {
    Constant *c = ConstantStruct::getAnon(ctx_, fields);
    if (c->getType() != runtimeStructType(ctx_, s))
      throw std::logic_error("a descriptor constant does not follow "
                             "RuntimeContract.def");
    return c;
  }

private:
  Module &mod_;
  LLVMContext &ctx_;
  PointerType *ptr_;
  llvm::Type *i64_;
};

/// A sora_data_spec; several label columns become a private array.
Constant *dataSpec(DescriptorBuilder &d, Module &mod,
                   const dsl::DataSource &s) {
  bool csv = s.kind == dsl::DataSource::Csv;
  bool idx = s.kind == dsl::DataSource::Idx;
  Constant *columns = d.null();
  int64_t numColumns = s.labelColumns.size() > 1 ? s.labelColumns.size() : 0;
  if (numColumns) {
    auto *data = ConstantDataArray::get(mod.getContext(),
                                        ArrayRef<int64_t>(s.labelColumns));
    columns =
        new GlobalVariable(mod, data->getType(), true,
                           GlobalValue::PrivateLinkage, data, ".label_columns");
  }
  return d.record(
      RuntimeStruct::sora_data_spec,
      {idx ? d.str(s.images) : d.null(),
       idx && !s.labels.empty() ? d.str(s.labels) : d.null(),
       d.f64(s.present() ? s.scale : 1), d.i64(s.onehot), d.i64(csv ? 1 : 0),
       csv ? d.str(s.path) : d.null(), d.i64(s.labelColumn), d.i64(numColumns),
       columns, d.i64(s.targetInput ? SORA_TARGET_INPUT : SORA_TARGET_LABELS),
       d.i64(s.scaling == dsl::DataSource::Standardize ? SORA_SCALE_STANDARDIZE
             : s.scaling == dsl::DataSource::Normalize ? SORA_SCALE_NORMALIZE
                                                       : SORA_SCALE_NONE)});
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
    descs.push_back(
        d.record(RuntimeStruct::sora_param_desc,
                 {d.str(s.name), d.i64(s.offset), d.i64(s.type.elements()),
                  d.i64(s.type.dims.size()), shape[0], shape[1], shape[2],
                  shape[3], d.i64(int64_t(s.init)), d.i64(s.fanIn),
                  d.i64(s.fanOut), d.f64(s.initScale)}));
  }
  if (descs.empty())
    return d.null();
  auto *type = ArrayType::get(descs[0]->getType(), descs.size());
  return new GlobalVariable(mod, type, true, GlobalValue::PrivateLinkage,
                            ConstantArray::get(type, descs), name);
}

/// A private array of sora_input_desc (null when empty).
Constant *inputDescArray(DescriptorBuilder &d, Module &mod,
                         const std::vector<InputDesc> &inputs,
                         const std::string &name) {
  if (inputs.empty())
    return d.null();
  std::vector<Constant *> descs;
  for (const InputDesc &in : inputs)
    descs.push_back(d.record(RuntimeStruct::sora_input_desc,
                             {d.str(in.name), d.i64(in.offset), d.i64(in.size),
                              d.i64(in.integer ? 1 : 0), d.i64(in.idLimit)}));
  auto *type = ArrayType::get(descs[0]->getType(), descs.size());
  return new GlobalVariable(mod, type, true, GlobalValue::PrivateLinkage,
                            ConstantArray::get(type, descs),
                            name + "_inputs_desc");
}

/// The train block's early stopping as a private sora_early_stopping (null
/// without).
Constant *earlyStopping(DescriptorBuilder &d, Module &mod,
                        const dsl::EarlyStopping &es, const std::string &name) {
  if (!es.enabled)
    return d.null();
  Constant *c = d.record(RuntimeStruct::sora_early_stopping,
                         {d.str(es.monitor), d.i64(es.patience),
                          d.f64(es.minDelta), d.i64(es.restoreBest ? 1 : 0)});
  return new GlobalVariable(mod, c->getType(), true,
                            GlobalValue::PrivateLinkage, c,
                            name + "_early_stopping");
}

/// reduce_on_plateau's rule as a private sora_plateau (null for another
/// learning rate).
Constant *plateau(DescriptorBuilder &d, Module &mod, const CompiledModel &cm,
                  const dsl::Schedule &s, const std::string &name) {
  const ParamSlot *r = cm.layout.find(kLrReductions);
  if (s.kind != dsl::Schedule::Plateau || !r)
    return d.null();
  Constant *c =
      d.record(RuntimeStruct::sora_plateau,
               {d.str(s.monitor), d.i64(s.patience), d.f64(s.minDelta),
                d.i64(s.cooldown), d.f64(s.initial), d.f64(s.factor),
                d.f64(s.final), d.i64(r->offset)});
  return new GlobalVariable(mod, c->getType(), true,
                            GlobalValue::PrivateLinkage, c, name + "_plateau");
}

/// The --profile rows as a private array of strings (null when none).
Constant *profileRowArray(DescriptorBuilder &d, Module &mod,
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

std::vector<InputDesc> inputDescs(const CompiledModel &cm) {
  const dsl::Model &model = *cm.model;
  std::vector<InputSlots> slots = packedInputs(model);
  std::vector<InputDesc> descs;
  for (size_t k = 0; k < slots.size(); ++k) {
    int id = model.inputs[k];
    const dsl::Node &in = model.nodes[id];
    // Ids must fit every embedding that reads them.
    int64_t limit = 0;
    for (const dsl::Node &n : model.nodes)
      if (n.kind == dsl::Node::Embedding && n.inputs[0] == id)
        limit = limit ? std::min(limit, n.vocab) : n.vocab;
    descs.push_back(
        {in.name, slots[k].offset, slots[k].size, in.integer, limit});
  }
  return descs;
}

int64_t lossKind(dsl::LossKind loss) {
  switch (loss) {
  case dsl::LossKind::CategoricalCrossentropy:
    return SORA_LOSS_CATEGORICAL_CROSSENTROPY;
  case dsl::LossKind::SparseCategoricalCrossentropy:
    return SORA_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  case dsl::LossKind::BinaryCrossentropy:
    return SORA_LOSS_BINARY_CROSSENTROPY;
  case dsl::LossKind::MeanSquaredError:
    return SORA_LOSS_MEAN_SQUARED_ERROR;
  case dsl::LossKind::MeanAbsoluteError:
    return SORA_LOSS_MEAN_ABSOLUTE_ERROR;
  case dsl::LossKind::Huber:
    return SORA_LOSS_HUBER;
  }
  throw std::logic_error("a loss without a sora_loss_kind");
}

ModelSizes modelSizes(const CompiledModel &cm) {
  const dsl::Model &model = *cm.model;
  ModelSizes sizes;
  const InputSlots last = packedInputs(model).back();
  sizes.input = last.offset + last.size; // the slots of a packed sample row
  for (int64_t dim : model.nodes[model.output].shape)
    sizes.output *= dim;
  sizes.label = sizes.output;
  if (cm.train)
    for (Node *n : cm.train->inputs())
      if (n->name == "labels")
        sizes.label = n->type.elements();
  return sizes;
}

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

GlobalVariable *emitDescriptor(Module &mod, const CompiledModel &cm,
                               const ModelKernels &kernels, bool baked,
                               const std::vector<std::string> &profileRows) {
  const dsl::Model &model = *cm.model;
  const std::string &name = cm.symbolPrefix();
  DescriptorBuilder d(mod);
  Constant *paramArray =
      baked ? d.null()
            : paramDescs(d, mod, cm.layout.weights, name + "_params_desc");
  Constant *stateArray =
      paramDescs(d, mod, cm.layout.state, name + "_state_desc");
  const ModelSizes sizes = modelSizes(cm);
  const dsl::TrainConfig defaults;
  const dsl::TrainConfig &t = model.train ? *model.train : defaults;
  auto fnOrNull = [&](Function *f) -> Constant * { return f ? f : d.null(); };
  const std::vector<InputDesc> inputs = inputDescs(cm);
  // The fields in RuntimeContract.def's order (string constants are named
  // in the order they are made).
  Constant *desc =
      d.record(RuntimeStruct::sora_model_desc,
               {d.str(model.name),
                d.str(cm.sourceDir),
                d.i64(sizes.input),
                d.i64(sizes.output),
                d.i64(sizes.label),
                d.i64(baked ? 0 : cm.layout.weightFloats),
                d.i64(cm.layout.stateFloats),
                d.i64(scratchBytes(cm)),
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
                      (t.metricMae ? 4 : 0) | (t.metricRmse ? 8 : 0) |
                      (t.topK ? SORA_METRIC_TOP_K_ACCURACY : 0) |
                      (t.metricPrecision ? SORA_METRIC_PRECISION : 0) |
                      (t.metricRecall ? SORA_METRIC_RECALL : 0) |
                      (t.metricAuc ? SORA_METRIC_AUC : 0)),
                d.i64(model.train ? lossKind(t.loss) : 0),
                dataSpec(d, mod, t.data),
                dataSpec(d, mod, t.test),
                fnOrNull(kernels.train),
                fnOrNull(kernels.evaluate),
                kernels.predict,
                d.i64(cm.layout.state.size()),
                stateArray,
                d.i64(modelHash(cm)),
                d.i64(model.train ? accuracyKind(model, t) : 0),
                d.i64(profileRows.size()),
                profileRowArray(d, mod, profileRows, name),
                fnOrNull(kernels.gradStep),
                fnOrNull(kernels.applyUpdate),
                d.i64(kernels.gradStep ? cm.layout.weightFloats : 0),
                d.i64(int64_t(inputs.size())),
                inputDescArray(d, mod, inputs, name),
                earlyStopping(d, mod, t.earlyStopping, name),
                plateau(d, mod, cm, t.optimizer.lr, name),
                dataSpec(d, mod, t.validation)});
  return new GlobalVariable(mod, desc->getType(), true,
                            GlobalValue::ExternalLinkage, desc, name + "_desc");
}

} // namespace sora::ir
