//===- Builtins.cpp - The table of built-in functions ---------------------===//
//
// One row a function: {name, group, {parameters in order}}. Parameters are
// written with the helpers below; a new activation is one row:
//
//   {"relu", G::Activation, {tensor("x")}},
//
// Ranges are written as intervals: "[0, 1)" takes 0 and not 1. A parameter
// given a default is optional; one without is required. The checker takes
// every range, default and diagnostic about arity or argument names from
// here; what a call builds (its node and output shape) is in SemaExpr.cpp.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/Builtins.h"

#include <cstdlib>
#include <stdexcept>

namespace sora::dsl {

namespace {
using K = ParamKind;
using G = BuiltinGroup;

/// A tensor input: the operation's first parameter.
Param tensor(const char *name) { return {name, K::Tensor, true}; }

/// One tensor or more, as the row's last parameter.
Param tensors(const char *name) {
  Param p = tensor(name);
  p.repeats = true;
  return p;
}

/// A whole number from `min` to `max`: required, or with a default.
Param whole(const char *name, int64_t min, int64_t max) {
  return {name, K::WholeNumber, true, double(min), double(max)};
}
Param whole(const char *name, int64_t min, int64_t max, int64_t dflt) {
  Param p = whole(name, min, max);
  p.required = false;
  p.dflt = double(dflt);
  return p;
}

/// A number in `interval`, written "[0, 1)" or "(0, 10]"; "any" for none.
Param number(const char *name, const char *interval) {
  Param p{name, K::Number, true};
  if (std::string(interval) == "any")
    return p;
  char *end;
  p.minOpen = interval[0] == '(';
  p.min = std::strtod(interval + 1, &end);
  p.max = std::strtod(end + 1, &end);
  p.maxOpen = *end == ')';
  return p;
}
Param number(const char *name, const char *interval, double dflt) {
  Param p = number(name, interval);
  p.required = false;
  p.dflt = dflt;
  return p;
}

Param flag(const char *name, bool dflt) {
  Param p{name, K::Flag, false};
  p.dflt = dflt ? 1 : 0;
  return p;
}
/// A string: required, or optional (empty when not given).
Param string(const char *name, bool required = true) {
  return {name, K::String, required};
}
/// One of `choices` ("same|valid"), `dflt` when not given.
Param choice(const char *name, const char *choices, const char *dflt) {
  Param p{name, K::Choice, false};
  p.choices = choices;
  p.dfltChoice = dflt;
  return p;
}
/// An activation, linear when not given.
Param activation(const char *name) { return {name, K::Activation, false}; }
Param dims(const char *name) { return {name, K::Dims, true}; }
Param axes(const char *name) { return {name, K::Axes, true}; }
/// A weight's initialiser (Initializer group), `dflt` when not given
/// (nullptr: the layer's own default, which depends on its size).
Param init(const char *dflt) {
  Param p{"init", K::Init, false};
  p.dfltChoice = dflt;
  return p;
}
/// A learning rate or a schedule, `dflt` when not given.
Param rate(const char *name, double dflt) {
  Param p{name, K::Rate, false};
  p.dflt = dflt;
  return p;
}

/// A learning rate or a schedule that must be given.
Param requiredRate(const char *name) { return {name, K::Rate, true}; }

/// Checked by code of its own (SemaTrain.cpp).
Param other(const char *name) { return {name, K::Other, false}; }
Param required(Param p) {
  p.required = true;
  return p;
}

/// Every layer with weights takes `trainable` (false: its weights are
/// frozen, PyTorch's requires_grad=False), last.
std::vector<Builtin> withTrainable(std::vector<Builtin> table) {
  for (Builtin &b : table)
    if (b.group == G::Layer)
      b.params.push_back(flag("trainable", true));
  return table;
}

// Model operations: the tensor input comes first.
const std::vector<Builtin> &operations() {
  static const std::vector<Builtin> table = withTrainable({
      {"dense",
       G::Layer,
       {tensor("x"), whole("units", 1, kMaxElements), activation("activation"),
        flag("use_bias", true), string("name", false), init("glorot_uniform")}},
      {"conv2d",
       G::Layer,
       {tensor("x"), whole("filters", 1, 1 << 20), whole("kernel", 1, 1 << 16),
        whole("stride", 1, 1 << 16, 1),
        choice("padding", "same|valid", "valid"), activation("activation"),
        string("name", false), init("glorot_uniform")}},
      // conv2d over [time, channels] (Keras' Conv1D).
      {"conv1d",
       G::Layer,
       {tensor("x"), whole("filters", 1, 1 << 20), whole("kernel", 1, 1 << 16),
        whole("stride", 1, 1 << 16, 1),
        choice("padding", "same|valid", "valid"), activation("activation"),
        string("name", false), init("glorot_uniform")}},
      // PyTorch's default for an embedding: N(0, 1).
      {"embedding",
       G::Layer,
       {tensor("ids"), whole("vocab", 1, kMaxElements),
        whole("dim", 1, 1 << 20), init("normal"), string("name", false),
        flag("mask_zero", false)}},
      {"relu", G::Activation, {tensor("x")}},
      {"sigmoid", G::Activation, {tensor("x")}},
      {"tanh", G::Activation, {tensor("x")}},
      {"leaky_relu",
       G::Activation,
       {tensor("x"), number("alpha", "[0, 1]", 0.01)}},
      {"elu", G::Activation, {tensor("x"), number("alpha", "[0, 100]", 1)}},
      {"selu", G::Activation, {tensor("x")}},
      {"gelu", G::Activation, {tensor("x")}},
      {"softplus", G::Activation, {tensor("x")}},
      {"swish", G::Activation, {tensor("x")}},
      {"softmax", G::Activation, {tensor("x")}},
      {"linear", G::Activation, {tensor("x")}},
      {"flatten", G::ShapeOrPooling, {tensor("x")}},
      {"reshape", G::ShapeOrPooling, {tensor("x"), dims("shape")}},
      // numpy's and ONNX's: result axis i is the input's axis perm[i].
      {"transpose", G::ShapeOrPooling, {tensor("x"), axes("perm")}},
      // The stride of a pooling defaults to its size.
      {"maxpool2d",
       G::ShapeOrPooling,
       {tensor("x"), whole("size", 1, 1 << 16),
        whole("stride", 1, 1 << 16, 0)}},
      {"avgpool2d",
       G::ShapeOrPooling,
       {tensor("x"), whole("size", 1, 1 << 16),
        whole("stride", 1, 1 << 16, 0)}},
      // The same over [time, channels]; global pooling over [time, channels]
      // or [h, w, channels] (Keras' GlobalAveragePooling1D/2D, ...).
      {"maxpool1d",
       G::ShapeOrPooling,
       {tensor("x"), whole("size", 1, 1 << 16),
        whole("stride", 1, 1 << 16, 0)}},
      {"avgpool1d",
       G::ShapeOrPooling,
       {tensor("x"), whole("size", 1, 1 << 16),
        whole("stride", 1, 1 << 16, 0)}},
      {"global_maxpool", G::ShapeOrPooling, {tensor("x")}},
      {"global_avgpool", G::ShapeOrPooling, {tensor("x")}},
      // PyTorch's nn.LSTM, nn.GRU and nn.RNN; init: defaults to theirs,
      // uniform(limit: 1 / sqrt(units)) for every weight and bias.
      {"lstm",
       G::Layer,
       {tensor("x"), whole("units", 1, 1 << 16), flag("sequences", false),
        flag("reverse", false), init(nullptr), string("name", false)}},
      {"gru",
       G::Layer,
       {tensor("x"), whole("units", 1, 1 << 16), flag("sequences", false),
        flag("reverse", false), init(nullptr), string("name", false)}},
      {"simple_rnn",
       G::Layer,
       {tensor("x"), whole("units", 1, 1 << 16), activation("activation"),
        flag("sequences", false), flag("reverse", false), init(nullptr),
        string("name", false)}},
      // Normalisation over the last dimension (PyTorch's parameter names);
      // batch_norm's defaults are Keras', layer_norm's epsilon PyTorch's.
      {"layer_norm",
       G::Layer,
       {tensor("x"), number("epsilon", "(0, 1]", 1e-5), string("name", false)}},
      {"batch_norm",
       G::Layer,
       {tensor("x"), number("momentum", "[0, 1)", 0.99),
        number("epsilon", "(0, 1]", 1e-3), string("name", false)}},
      {"dropout", G::Regularisation, {tensor("x"), number("rate", "[0, 1)")}},
      {"dot", G::Combine, {tensor("a"), tensor("b")}},
      {"concat", G::Combine, {tensor("a"), tensors("b")}},
  });
  return table;
}

/// What early stopping and reduce_on_plateau can watch: the names of the
/// epoch lines.
const char *const kMonitors =
    "val_loss|val_accuracy|val_mae|val_rmse|val_top_k_accuracy|val_precision|"
    "val_recall|val_auc|loss|accuracy|mae|rmse|top_k_accuracy|precision|"
    "recall|auc";

// Functions of train blocks. The defaults are Keras'.
const std::vector<Builtin> &trainFunctions() {
  static const std::vector<Builtin> table = {
      {"sgd",
       G::Optimizer,
       {rate("lr", 0.01), number("momentum", "[0, 1)", 0),
        flag("nesterov", false), number("weight_decay", "[0, 1)", 0),
        flag("decay_biases", true), number("clip_norm", "(0, 1e9]", 0),
        number("clip_value", "(0, 1e9]", 0)}},
      {"adam",
       G::Optimizer,
       {rate("lr", 1e-3), number("beta1", "[0, 1)", 0.9),
        number("beta2", "[0, 1)", 0.999), number("epsilon", "(0, 1)", 1e-7),
        number("weight_decay", "[0, 1)", 0), flag("decay_biases", true),
        number("clip_norm", "(0, 1e9]", 0),
        number("clip_value", "(0, 1e9]", 0)}},
      {"rmsprop",
       G::Optimizer,
       {rate("lr", 1e-3), number("rho", "[0, 1)", 0.9),
        number("epsilon", "(0, 1)", 1e-7), number("weight_decay", "[0, 1)", 0),
        flag("decay_biases", true), number("clip_norm", "(0, 1e9]", 0),
        number("clip_value", "(0, 1e9]", 0)}},
      // torch.optim.AdamW's decoupled decay, with its default 0.01 (Keras'
      // is 0.004) and sorac's Adam defaults otherwise.
      {"adamw",
       G::Optimizer,
       {rate("lr", 1e-3), number("beta1", "[0, 1)", 0.9),
        number("beta2", "[0, 1)", 0.999), number("epsilon", "(0, 1)", 1e-7),
        number("weight_decay", "[0, 1)", 0.01), flag("decay_biases", true),
        number("clip_norm", "(0, 1e9]", 0),
        number("clip_value", "(0, 1e9]", 0)}},
      {"exponential_decay",
       G::Schedule,
       {number("initial", "(0, 10]"), number("rate", "(0, 1]"),
        number("steps", "(0, 1e15]")}},
      {"step_decay",
       G::Schedule,
       {number("initial", "(0, 10]"), number("factor", "(0, 1]"),
        whole("every", 1, int64_t(1) << 40)}},
      {"linear_decay",
       G::Schedule,
       {number("initial", "(0, 10]"), number("final", "[0, 10]"),
        whole("steps", 1, int64_t(1) << 40)}},
      // Keras' CosineDecay (without its warmup: warmup() below).
      {"cosine_decay",
       G::Schedule,
       {number("initial", "(0, 10]"), whole("steps", 1, int64_t(1) << 40),
        number("alpha", "[0, 1]", 0)}},
      // A linear ramp to the rate `then` starts with, then `then`.
      {"warmup",
       G::Schedule,
       {whole("steps", 1, int64_t(1) << 40), requiredRate("then")}},
      // Keras' PiecewiseConstantDecay: lists checked in SemaTrain.cpp.
      {"piecewise",
       G::Schedule,
       {required(other("boundaries")), required(other("values"))}},
      // Keras' EarlyStopping (patience 0 and 1 act alike there); the
      // monitors are the epoch lines' names.
      {"early_stopping",
       G::Callback,
       {choice("monitor", kMonitors, "val_loss"),
        whole("patience", 1, 1 << 30, 1), number("min_delta", "[0, 1e30]", 0),
        flag("restore_best", false)}},
      // Keras' ReduceLROnPlateau, from `initial`.
      {"reduce_on_plateau",
       G::Schedule,
       {number("initial", "(0, 10]"), choice("monitor", kMonitors, "val_loss"),
        number("factor", "(0, 1)", 0.1), whole("patience", 1, 1 << 30, 10),
        number("min_delta", "[0, 1e30]", 1e-4),
        whole("cooldown", 0, 1 << 30, 0), number("min_lr", "[0, 10]", 0)}},
      // Initialisers of a layer's weight (init:); PyTorch's normal_ default
      // and Keras' RandomUniform limit.
      {"glorot_uniform", G::Initializer, {}},
      {"zeros", G::Initializer, {}},
      {"normal", G::Initializer, {number("stddev", "(0, 1000]", 1)}},
      {"uniform", G::Initializer, {number("limit", "(0, 1000]", 0.05)}},
      // Losses (Keras' names and defaults); class_weights is a list, one
      // weight per class (SemaLoss.cpp).
      {"categorical_crossentropy",
       G::Loss,
       {number("label_smoothing", "[0, 1)", 0), other("class_weights")}},
      {"sparse_categorical_crossentropy",
       G::Loss,
       {number("label_smoothing", "[0, 1)", 0), other("class_weights")}},
      {"binary_crossentropy",
       G::Loss,
       {number("label_smoothing", "[0, 1)", 0), other("class_weights")}},
      {"mse", G::Loss, {}},
      {"mae", G::Loss, {}},
      {"huber", G::Loss, {number("delta", "(0, 1e6]", 1)}},
      // The metrics with an argument (the others are names: SemaLoss.cpp).
      {"top_k_accuracy", G::Metric, {whole("k", 1, 1 << 20, 5)}},
      // A source's labels are required unless the train block says
      // `target = <input>` (SemaTrain.cpp); label_columns is a list.
      {"idx",
       G::DataSource,
       {string("images"), string("labels", false), number("scale", "any", 1),
        whole("onehot", 2, 1 << 20, 0)}},
      {"csv",
       G::DataSource,
       {string("path"), whole("label_column", 0, 1 << 20, 0),
        number("scale", "any", 1), whole("onehot", 2, 1 << 20, 0),
        other("label_columns"), flag("standardize", false),
        flag("normalize", false)}},
  };
  return table;
}
// The train block's keys, in docs/language.md's order.
const Builtin kTrainBlock = {
    "train",
    G::TrainBlock,
    {other("loss"), other("optimizer"), other("lr"),
     whole("batch_size", 1, 1 << 20, 32), whole("epochs", 1, 1 << 30, 1),
     whole("seed", 0, int64_t(1) << 53, 0),
     number("validation_split", "[0, 1)", 0), flag("shuffle", true),
     other("metrics"), other("data"), other("test"), other("target"),
     other("early_stopping"), other("validation"),
     choice("precision", "f32|bf16", "f32")}};

std::vector<std::string> namesIn(const std::vector<Builtin> &table,
                                 BuiltinGroup group) {
  std::vector<std::string> out;
  for (const Builtin &b : table)
    if (b.group == group)
      out.push_back(b.name);
  return out;
}
} // namespace

size_t Builtin::indexOf(const std::string &name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (name == params[i].name)
      return i;
  throw std::logic_error(std::string(this->name) + "() has no parameter " +
                         name);
}

const Param &Builtin::param(const std::string &name) const {
  return params[indexOf(name)];
}

const Builtin *lookupBuiltin(const std::string &name) {
  for (const Builtin &b : operations())
    if (name == b.name)
      return &b;
  return nullptr;
}

const Builtin &trainBlock() { return kTrainBlock; }

const Builtin *lookupTrainFunction(const std::string &name,
                                   BuiltinGroup group) {
  for (const Builtin &b : trainFunctions())
    if (name == b.name && b.group == group)
      return &b;
  return nullptr;
}

const std::vector<std::string> &builtinNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Builtin &b : operations())
      out.push_back(b.name);
    return out;
  }();
  return names;
}

std::vector<std::string> operationNames(BuiltinGroup group) {
  return namesIn(operations(), group);
}

std::vector<std::string> trainFunctionNames(BuiltinGroup group) {
  return namesIn(trainFunctions(), group);
}

} // namespace sora::dsl
