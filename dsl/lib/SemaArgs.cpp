//===- SemaArgs.cpp - Call arguments: binding, constants and kinds -----===//
#include "SemaImpl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace sora::dsl::sema {

std::optional<Args> Checker::bindArguments(const Builtin &b,
                                           const ast::Call &call,
                                           bool hasChainInput) {
  Args bound(b);
  std::vector<SourceRange> &boundAt = bound.ranges_;
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
      if (next >= b.params.size() && !b.params.empty() &&
          b.params.back().repeats && bound.exprs_.back()) {
        bound.more_.push_back(&arg.value);
        continue;
      }
      if (next >= b.params.size()) {
        size_t most = b.params.size() - first;
        std::string count =
            most == 0 ? "no arguments"
                      : fmt::format("at most {} argument{}", most,
                                    most == 1 ? "" : "s");
        diags_.report(Diag::TooManyArguments, arg.range,
                      fmt::format("{}() takes {}{}", b.name, count,
                                  hasChainInput ? " after its '->' input" : ""));
        ok = false;
        continue;
      }
      index = next++;
    }
    if (bound.exprs_[index]) {
      diags_.report(Diag::DuplicateArgument, arg.range,
                    fmt::format("argument '{}' of {}() is given twice",
                                b.params[index].name, b.name));
      diags_.note(boundAt[index], "first given here");
      ok = false;
      continue;
    }
    bound.exprs_[index] = &arg.value;
    boundAt[index] = arg.range;
  }
  for (size_t i = first; ok && i < b.params.size(); ++i) {
    if (b.params[i].required && !bound.exprs_[i]) {
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

std::vector<const ast::Expr *> Args::exprs(const std::string &name) const {
  std::vector<const ast::Expr *> all;
  if (const ast::Expr *first = expr(name))
    all.push_back(first);
  if (fn_->indexOf(name) + 1 == exprs_.size())
    all.insert(all.end(), more_.begin(), more_.end());
  return all;
}

bool Checker::checkArgs(Args &args) {
  bool ok = true;
  for (size_t i = 0; i < args.exprs_.size(); ++i)
    ok &= checkArg(args, i);
  return ok;
}

bool Checker::checkArg(Args &args, size_t index) {
  const Param &p = args.fn().params[index];
  const ast::Expr *e = args.exprs_[index];
  Args::Value &v = args.values_[index];
  if (!e || p.kind == ParamKind::Tensor || v.index() != 0)
    return true; // not given, the input, or already checked
  auto store = [&](auto value) {
    if (value)
      v = *value;
    return value.has_value();
  };
  switch (p.kind) {
  case ParamKind::Tensor:
    return true;
  case ParamKind::WholeNumber:
    return store(evalWhole(*e, p.name, int64_t(p.min), int64_t(p.max)));
  case ParamKind::Number:
    return store(p.bounded() ? evalInRange(*e, p.name, p.min, p.minOpen, p.max,
                                           p.maxOpen)
                             : evalConstant(*e, p.name));
  case ParamKind::Activation:
    return store(evalActivation(*e));
  case ParamKind::Flag:
    return store(evalFlag(*e));
  case ParamKind::String:
    return store(evalString(*e, p.name));
  case ParamKind::Choice: {
    std::vector<std::string> names;
    for (const char *c = p.choices; *c;) {
      const char *bar = std::strchr(c, '|');
      names.emplace_back(c, bar ? bar - c : std::strlen(c));
      c = bar ? bar + 1 : c + std::strlen(c);
    }
    const ast::Ident *id = asIdent(*e);
    if (id && std::find(names.begin(), names.end(), id->name) != names.end()) {
      v = id->name;
      return true;
    }
    diags_.report(Diag::ArgumentType, e->range,
                  fmt::format("{} must be {}", p.name, joinOr(names, "'")));
    return false;
  }
  case ParamKind::Dims:
    return store(evalDims(*e, args.fn()));
  case ParamKind::Axes:
    return store(evalDims(*e, args.fn(), 0));
  case ParamKind::Rate:
    return store(evalRate(*e));
  case ParamKind::Init:
    return store(evalInit(*e));
  case ParamKind::Other:
    return true;
  }
  return false;
}

std::optional<std::vector<int64_t>>
Checker::evalDims(const ast::Expr &e, const Builtin &fn, int64_t min) {
  const ast::List *list = asList(e);
  if (!list || list->items.empty()) {
    diags_.report(Diag::ArgumentType, e.range,
                  fmt::format("{}() expects a list of dimensions, e.g. "
                              "[28, 28, 1]",
                              fn.name));
    return std::nullopt;
  }
  std::vector<int64_t> dims;
  for (const ast::Expr &item : list->items) {
    auto d = evalWhole(item, min ? "a dimension" : "an axis", min,
                       kMaxElements);
    if (!d)
      return std::nullopt;
    dims.push_back(*d);
    if (product(dims) > kMaxElements)
      break;
  }
  return dims;
}

int64_t Args::whole(const std::string &name) const {
  const int64_t *v = value<int64_t>(name);
  return v ? *v : int64_t(fn_->param(name).dflt);
}

double Args::number(const std::string &name) const {
  const double *v = value<double>(name);
  return v ? *v : fn_->param(name).dflt;
}

bool Args::flag(const std::string &name) const {
  const bool *v = value<bool>(name);
  return v ? *v : fn_->param(name).dflt != 0;
}

std::string Args::text(const std::string &name) const {
  const std::string *v = value<std::string>(name);
  const Param &p = fn_->param(name);
  return v ? *v : p.dfltChoice ? p.dfltChoice : "";
}

Activation Args::activation(const std::string &name) const {
  const Activation *v = value<Activation>(name);
  return v ? *v : Activation{};
}

Schedule Args::rate(const std::string &name) const {
  if (const Schedule *v = value<Schedule>(name))
    return *v;
  Schedule s;
  s.initial = fn_->param(name).dflt;
  return s;
}

/// An Initializer row's initialiser, with its arguments or defaults.
Init initOf(const Args &args) {
  std::string name = args.fn().name;
  if (name == "zeros")
    return {Init::Zeros, 0};
  if (name == "normal")
    return {Init::Normal, args.number("stddev")};
  if (name == "uniform")
    return {Init::Uniform, args.number("limit")};
  return {Init::GlorotUniform, 0};
}

Init Args::init(const std::string &name) const {
  if (const Init *v = value<Init>(name))
    return *v;
  const char *dflt = fn_->param(name).dfltChoice;
  if (!dflt)
    throw std::logic_error(std::string(fn_->name) + "(): no default init");
  return initOf(Args(*lookupTrainFunction(dflt, BuiltinGroup::Initializer)));
}

std::optional<Init> Checker::evalInit(const ast::Expr &e) {
  auto args = trainFunction(e, BuiltinGroup::Initializer, "an initialiser");
  if (!args || !checkArgs(*args))
    return std::nullopt;
  return initOf(*args);
}

std::vector<int64_t> Args::dims(const std::string &name) const {
  const std::vector<int64_t> *v = value<std::vector<int64_t>>(name);
  return v ? *v : std::vector<int64_t>{};
}

Activation activationOf(const Args &args) {
  Activation act{args.fn().name, {}};
  for (const Param &p : args.fn().params)
    if (p.kind == ParamKind::Number)
      act.numbers.emplace_back(p.name, args.number(p.name));
  return act;
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
/// near one of ours (relu6 and relu): guessing would lead nowhere.
bool isForeignActivation(const std::string &name) {
  static const std::vector<std::string> names = {
      "mish",       "softsign", "hard_sigmoid", "hardsigmoid", "hardswish",
      "hard_swish", "relu6",    "prelu",        "exponential"};
  return std::find(names.begin(), names.end(), name) != names.end();
}

void Checker::noteActivations(const std::string &name) {
  if (name == "silu") { // PyTorch's name for x * sigmoid(x)
    diags_.note("'silu' is called 'swish' here");
    return;
  }
  if (!isForeignActivation(name))
    if (auto best = closestMatch(name, activationNames())) {
      diags_.note(fmt::format("did you mean '{}'?", *best));
      return;
    }
  diags_.note(
      fmt::format("'{}' is not in the language; the activations are: {}", name,
                  join(operationNames(BuiltinGroup::Activation))));
}

std::optional<Activation> Checker::evalActivation(const ast::Expr &e) {
  const ast::Ident *id = asIdent(e);
  const ast::Call *call = asCall(e);
  const ast::Ident *name = id ? id : call ? &call->callee : nullptr;
  if (!name) {
    diags_.report(Diag::ArgumentType, e.range,
                  "expected an activation: " + joinOr(activationNames()));
    return std::nullopt;
  }
  if (!isActivation(name->name)) {
    diags_.report(Diag::UnknownActivation, name->range,
                  fmt::format("unknown activation '{}'", name->name));
    noteActivations(name->name);
    return std::nullopt;
  }
  if (!call)
    return activationOf(Args(*lookupBuiltin(name->name)));
  auto args = bindArguments(*lookupBuiltin(name->name), *call,
                            /*hasChainInput=*/true);
  if (!args || !checkArgs(*args))
    return std::nullopt;
  return activationOf(*args);
}

} // namespace sora::dsl::sema
