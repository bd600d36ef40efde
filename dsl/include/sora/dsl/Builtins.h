//===- Builtins.h - The built-in operations and their signatures -*- C++
//-*-===//
//
// One table (Builtins.cpp) lists every built-in of language.md with its
// parameters, in order, and what kind of value each takes. The checker binds
// call arguments against it, so arity, argument names and argument kinds are
// checked in one place for every operation.
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
};

struct Param {
  const char *name;
  ParamKind kind;
  bool required;
};

enum class BuiltinGroup { Layer, Activation, ShapeOrPooling, Regularisation };

struct Builtin {
  const char *name;
  BuiltinGroup group;
  std::vector<Param> params;
  bool implemented; ///< false: reserved by language.md, not compiled yet
};

/// The built-in named `name`, or nullptr.
const Builtin *lookupBuiltin(const std::string &name);
/// Every built-in's name, for "did you mean" suggestions.
const std::vector<std::string> &builtinNames();

} // namespace sora::dsl
