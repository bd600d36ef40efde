//===- Builtins.h - The built-in functions and their signatures -*- C++ -*-===//
//
// One table (Builtins.cpp) lists every built-in of docs/language.md with its
// parameters, in order, and what kind of value each takes: the operations
// of a model, and the optimizers, schedules and data sources of a train
// block. The checker binds call arguments against it, so arity, argument
// names and argument kinds are checked in one place for every function.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <vector>

namespace sora::dsl {

/// What an argument must be.
enum class ParamKind {
  Tensor,      ///< a value of the model
  WholeNumber, ///< a constant expression with a whole value
  Number,      ///< any constant expression
  Activation,  ///< an activation's name, or a call without the input
  Flag,        ///< `true` or `false`
  String,      ///< a string literal
  Padding,     ///< `same` or `valid`
  Dims,        ///< a list of whole numbers
  Rate,        ///< a number or a schedule call
};

struct Param {
  const char *name;
  ParamKind kind;
  bool required;
};

enum class BuiltinGroup {
  Layer,          ///< owns trainable weights
  Activation,     ///< elementwise or softmax
  ShapeOrPooling, ///< flatten, reshape, pooling
  Regularisation, ///< dropout
  Optimizer,      ///< train blocks: optimizer =
  Schedule,       ///< train blocks: a learning rate
  DataSource,     ///< train blocks: data =, test =
};

struct Builtin {
  const char *name;
  BuiltinGroup group;
  std::vector<Param> params;
};

/// The built-in named `name` in `group`'s family (model operations, or one
/// of the train-block groups), or nullptr.
const Builtin *lookupBuiltin(const std::string &name);
const Builtin *lookupTrainFunction(const std::string &name, BuiltinGroup group);
/// The names of the model operations, for "did you mean" suggestions.
const std::vector<std::string> &builtinNames();
/// The names of a train-block group's functions.
std::vector<std::string> trainFunctionNames(BuiltinGroup group);

} // namespace sora::dsl
