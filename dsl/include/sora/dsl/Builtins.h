//===- Builtins.h - The built-in functions and their signatures -*- C++ -*-===//
//
// One table (Builtins.cpp) lists every built-in of docs/language.md: the
// operations of a model, and the optimizers, schedules and data sources of a
// train block. A row is {name, group, {parameters in order}}; a parameter is
// a name, a kind, whether it is required, and for the kinds that have them
// its range, its choices and its default. Builtins.cpp writes them with
// small helpers, one call a parameter:
//
//   {"relu", G::Activation, {tensor("x")}},
//   {"dropout", G::Regularisation, {tensor("x"), number("rate", "[0, 1)")}},
//   {"leaky_relu", G::Activation,
//    {tensor("x"), number("alpha", "[0, 1]", 0.01)}},
//
// A parameter may also be written with plain braces, {"x", K::Tensor, true}:
// the fields past `required` then take their defaults (no range, no
// default). The checker (Sema*.cpp) binds call arguments to these named
// slots and checks each by its kind, so arity, argument names, kinds, ranges
// and defaults, and their diagnostics, are written once for every function.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sora::dsl {

/// Tensors larger than this many floats per sample are refused.
constexpr int64_t kMaxElements = int64_t(1) << 31;

/// What an argument must be; the checker evaluates each kind one way.
enum class ParamKind {
  Tensor,      ///< a value of the model
  WholeNumber, ///< a constant with a whole value, in [min, max]
  Number,      ///< a constant, in the interval min..max (open or closed)
  Activation,  ///< an activation's name, or a call without the input
  Flag,        ///< `true` or `false`
  String,      ///< a non-empty string literal
  Choice,      ///< one of the names in `choices`, e.g. "same|valid"
  Dims,        ///< a list of whole numbers (dimensions)
  Axes,        ///< a list of axes, from 0 (a permutation)
  Rate,        ///< a learning rate in (0, 10], or a schedule call
  Init,        ///< an initialiser's name, or its call: normal(stddev: 0.05)
  Other,       ///< checked by code of its own: a train block's loss,
               ///< optimizer, lr, metrics and data sources (SemaTrain.cpp)
};

struct Param {
  const char *name;
  ParamKind kind;
  bool required;
  /// WholeNumber and Number: the allowed range; open ends exclude the bound.
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool minOpen = false, maxOpen = false;
  /// The value when the argument is not given: WholeNumber, Number, Rate,
  /// Flag (0 or 1).
  double dflt = 0;
  /// Choice: the names, separated by '|', and the one when not given;
  /// Init: the initialiser when not given.
  const char *choices = nullptr;
  const char *dfltChoice = nullptr;
  /// The row's last parameter may repeat: it takes every positional
  /// argument left (concat's tensors).
  bool repeats = false;

  bool bounded() const {
    return min > -std::numeric_limits<double>::infinity() ||
           max < std::numeric_limits<double>::infinity();
  }
};

enum class BuiltinGroup {
  Layer,          ///< owns trainable weights
  Activation,     ///< elementwise or softmax
  ShapeOrPooling, ///< flatten, reshape, pooling
  Regularisation, ///< dropout
  Optimizer,      ///< train blocks: optimizer =
  Schedule,       ///< train blocks: a learning rate
  DataSource,     ///< train blocks: data =, test =
  Callback,       ///< train blocks: early_stopping =
  Initializer,    ///< a layer's init: argument
  Loss,           ///< train blocks: loss =
  Metric,         ///< train blocks: metrics = [...] (those with arguments)
  Combine,        ///< two tensors into one: dot, concat
  TrainBlock,     ///< the keys of a train block
};

struct Builtin {
  const char *name;
  BuiltinGroup group;
  std::vector<Param> params;

  /// The parameter named `name`; a name not in the row is a bug of the
  /// checker and throws std::logic_error.
  const Param &param(const std::string &name) const;
  size_t indexOf(const std::string &name) const;
};

/// The built-in named `name` in `group`'s family (model operations, or one
/// of the train-block groups), or nullptr.
const Builtin *lookupBuiltin(const std::string &name);
const Builtin *lookupTrainFunction(const std::string &name, BuiltinGroup group);
/// The names of the model operations, for "did you mean" suggestions.
const std::vector<std::string> &builtinNames();
/// The names of a group's model operations, in the table's order.
std::vector<std::string> operationNames(BuiltinGroup group);
/// A train block's keys as one row: `batch_size = 64` is bound and checked
/// like the argument `batch_size: 64`, with the same ranges and defaults.
const Builtin &trainBlock();
/// The names of a train-block group's functions.
std::vector<std::string> trainFunctionNames(BuiltinGroup group);

} // namespace sora::dsl
