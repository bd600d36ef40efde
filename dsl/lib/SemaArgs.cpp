//===- SemaArgs.cpp - Call arguments: binding, constants and kinds -----===//
#include "SemaImpl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace sora::dsl::sema {

std::optional<Bound> Checker::bindArguments(const Builtin &b,
                                            const ast::Call &call,
                                            bool hasChainInput) {
  Bound bound(b.params.size(), nullptr);
  std::vector<SourceRange> boundAt(b.params.size());
  size_t first = hasChainInput ? 1 : 0;
  size_t next = first;
  bool ok = true, sawNamed = false;
  for (const ast::Arg &arg : call.args) {
    size_t index;
    if (arg.name) {
      sawNamed = true;
      const std::string &name = arg.name->name;
      auto it = std::find_if(b.params.begin() + first, b.params.end(),
                             [&](const Param &p) { return name == p.name; });
      if (it == b.params.end()) {
        diags_.report(
            Diag::UnknownArgument, arg.name->range,
            fmt::format("{}() has no argument named '{}'", b.name, name));
        std::vector<std::string> names;
        for (size_t i = first; i < b.params.size(); ++i)
          names.push_back(b.params[i].name);
        if (auto best = closestMatch(name, names))
          diags_.note(fmt::format("did you mean '{}'?", *best));
        ok = false;
        continue;
      }
      index = it - b.params.begin();
    } else {
      if (sawNamed) {
        diags_.report(Diag::PositionalAfterNamed, arg.range,
                      "positional argument after a named argument");
        ok = false;
        continue;
      }
      if (next >= b.params.size()) {
        size_t most = b.params.size() - first;
        diags_.report(
            Diag::TooManyArguments, arg.range,
            fmt::format("{}() takes at most {} argument{}{}", b.name, most,
                        most == 1 ? "" : "s",
                        hasChainInput ? " after its '->' input" : ""));
        ok = false;
        continue;
      }
      index = next++;
    }
    if (bound[index]) {
      diags_.report(Diag::DuplicateArgument, arg.range,
                    fmt::format("argument '{}' of {}() is given twice",
                                b.params[index].name, b.name));
      diags_.note(boundAt[index], "first given here");
      ok = false;
      continue;
    }
    bound[index] = &arg.value;
    boundAt[index] = arg.range;
  }
  for (size_t i = first; ok && i < b.params.size(); ++i) {
    if (b.params[i].required && !bound[i]) {
      diags_.report(Diag::MissingArgument, call.range,
                    fmt::format("{}() needs the argument '{}'", b.name,
                                b.params[i].name));
      ok = false;
    }
  }
  if (!ok)
    return std::nullopt;
  return bound;
}

std::optional<double> Checker::evalConstant(const ast::Expr &e,
                                            const char *what) {
  Val v = evalExpr(e);
  if (v.kind == Val::Invalid)
    return std::nullopt;
  if (v.kind != Val::Number) {
    diags_.report(Diag::ArgumentType, e.range,
                  fmt::format("{} must be a constant number", what));
    return std::nullopt;
  }
  return v.number;
}

std::optional<int64_t> Checker::evalWhole(const ast::Expr &e, const char *what,
                                          int64_t min, int64_t max) {
  std::optional<double> v = evalConstant(e, what);
  if (!v)
    return std::nullopt;
  if (*v != std::floor(*v)) {
    diags_.report(Diag::NotWholeNumber, e.range,
                  fmt::format("{} must be a whole number, got {}", what, *v));
    return std::nullopt;
  }
  if (*v < double(min) || *v > double(max)) {
    diags_.report(
        Diag::OutOfRange, e.range,
        fmt::format("{} must be from {} to {}, got {}", what, min, max, *v));
    return std::nullopt;
  }
  return int64_t(*v);
}

std::optional<double> Checker::evalInRange(const ast::Expr &e, const char *what,
                                           double min, bool minOpen, double max,
                                           bool maxOpen) {
  std::optional<double> v = evalConstant(e, what);
  if (!v)
    return std::nullopt;
  bool below = minOpen ? *v <= min : *v < min;
  bool above = maxOpen ? *v >= max : *v > max;
  if (below || above) {
    diags_.report(Diag::OutOfRange, e.range,
                  fmt::format("{} must be in {}{}, {}{}, got {}", what,
                              minOpen ? "(" : "[", min, max,
                              maxOpen ? ")" : "]", *v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Checker::evalFlag(const ast::Expr &e) {
  if (const ast::Ident *id = asIdent(e)) {
    if (id->name == "true")
      return true;
    if (id->name == "false")
      return false;
  }
  diags_.report(Diag::ArgumentType, e.range, "expected 'true' or 'false'");
  return std::nullopt;
}

std::optional<std::string> Checker::evalString(const ast::Expr &e,
                                               const char *what) {
  const ast::String *s = asString(e);
  if (!s || s->value.empty()) {
    diags_.report(Diag::ArgumentType, e.range,
                  fmt::format("{} must be a non-empty string", what));
    return std::nullopt;
  }
  return s->value;
}

/// Activations of other frameworks. One of them is no typo even when it is
/// near one of ours (gelu and relu): guessing would lead nowhere.
bool isForeignActivation(const std::string &name) {
  static const std::vector<std::string> names = {
      "elu",       "selu",       "gelu",     "swish",        "silu",
      "mish",      "softplus",   "softsign", "hard_sigmoid", "hardsigmoid",
      "hardswish", "hard_swish", "relu6",    "prelu",        "exponential"};
  return std::find(names.begin(), names.end(), name) != names.end();
}

void Checker::noteActivations(const std::string &name) {
  if (!isForeignActivation(name))
    if (auto best = closestMatch(name, kActivationNames)) {
      diags_.note(fmt::format("did you mean '{}'?", *best));
      return;
    }
  diags_.note(fmt::format("'{}' is not in the language; the activations are: "
                          "relu, sigmoid, tanh, leaky_relu, softmax, linear",
                          name));
}

std::optional<Activation> Checker::evalActivation(const ast::Expr &e) {
  const ast::Ident *id = asIdent(e);
  const ast::Call *call = asCall(e);
  const ast::Ident *name = id ? id : call ? &call->callee : nullptr;
  if (!name) {
    diags_.report(Diag::ArgumentType, e.range,
                  "expected an activation: linear, relu, sigmoid, tanh, "
                  "leaky_relu or softmax");
    return std::nullopt;
  }
  std::optional<ActivationKind> kind = activationByName(name->name);
  if (!kind) {
    diags_.report(Diag::UnknownActivation, name->range,
                  fmt::format("unknown activation '{}'", name->name));
    noteActivations(name->name);
    return std::nullopt;
  }
  Activation act{*kind};
  if (call) {
    auto bound = bindArguments(*lookupBuiltin(name->name), *call,
                               /*hasChainInput=*/true);
    if (!bound)
      return std::nullopt;
    if (*kind == ActivationKind::LeakyRelu && (*bound)[1]) {
      auto alpha = evalInRange(*(*bound)[1], "alpha", 0, false, 1, false);
      if (!alpha)
        return std::nullopt;
      act.alpha = *alpha;
    }
  }
  return act;
}

} // namespace sora::dsl::sema
