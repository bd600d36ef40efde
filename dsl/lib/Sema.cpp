//===- Sema.cpp - Semantic checks of a .sora file
//--------------------------===//
//
// Walks the AST once per block. A model's statements are evaluated in order:
// each expression evaluates to a constant number or to a node of the model's
// DAG, so constant arithmetic is folded as it is met and every call is bound
// against the built-in table (Builtins.cpp), with its arguments checked by
// kind and its output shape inferred. Train blocks are checked key by key,
// with docs/language.md's defaults for the keys not given.
//
// Errors do not stop the walk: a statement that fails yields an invalid
// value, which later uses accept silently, so each independent mistake is
// reported once. The diagnostic engine prints them in source order.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/Sema.h"

#include "sora/dsl/Builtins.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace sora {

using namespace dsl;
namespace x3 = boost::spirit::x3;

const char *dsl::activationName(ActivationKind kind) {
  static const char *names[] = {"linear", "relu",       "sigmoid",
                                "tanh",   "leaky_relu", "softmax"};
  return names[int(kind)];
}

const char *dsl::lossName(LossKind kind) {
  static const char *names[] = {"categorical_crossentropy",
                                "sparse_categorical_crossentropy",
                                "binary_crossentropy", "mse"};
  return names[int(kind)];
}

namespace {

// Tensors larger than this many floats per sample are refused.
constexpr int64_t kMaxElements = int64_t(1) << 31;

/// The result of evaluating an expression.
struct Val {
  enum Kind { Invalid, Tensor, Number } kind = Invalid;
  int node = -1;
  double number = 0;
  SourceRange range;
};

Node makeNode(Node::Kind kind, std::vector<int> inputs,
              std::vector<int64_t> shape, SourceRange range) {
  Node n;
  n.kind = kind;
  n.inputs = std::move(inputs);
  n.shape = std::move(shape);
  n.range = range;
  return n;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "f32[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

const std::vector<std::string> kActivationNames = {
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "softmax"};

/// "a, b, c": a list for a note.
std::string join(const std::vector<std::string> &names) {
  std::string out;
  for (const std::string &n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::optional<ActivationKind> activationByName(const std::string &name) {
  for (size_t i = 0; i < kActivationNames.size(); ++i)
    if (kActivationNames[i] == name)
      return ActivationKind(i);
  return std::nullopt;
}

/// If `e` is written as a single primary (no arithmetic, no chain), returns
/// it.
const ast::Primary *asSimplePrimary(const ast::Expr &e) {
  if (!e.rest.empty() || !e.first.rest.empty() || e.first.first.negate ||
      !e.first.first.chain.steps.empty())
    return nullptr;
  return &e.first.first.chain.head;
}

const ast::Ident *asIdent(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  return p ? boost::get<ast::Ident>(&p->get()) : nullptr;
}

const ast::Call *asCall(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  if (!p)
    return nullptr;
  auto *fwd = boost::get<x3::forward_ast<ast::Call>>(&p->get());
  return fwd ? &fwd->get() : nullptr;
}

const ast::String *asString(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  return p ? boost::get<ast::String>(&p->get()) : nullptr;
}

const ast::List *asList(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  if (!p)
    return nullptr;
  auto *fwd = boost::get<x3::forward_ast<ast::List>>(&p->get());
  return fwd ? &fwd->get() : nullptr;
}

/// Arguments bound to a function's parameters: per parameter, the
/// expression given for it (or nullptr).
using Bound = std::vector<const ast::Expr *>;

class Checker {
public:
  explicit Checker(DiagnosticEngine &diags) : diags_(diags) {}

  std::optional<Program> run(const ast::File &file);

private:
  // --- models ---------------------------------------------------------------
  void checkModel(const ast::Model &m);
  void checkInput(const ast::InputStmt &s);
  void checkBinding(const ast::Binding &b);
  bool checkNewName(const ast::Ident &name);
  void nameLayers(const std::string &binding, int result);

  Val evalExpr(const ast::Expr &e);
  Val evalProduct(const ast::Product &p);
  Val evalUnary(const ast::Unary &u);
  Val evalChain(const ast::Chain &c);
  Val evalPrimary(const ast::Primary &p);
  Val evalIdent(const ast::Ident &id);
  Val evalNumberLiteral(const ast::Number &n);
  Val evalCall(const ast::Call &call, std::optional<Val> chainInput);
  Val combine(char op, Val lhs, Val rhs, SourceRange where);
  Val affine(Val x, double scale, double shift, SourceRange where);

  // Operations: each returns the new node's index, or -1.
  int applyDense(const ast::Call &call, const Bound &args, int input);
  int applyConv2D(const ast::Call &call, const Bound &args, int input);
  int applyPool(const ast::Call &call, const Bound &args, int input);
  int applyShape(const ast::Call &call, const Bound &args, int input);
  int applyDropout(const ast::Call &call, const Bound &args, int input);
  int applyActivation(const ast::Call &call, const Bound &args, int input);
  bool requireRank(const ast::Call &call, SourceRange where, int input,
                   size_t rank);

  std::optional<Bound> bindArguments(const Builtin &b, const ast::Call &call,
                                     bool hasChainInput);

  // Constants and other argument kinds.
  std::optional<double> evalConstant(const ast::Expr &e, const char *what);
  std::optional<int64_t> evalWhole(const ast::Expr &e, const char *what,
                                   int64_t min, int64_t max);
  std::optional<double> evalInRange(const ast::Expr &e, const char *what,
                                    double min, bool minOpen, double max,
                                    bool maxOpen);
  std::optional<bool> evalFlag(const ast::Expr &e);
  std::optional<std::string> evalString(const ast::Expr &e, const char *what);
  std::optional<Activation> evalActivation(const ast::Expr &e);
  /// The note of an unknown activation: a near name, or the whole list.
  void noteActivations(const std::string &name);
  std::optional<Schedule> evalRate(const ast::Expr &e);
  int addNode(Node node);

  // --- train blocks ---------------------------------------------------------
  void checkTrain(const ast::Train &t, Program &program);
  std::optional<Optimizer> evalOptimizer(const ast::Expr &e,
                                         SourceRange &lrGivenAt);
  std::optional<DataSource> evalData(const ast::Expr &e);
  std::optional<LossKind> evalLoss(const ast::Expr &e);
  void checkLossAgainstModel(const TrainConfig &config, const Model &model,
                             SourceRange lossAt);
  void checkMetrics(const TrainConfig &config, const Model &model,
                    const std::map<std::string, SourceRange> &metricsAt);
  /// A call of a train-block function of `group`, or a bare name (defaults).
  const Builtin *trainFunction(const ast::Expr &e, BuiltinGroup group,
                               const char *what, Bound &args);

  DiagnosticEngine &diags_;
  Model *model_ = nullptr;

  struct NameInfo {
    int node = -1; ///< -1 if its definition failed
    SourceRange range;
    bool used = false;
    bool isInput = false;
  };
  std::map<std::string, NameInfo> names_;        ///< defined so far
  std::map<std::string, SourceRange> definedAt_; ///< every binding of the model
  std::vector<int> bindingLayers_; ///< weighted layers of a binding
  bool hadOutput_ = false;
  SourceRange outputRange_;
  std::string outputName_;
};

std::optional<Program> Checker::run(const ast::File &file) {
  Program program;
  program.sourcePath = diags_.file().path();
  std::map<std::string, SourceRange> modelRanges;
  for (const ast::TopLevel &item : file.items) {
    auto *m = boost::get<ast::Model>(&item.get());
    if (!m)
      continue;
    if (auto it = modelRanges.find(m->name.name); it != modelRanges.end()) {
      diags_.report(Diag::Redefinition, m->name.range,
                    fmt::format("redefinition of model '{}'", m->name.name));
      diags_.note(it->second, "previous definition is here");
      continue;
    }
    modelRanges[m->name.name] = m->name.range;
    program.models.emplace_back();
    model_ = &program.models.back();
    checkModel(*m);
    model_ = nullptr;
  }
  for (const ast::TopLevel &item : file.items)
    if (auto *t = boost::get<ast::Train>(&item.get()))
      checkTrain(*t, program);
  if (program.models.empty() && !diags_.hadErrors()) {
    diags_.report(Diag::NoModel, {0, 0}, "the file defines no model");
    diags_.note("a model starts with: model NAME { input x : f32[...] ... }");
  }
  if (diags_.hadErrors())
    return std::nullopt;
  return program;
}

// ===--- Models ------------------------------------------------------------===

void Checker::checkModel(const ast::Model &m) {
  model_->name = m.name.name;
  model_->range = m.name.range;
  names_.clear();
  definedAt_.clear();
  hadOutput_ = false;
  unsigned errorsBefore = diags_.errorCount();
  // Every name the model defines, so that a use before the definition gets
  // its own diagnostic.
  for (const ast::Statement &s : m.body) {
    const ast::Ident &name = boost::get<ast::InputStmt>(&s.get())
                                 ? boost::get<ast::InputStmt>(s.get()).name
                                 : boost::get<ast::Binding>(s.get()).name;
    definedAt_.emplace(name.name, name.range);
  }
  for (const ast::Statement &s : m.body) {
    if (auto *in = boost::get<ast::InputStmt>(&s.get()))
      checkInput(*in);
    else
      checkBinding(boost::get<ast::Binding>(s.get()));
  }
  if (!hadOutput_) {
    diags_.report(Diag::NoOutput, m.name.range,
                  fmt::format("model '{}' has no output", m.name.name));
    diags_.note(
        "mark the result with 'output', e.g. 'output y = dense(x, 10)'");
  }
  // Unused names, only in a model without errors: a failed expression may
  // have been the one use.
  for (const auto &[name, info] : names_) {
    if (diags_.errorCount() != errorsBefore)
      break;
    if (info.used || info.node < 0 || name == outputName_)
      continue;
    if (info.isInput)
      diags_.report(Diag::UnusedInput, info.range,
                    fmt::format("input '{}' is never used", name));
    else
      diags_.report(Diag::UnusedBinding, info.range,
                    fmt::format("'{}' is bound but never used", name));
  }
}

bool Checker::checkNewName(const ast::Ident &name) {
  if (lookupBuiltin(name.name)) {
    diags_.report(Diag::ShadowsBuiltin, name.range,
                  fmt::format("'{}' is the name of a built-in operation and "
                              "cannot be rebound",
                              name.name));
    return false;
  }
  if (auto it = names_.find(name.name); it != names_.end()) {
    diags_.report(Diag::Redefinition, name.range,
                  fmt::format("redefinition of '{}'", name.name));
    diags_.note(it->second.range, "previous definition is here");
    return false;
  }
  return true;
}

void Checker::checkInput(const ast::InputStmt &s) {
  bool ok = checkNewName(s.name);
  if (s.type.element.name != "f32") {
    diags_.report(Diag::UnknownElementType, s.type.element.range,
                  fmt::format("unknown element type '{}'; v0 has only 'f32'",
                              s.type.element.name));
    ok = false;
  }
  Node node = makeNode(Node::Input, {}, {}, s.name.range);
  node.name = s.name.name;
  int64_t elements = 1;
  for (const ast::Number &d : s.type.dims) {
    Val v = evalNumberLiteral(d);
    if (v.kind != Val::Number) {
      ok = false;
      continue;
    }
    if (v.number != std::floor(v.number) || v.number < 1 ||
        v.number > double(kMaxElements)) {
      diags_.report(Diag::InvalidDimension, d.range,
                    fmt::format("a dimension must be a whole number from 1 "
                                "to {}",
                                kMaxElements));
      ok = false;
      continue;
    }
    node.shape.push_back(int64_t(v.number));
    elements *= node.shape.back();
    if (elements > kMaxElements) {
      diags_.report(Diag::TensorTooLarge, s.type.range,
                    fmt::format("an input of more than {} elements per sample "
                                "is too large",
                                kMaxElements));
      ok = false;
      break;
    }
  }
  if (names_.count(s.name.name))
    return;
  NameInfo info;
  info.range = s.name.range;
  info.isInput = true;
  if (ok) {
    info.node = addNode(node);
    model_->inputs.push_back(info.node);
  }
  names_[s.name.name] = info;
}

void Checker::checkBinding(const ast::Binding &b) {
  bool nameOk = checkNewName(b.name);
  bindingLayers_.clear();
  Val v = evalExpr(b.value);
  if (v.kind == Val::Number) {
    diags_.report(Diag::BindingNotTensor, b.value.range,
                  fmt::format("'{}' is bound to a number; a binding names a "
                              "tensor of the model",
                              b.name.name));
    v = {};
  }
  int node = v.kind == Val::Tensor ? v.node : -1;
  if (b.isOutput) {
    if (hadOutput_) {
      diags_.report(Diag::DuplicateOutput, b.name.range,
                    "a model has exactly one 'output'");
      diags_.note(outputRange_, "the first output is here");
    } else {
      // Even a failed output counts, so "no output" is not reported too.
      hadOutput_ = true;
      outputRange_ = b.name.range;
      outputName_ = b.name.name;
      model_->output = node;
    }
  }
  if (!nameOk)
    return;
  NameInfo info;
  info.range = b.name.range;
  info.node = node;
  names_[b.name.name] = info;
  if (node >= 0)
    nameLayers(b.name.name, node);
}

/// Layer names (docs/language.md): a name: argument wins; the layer that is the
/// binding's last step takes the binding's name; the others are
/// <binding>_<k>, k counting the binding's weighted layers from 1.
void Checker::nameLayers(const std::string &binding, int result) {
  int k = 0;
  for (int id : bindingLayers_) {
    ++k;
    Node &layer = model_->nodes[id];
    if (layer.name.empty())
      layer.name = id == result ? binding : fmt::format("{}_{}", binding, k);
  }
  for (int id : bindingLayers_) {
    for (size_t j = 0; j < model_->nodes.size(); ++j) {
      const Node &other = model_->nodes[j];
      if (int(j) != id && other.hasWeights() &&
          other.name == model_->nodes[id].name) {
        diags_.report(Diag::DuplicateLayerName, model_->nodes[id].range,
                      fmt::format("two layers are named '{}'", other.name));
        diags_.note(other.range, "the other layer is here");
        break;
      }
    }
  }
}

int Checker::addNode(Node node) {
  model_->nodes.push_back(std::move(node));
  return int(model_->nodes.size()) - 1;
}

Val Checker::evalExpr(const ast::Expr &e) {
  Val acc = evalProduct(e.first);
  for (const ast::SumTail &t : e.rest)
    acc = combine(t.op, acc, evalProduct(t.operand),
                  {e.range.begin, t.range.end});
  acc.range = e.range;
  return acc;
}

Val Checker::evalProduct(const ast::Product &p) {
  Val acc = evalUnary(p.first);
  for (const ast::ProductTail &t : p.rest)
    acc =
        combine(t.op, acc, evalUnary(t.operand), {p.range.begin, t.range.end});
  acc.range = p.range;
  return acc;
}

Val Checker::evalUnary(const ast::Unary &u) {
  Val v = evalChain(u.chain);
  if (!u.negate || v.kind == Val::Invalid)
    return v;
  if (v.kind == Val::Number) {
    v.number = -v.number;
    v.range = u.range;
    return v;
  }
  return affine(v, -1, 0, u.range);
}

Val Checker::evalChain(const ast::Chain &c) {
  Val v = evalPrimary(c.head);
  for (const ast::Call &step : c.steps) {
    if (v.kind == Val::Invalid)
      return v;
    if (v.kind == Val::Number) {
      diags_.report(Diag::ArgumentType, step.range,
                    "only a tensor can flow into an operation with '->'");
      return {};
    }
    v = evalCall(step, v);
  }
  return v;
}

Val Checker::evalPrimary(const ast::Primary &p) {
  struct Visitor {
    Checker &c;
    Val operator()(const ast::Number &n) { return c.evalNumberLiteral(n); }
    Val operator()(const ast::String &s) {
      c.diags_.report(Diag::NotAValue, s.range,
                      "a string is not a value of the model");
      return {};
    }
    Val operator()(const ast::Ident &id) { return c.evalIdent(id); }
    Val operator()(const x3::forward_ast<ast::Call> &call) {
      return c.evalCall(call.get(), std::nullopt);
    }
    Val operator()(const x3::forward_ast<ast::List> &list) {
      c.diags_.report(Diag::NotAValue, list.get().range,
                      "a list is not a value of the model");
      return {};
    }
    Val operator()(const x3::forward_ast<ast::Expr> &e) {
      return c.evalExpr(e.get());
    }
  };
  return boost::apply_visitor(Visitor{*this}, p);
}

Val Checker::evalIdent(const ast::Ident &id) {
  if (auto it = names_.find(id.name); it != names_.end()) {
    it->second.used = true;
    if (it->second.node < 0)
      return {}; // its definition failed: already reported
    return {Val::Tensor, it->second.node, 0, id.range};
  }
  if (auto it = definedAt_.find(id.name); it != definedAt_.end()) {
    diags_.report(Diag::UsedBeforeDefinition, id.range,
                  fmt::format("'{}' is used before its definition", id.name));
    diags_.note(it->second, "it is defined here");
    return {};
  }
  if (lookupBuiltin(id.name)) {
    diags_.report(Diag::OperationAsValue, id.range,
                  fmt::format("'{}' is an operation; call it with its input: "
                              "{}(x) or x -> {}",
                              id.name, id.name, id.name));
    return {};
  }
  diags_.report(Diag::UndefinedName, id.range,
                fmt::format("use of undefined name '{}'", id.name));
  std::vector<std::string> candidates;
  for (auto &[name, _] : names_)
    candidates.push_back(name);
  if (auto best = closestMatch(id.name, candidates))
    diags_.note(fmt::format("did you mean '{}'?", *best));
  else if (id.name == "nan" || id.name == "inf")
    diags_.note("numbers are written with digits; nan and inf are not numbers");
  return {};
}

Val Checker::evalNumberLiteral(const ast::Number &n) {
  errno = 0;
  double value = std::strtod(n.text.c_str(), nullptr);
  if (errno == ERANGE && std::fabs(value) < 1)
    value = 0; // underflow: a tiny literal is zero
  else if (errno == ERANGE || !std::isfinite(value)) {
    diags_.report(Diag::NumberTooLarge, n.range,
                  "number is too large to represent");
    return {};
  }
  return {Val::Number, -1, value, n.range};
}

Val Checker::affine(Val x, double scale, double shift, SourceRange where) {
  Node node =
      makeNode(Node::Affine, {x.node}, model_->nodes[x.node].shape, where);
  node.scale = scale;
  node.shift = shift;
  return {Val::Tensor, addNode(node), 0, where};
}

Val Checker::combine(char op, Val lhs, Val rhs, SourceRange where) {
  if (lhs.kind == Val::Invalid || rhs.kind == Val::Invalid)
    return {};
  if (op == '/' && rhs.kind == Val::Number && rhs.number == 0) {
    diags_.report(Diag::DivisionByZero, rhs.range, "division by zero");
    return {};
  }
  if (lhs.kind == Val::Number && rhs.kind == Val::Number) {
    double r = op == '+'   ? lhs.number + rhs.number
               : op == '-' ? lhs.number - rhs.number
               : op == '*' ? lhs.number * rhs.number
                           : lhs.number / rhs.number;
    if (!std::isfinite(r)) {
      diags_.report(Diag::ConstantOverflow, where,
                    "constant expression overflows");
      return {};
    }
    return {Val::Number, -1, r, where};
  }
  // A tensor with a constant: an affine map (or a reciprocal for c / x).
  if (lhs.kind != rhs.kind) {
    bool tensorLeft = lhs.kind == Val::Tensor;
    Val t = tensorLeft ? lhs : rhs;
    double c = tensorLeft ? rhs.number : lhs.number;
    switch (op) {
    case '+':
      return affine(t, 1, c, where);
    case '-':
      return tensorLeft ? affine(t, 1, -c, where) : affine(t, -1, c, where);
    case '*':
      return affine(t, c, 0, where);
    default:
      if (tensorLeft)
        return affine(t, 1 / c, 0, where);
      Node node = makeNode(Node::Reciprocal, {t.node},
                           model_->nodes[t.node].shape, where);
      node.scale = c;
      return {Val::Tensor, addNode(node), 0, where};
    }
  }
  const Node &a = model_->nodes[lhs.node];
  const Node &b = model_->nodes[rhs.node];
  if (a.shape != b.shape) {
    diags_.report(Diag::ShapeMismatch, where,
                  fmt::format("'{}' needs operands of the same shape, got {} "
                              "and {}",
                              op, shapeString(a.shape), shapeString(b.shape)));
    return {};
  }
  Node node = makeNode(Node::Binary, {lhs.node, rhs.node}, a.shape, where);
  node.op = op == '+'   ? BinaryOp::Add
            : op == '-' ? BinaryOp::Sub
            : op == '*' ? BinaryOp::Mul
                        : BinaryOp::Div;
  return {Val::Tensor, addNode(node), 0, where};
}

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

bool Checker::requireRank(const ast::Call &call, SourceRange where, int input,
                          size_t rank) {
  const std::vector<int64_t> &shape = model_->nodes[input].shape;
  if (shape.size() == rank)
    return true;
  diags_.report(Diag::RankMismatch, where,
                fmt::format("{}() expects an input of rank {}, got {}",
                            call.callee.name, rank, shapeString(shape)));
  if (rank == 1) {
    // The fix, in the user's own words: `image -> flatten -> dense(64, ...)`.
    const std::string &text = diags_.file().text();
    auto source = [&](SourceRange r) {
      return text.substr(r.begin, std::min<uint32_t>(r.end - r.begin, 40));
    };
    const Node &in = model_->nodes[input];
    std::string what = where.begin != call.range.begin ? source(where)
                       : in.kind == Node::Input        ? in.name
                                                       : "x";
    size_t first = where.begin != call.range.begin ? 1 : 0;
    std::string arg = call.args.size() > first && !call.args[first].name
                          ? source(call.args[first].range) + ", ..."
                          : "...";
    diags_.note(fmt::format("flatten it first: {} -> flatten -> {}({})", what,
                            call.callee.name, arg));
  } else if (rank == 3) {
    diags_.note("images are f32[height, width, channels]; reshape it first");
  }
  return false;
}

Val Checker::evalCall(const ast::Call &call, std::optional<Val> chainInput) {
  const std::string &name = call.callee.name;
  const Builtin *b = lookupBuiltin(name);
  if (!b) {
    if (names_.count(name) || definedAt_.count(name)) {
      diags_.report(Diag::ValueAsOperation, call.callee.range,
                    fmt::format("'{}' is a value, not an operation", name));
      return {};
    }
    diags_.report(Diag::UnknownOperation, call.callee.range,
                  fmt::format("unknown operation '{}'", name));
    if (isForeignActivation(name)) {
      noteActivations(name);
    } else if (auto best = closestMatch(name, builtinNames())) {
      diags_.note(fmt::format("did you mean '{}'?", *best));
    } else {
      diags_.note(fmt::format("'{}' is not in the language; the operations "
                              "are: {}",
                              name, join(builtinNames())));
    }
    return {};
  }
  auto bound = bindArguments(*b, call, chainInput.has_value());
  if (!bound)
    return {};

  // The tensor input: from the chain, or the first argument.
  Val input = chainInput ? *chainInput : evalExpr(*(*bound)[0]);
  if (input.kind == Val::Invalid)
    return {};
  if (input.kind != Val::Tensor) {
    diags_.report(Diag::ArgumentType, input.range,
                  fmt::format("{}() expects a tensor as its input, got a "
                              "constant",
                              name));
    return {};
  }
  int id = -1;
  switch (b->group) {
  case BuiltinGroup::Layer:
    id = name == "dense" ? applyDense(call, *bound, input.node)
                         : applyConv2D(call, *bound, input.node);
    if (id >= 0)
      bindingLayers_.push_back(id);
    break;
  case BuiltinGroup::Activation:
    id = applyActivation(call, *bound, input.node);
    break;
  case BuiltinGroup::ShapeOrPooling:
    id = name == "flatten" || name == "reshape"
             ? applyShape(call, *bound, input.node)
             : applyPool(call, *bound, input.node);
    break;
  case BuiltinGroup::Regularisation:
    id = applyDropout(call, *bound, input.node);
    break;
  default:
    break;
  }
  if (id < 0)
    return {};
  return {Val::Tensor, id, 0, call.range};
}

/// The range to point at for the tensor input of a call.
SourceRange inputRange(const ast::Call &call, const Bound &args) {
  return args[0] ? args[0]->range : call.range;
}

int Checker::applyDense(const ast::Call &call, const Bound &args, int input) {
  bool ok = requireRank(call, inputRange(call, args), input, 1);
  Node node = makeNode(Node::Dense, {input}, {}, call.range);
  node.unitsRange = args[1]->range;
  if (auto units = evalWhole(*args[1], "units", 1, kMaxElements))
    node.units = *units;
  else
    ok = false;
  if (args[2]) {
    auto act = evalActivation(*args[2]);
    ok &= act.has_value();
    node.activation = act.value_or(Activation{});
  }
  if (args[3]) {
    auto flag = evalFlag(*args[3]);
    ok &= flag.has_value();
    node.useBias = flag.value_or(true);
  }
  if (args[4]) {
    auto s = evalString(*args[4], "name");
    ok &= s.has_value();
    node.name = s.value_or("");
  }
  if (!ok)
    return -1;
  if (model_->nodes[input].shape[0] * node.units > kMaxElements) {
    diags_.report(Diag::TensorTooLarge, call.range,
                  "this layer's weight has too many elements");
    return -1;
  }
  node.shape = {node.units};
  return addNode(node);
}

int Checker::applyConv2D(const ast::Call &call, const Bound &args, int input) {
  bool ok = requireRank(call, inputRange(call, args), input, 3);
  Node node = makeNode(Node::Conv2D, {input}, {}, call.range);
  auto filters = evalWhole(*args[1], "filters", 1, 1 << 20);
  auto kernel = evalWhole(*args[2], "kernel", 1, 1 << 16);
  ok &= filters && kernel;
  if (args[3]) {
    auto stride = evalWhole(*args[3], "stride", 1, 1 << 16);
    ok &= stride.has_value();
    node.stride = stride.value_or(1);
  }
  if (args[4]) {
    const ast::Ident *pad = asIdent(*args[4]);
    if (pad && (pad->name == "same" || pad->name == "valid")) {
      node.samePadding = pad->name == "same";
    } else {
      diags_.report(Diag::ArgumentType, args[4]->range,
                    "padding must be 'same' or 'valid'");
      ok = false;
    }
  }
  if (args[5]) {
    auto act = evalActivation(*args[5]);
    ok &= act.has_value();
    node.activation = act.value_or(Activation{});
  }
  if (args[6]) {
    auto s = evalString(*args[6], "name");
    ok &= s.has_value();
    node.name = s.value_or("");
  }
  if (!ok)
    return -1;
  node.units = *filters;
  node.kernel = *kernel;
  const std::vector<int64_t> &in = model_->nodes[input].shape;
  if (!node.samePadding && (node.kernel > in[0] || node.kernel > in[1])) {
    diags_.report(Diag::KernelTooLarge, args[2]->range,
                  fmt::format("the {0}x{0} kernel does not fit the {1}x{2} "
                              "input without padding",
                              node.kernel, in[0], in[1]));
    diags_.note("use padding: same, or a smaller kernel");
    return -1;
  }
  int64_t h = node.samePadding ? (in[0] + node.stride - 1) / node.stride
                               : (in[0] - node.kernel) / node.stride + 1;
  int64_t w = node.samePadding ? (in[1] + node.stride - 1) / node.stride
                               : (in[1] - node.kernel) / node.stride + 1;
  node.shape = {h, w, node.units};
  if (product(node.shape) > kMaxElements ||
      node.units * node.kernel * node.kernel * in[2] > kMaxElements) {
    diags_.report(Diag::TensorTooLarge, call.range,
                  "this layer's output or weight has too many elements");
    return -1;
  }
  return addNode(node);
}

int Checker::applyPool(const ast::Call &call, const Bound &args, int input) {
  bool ok = requireRank(call, inputRange(call, args), input, 3);
  Node node = makeNode(Node::Pool2D, {input}, {}, call.range);
  node.pool =
      call.callee.name == "maxpool2d" ? PoolKind::Max : PoolKind::Average;
  auto size = evalWhole(*args[1], "size", 1, 1 << 16);
  ok &= size.has_value();
  std::optional<int64_t> stride = size;
  if (args[2]) {
    stride = evalWhole(*args[2], "stride", 1, 1 << 16);
    ok &= stride.has_value();
  }
  if (!ok)
    return -1;
  node.kernel = *size;
  node.stride = *stride;
  const std::vector<int64_t> &in = model_->nodes[input].shape;
  if (node.kernel > in[0] || node.kernel > in[1]) {
    diags_.report(Diag::KernelTooLarge, args[1]->range,
                  fmt::format("the {0}x{0} pooling window does not fit the "
                              "{1}x{2} input",
                              node.kernel, in[0], in[1]));
    return -1;
  }
  node.shape = {(in[0] - node.kernel) / node.stride + 1,
                (in[1] - node.kernel) / node.stride + 1, in[2]};
  return addNode(node);
}

int Checker::applyShape(const ast::Call &call, const Bound &args, int input) {
  const std::vector<int64_t> &in = model_->nodes[input].shape;
  Node node = makeNode(Node::Reshape, {input}, {product(in)}, call.range);
  if (call.callee.name == "reshape") {
    const ast::List *list = asList(*args[1]);
    if (!list || list->items.empty()) {
      diags_.report(Diag::ArgumentType, args[1]->range,
                    "reshape() expects a list of dimensions, e.g. [28, 28, 1]");
      return -1;
    }
    node.shape.clear();
    for (const ast::Expr &item : list->items) {
      auto d = evalWhole(item, "a dimension", 1, kMaxElements);
      if (!d)
        return -1;
      node.shape.push_back(*d);
      if (product(node.shape) > kMaxElements)
        break;
    }
    if (product(node.shape) != product(in)) {
      diags_.report(Diag::ReshapeSize, args[1]->range,
                    fmt::format("cannot reshape {} ({} elements) to {}",
                                shapeString(in), product(in),
                                shapeString(node.shape)));
      return -1;
    }
  }
  return addNode(node);
}

int Checker::applyDropout(const ast::Call &call, const Bound &args, int input) {
  auto rate = evalInRange(*args[1], "rate", 0, false, 1, true);
  if (!rate)
    return -1;
  Node node =
      makeNode(Node::Dropout, {input}, model_->nodes[input].shape, call.range);
  node.rate = *rate;
  return addNode(node);
}

int Checker::applyActivation(const ast::Call &call, const Bound &args,
                             int input) {
  Node node =
      makeNode(Node::Activate, {input}, model_->nodes[input].shape, call.range);
  node.activation.kind = *activationByName(call.callee.name);
  if (node.activation.kind == ActivationKind::LeakyRelu && args[1]) {
    auto alpha = evalInRange(*args[1], "alpha", 0, false, 1, false);
    if (!alpha)
      return -1;
    node.activation.alpha = *alpha;
  }
  if (node.activation.kind == ActivationKind::Softmax &&
      !requireRank(call, inputRange(call, args), input, 1))
    return -1;
  return addNode(node);
}

// ===--- Train blocks
// -------------------------------------------------------===

const std::vector<std::string> kMetricNames = {"accuracy", "loss", "mae",
                                               "rmse"};

const std::vector<std::string> kTrainKeys = {
    "loss", "optimizer",        "lr",      "batch_size", "epochs",
    "seed", "validation_split", "shuffle", "metrics",    "data",
    "test"};

const Builtin *Checker::trainFunction(const ast::Expr &e, BuiltinGroup group,
                                      const char *what, Bound &args) {
  const ast::Call *call = asCall(e);
  const ast::Ident *id = asIdent(e);
  const ast::Ident *name = call ? &call->callee : id;
  const Builtin *f = name ? lookupTrainFunction(name->name, group) : nullptr;
  if (!f) {
    std::vector<std::string> names = trainFunctionNames(group);
    std::string list;
    for (size_t i = 0; i < names.size(); ++i)
      list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    Diag kind = group == BuiltinGroup::Optimizer  ? Diag::UnknownOptimizer
                : group == BuiltinGroup::Schedule ? Diag::UnknownSchedule
                                                  : Diag::UnknownDataSource;
    diags_.report(kind, name ? name->range : e.range,
                  fmt::format("expected {}: {}", what, list));
    if (name)
      if (auto best = closestMatch(name->name, names))
        diags_.note(fmt::format("did you mean '{}'?", *best));
    return nullptr;
  }
  if (!call) {
    args.assign(f->params.size(), nullptr);
    for (const Param &p : f->params)
      if (p.required) {
        diags_.report(
            Diag::MissingArgument, e.range,
            fmt::format("{}() needs the argument '{}'", f->name, p.name));
        return nullptr;
      }
    return f;
  }
  auto bound = bindArguments(*f, *call, false);
  if (!bound)
    return nullptr;
  args = *bound;
  return f;
}

std::optional<Schedule> Checker::evalRate(const ast::Expr &e) {
  Schedule s;
  if (!asCall(e)) {
    auto lr = evalInRange(e, "the learning rate", 0, true, 10, false);
    if (!lr)
      return std::nullopt;
    s.initial = *lr;
    return s;
  }
  Bound args;
  const Builtin *f = trainFunction(e, BuiltinGroup::Schedule,
                                   "a learning rate or a schedule", args);
  if (!f)
    return std::nullopt;
  auto initial = evalInRange(*args[0], "initial", 0, true, 10, false);
  if (!initial)
    return std::nullopt;
  s.initial = *initial;
  std::string name = f->name;
  if (name == "exponential_decay") {
    auto rate = evalInRange(*args[1], "rate", 0, true, 1, false);
    auto steps = evalInRange(*args[2], "steps", 0, true, 1e15, false);
    if (!rate || !steps)
      return std::nullopt;
    s.kind = Schedule::Exponential;
    s.rate = *rate;
    s.steps = *steps;
  } else if (name == "step_decay") {
    auto factor = evalInRange(*args[1], "factor", 0, true, 1, false);
    auto every = evalWhole(*args[2], "every", 1, int64_t(1) << 40);
    if (!factor || !every)
      return std::nullopt;
    s.kind = Schedule::Step;
    s.factor = *factor;
    s.every = double(*every);
  } else {
    auto final = evalInRange(*args[1], "final", 0, false, 10, false);
    auto steps = evalWhole(*args[2], "steps", 1, int64_t(1) << 40);
    if (!final || !steps)
      return std::nullopt;
    s.kind = Schedule::Linear;
    s.final = *final;
    s.steps = double(*steps);
  }
  return s;
}

std::optional<Optimizer> Checker::evalOptimizer(const ast::Expr &e,
                                                SourceRange &lrGivenAt) {
  Bound args;
  const Builtin *f =
      trainFunction(e, BuiltinGroup::Optimizer, "an optimizer", args);
  if (!f)
    return std::nullopt;
  Optimizer opt;
  std::string name = f->name;
  opt.kind = name == "adam"  ? OptimizerKind::Adam
             : name == "sgd" ? OptimizerKind::SGD
                             : OptimizerKind::RMSprop;
  if (opt.kind == OptimizerKind::SGD)
    opt.lr.initial = 0.01; // Keras' default for SGD
  bool ok = true;
  if (args[0]) {
    auto lr = evalRate(*args[0]);
    ok &= lr.has_value();
    opt.lr = lr.value_or(opt.lr);
    lrGivenAt = args[0]->range;
  }
  auto number = [&](size_t i, const char *what, double min, bool minOpen,
                    double max, bool maxOpen, double &field) {
    if (i >= args.size() || !args[i])
      return;
    auto v = evalInRange(*args[i], what, min, minOpen, max, maxOpen);
    ok &= v.has_value();
    field = v.value_or(field);
  };
  if (opt.kind == OptimizerKind::Adam) {
    number(1, "beta1", 0, false, 1, true, opt.beta1);
    number(2, "beta2", 0, false, 1, true, opt.beta2);
    number(3, "epsilon", 0, true, 1, true, opt.epsilon);
  } else if (opt.kind == OptimizerKind::SGD) {
    number(1, "momentum", 0, false, 1, true, opt.momentum);
    if (args[2]) {
      auto flag = evalFlag(*args[2]);
      ok &= flag.has_value();
      opt.nesterov = flag.value_or(false);
      if (opt.nesterov && opt.momentum == 0 && ok) {
        diags_.report(Diag::OutOfRange, args[2]->range,
                      "nesterov needs a momentum above 0");
        ok = false;
      }
    }
  } else {
    number(1, "rho", 0, false, 1, true, opt.rho);
    number(2, "epsilon", 0, true, 1, true, opt.epsilon);
  }
  if (!ok)
    return std::nullopt;
  return opt;
}

std::optional<DataSource> Checker::evalData(const ast::Expr &e) {
  Bound args;
  const Builtin *f =
      trainFunction(e, BuiltinGroup::DataSource, "a data source", args);
  if (!f)
    return std::nullopt;
  DataSource d;
  d.range = e.range;
  bool ok = true;
  if (std::string(f->name) == "idx") {
    d.kind = DataSource::Idx;
    auto images = evalString(*args[0], "images");
    auto labels = evalString(*args[1], "labels");
    ok = images && labels;
    d.images = images.value_or("");
    d.labels = labels.value_or("");
  } else {
    d.kind = DataSource::Csv;
    auto path = evalString(*args[0], "path");
    auto column = evalWhole(*args[1], "label_column", 0, 1 << 20);
    ok = path && column;
    d.path = path.value_or("");
    d.labelColumn = column.value_or(0);
  }
  if (args[2]) {
    auto scale = evalConstant(*args[2], "scale");
    ok &= scale.has_value();
    d.scale = scale.value_or(1);
  }
  if (args[3]) {
    auto onehot = evalWhole(*args[3], "onehot", 2, 1 << 20);
    ok &= onehot.has_value();
    d.onehot = onehot.value_or(0);
  }
  if (!ok)
    return std::nullopt;
  return d;
}

/// The activation a model's output node ends with.
ActivationKind outputActivation(const Node &out) {
  bool hasActivation = out.kind == Node::Dense || out.kind == Node::Conv2D ||
                       out.kind == Node::Activate;
  return hasActivation ? out.activation.kind : ActivationKind::Linear;
}

std::optional<LossKind> Checker::evalLoss(const ast::Expr &e) {
  static const std::vector<std::string> losses = {
      "categorical_crossentropy", "sparse_categorical_crossentropy",
      "binary_crossentropy", "mse"};
  const ast::Ident *id = asIdent(e);
  if (id)
    for (size_t i = 0; i < losses.size(); ++i)
      if (losses[i] == id->name)
        return LossKind(i);
  diags_.report(Diag::UnknownLoss, e.range,
                "unknown loss; expected categorical_crossentropy, "
                "sparse_categorical_crossentropy, binary_crossentropy or mse");
  if (id)
    if (auto best = closestMatch(id->name, losses))
      diags_.note(fmt::format("did you mean '{}'?", *best));
  return std::nullopt;
}

/// The output and the labels must suit the loss.
void Checker::checkLossAgainstModel(const TrainConfig &config,
                                    const Model &model, SourceRange lossAt) {
  if (model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  ActivationKind act = outputActivation(out);
  int64_t width = product(out.shape);
  const char *loss = lossName(config.loss);
  auto mismatch = [&](const std::string &message, const std::string &fix) {
    diags_.report(Diag::LossOutputMismatch, out.range, message);
    diags_.note(lossAt, fmt::format("the loss is set to {} here", loss));
    diags_.note(fix);
  };
  switch (config.loss) {
  case LossKind::CategoricalCrossentropy:
  case LossKind::SparseCategoricalCrossentropy:
    if (act != ActivationKind::Softmax)
      mismatch(fmt::format("{} needs the output to be a softmax", loss),
               "end the model with 'activation: softmax'");
    break;
  case LossKind::BinaryCrossentropy:
    if (act != ActivationKind::Sigmoid)
      mismatch(fmt::format("{} needs the output to be a sigmoid", loss),
               "end the model with 'activation: sigmoid'");
    break;
  case LossKind::MeanSquaredError:
    break;
  }
  // Label rows: one-hot rows of the output's width, or one number. With
  // `onehot:` given, the number of classes is a fact of the data: the fix
  // is the layer's width (unless another source already matches it), not
  // an `onehot:` that would fail when the labels are read.
  auto widthFollowsOnehot = [&](const DataSource &d) {
    for (const DataSource *other : {&config.data, &config.test})
      if (other->present() && other->onehot == width)
        return false;
    return d.onehot != 0;
  };
  // The class count a source without `onehot:` should name: the layer's,
  // or that of a source whose `onehot:` the layer is to follow.
  int64_t classes = width;
  for (const DataSource *d : {&config.data, &config.test})
    if (d->present() && widthFollowsOnehot(*d) && classes == width)
      classes = d->onehot;
  auto onehotAgainstLayer = [&](const DataSource &d) {
    diags_.report(Diag::LabelWidthMismatch, d.range,
                  fmt::format("the labels are one-hot rows of {} ('onehot: "
                              "{}') but the output has {} units",
                              d.onehot, d.onehot, width));
    const Node *layer = &out;
    while (layer->kind != Node::Dense && layer->inputs.size() == 1 &&
           model.nodes[layer->inputs[0]].shape == layer->shape)
      layer = &model.nodes[layer->inputs[0]]; // through softmax(), dropout
    if (layer->kind == Node::Dense)
      diags_.note(layer->unitsRange,
                  fmt::format("the output layer has {} units; make it {} to "
                              "match 'onehot: {}'",
                              width, d.onehot, d.onehot));
    else
      diags_.note(out.range,
                  fmt::format("the output has {} values per sample; make it "
                              "{} to match 'onehot: {}'",
                              width, d.onehot, d.onehot));
  };
  for (const DataSource *d : {&config.data, &config.test}) {
    if (!d->present())
      continue;
    bool needsOnehot = config.loss == LossKind::CategoricalCrossentropy;
    bool forbidsOnehot =
        config.loss == LossKind::SparseCategoricalCrossentropy ||
        config.loss == LossKind::BinaryCrossentropy;
    if (needsOnehot && !d->onehot && classes != width)
      diags_.report(Diag::LabelWidthMismatch, d->range,
                    fmt::format("{} needs one-hot labels; add 'onehot: {}' "
                                "as the other source has",
                                loss, classes));
    else if (needsOnehot && d->onehot != width && !widthFollowsOnehot(*d))
      diags_.report(Diag::LabelWidthMismatch, d->range,
                    fmt::format("{} needs one-hot labels as wide as the "
                                "output; {} 'onehot: {}'",
                                loss, d->onehot ? "set" : "add", width));
    else if (needsOnehot && d->onehot != width)
      onehotAgainstLayer(*d);
    else if (forbidsOnehot && d->onehot)
      diags_.report(
          Diag::LabelWidthMismatch, d->range,
          fmt::format("{} takes labels as numbers; remove 'onehot:'", loss));
    else if (config.loss == LossKind::MeanSquaredError &&
             (d->onehot ? d->onehot : 1) != width) {
      if (widthFollowsOnehot(*d))
        onehotAgainstLayer(*d);
      else
        diags_.report(Diag::LabelWidthMismatch, d->range,
                      fmt::format("the labels are {} wide but the output is {}",
                                  d->onehot ? d->onehot : 1, width));
    }
  }
}

/// Each metric must mean something for the model: accuracy needs a
/// classifier, mae and rmse labels as wide as the output.
void Checker::checkMetrics(
    const TrainConfig &config, const Model &model,
    const std::map<std::string, SourceRange> &metricsAt) {
  if (model.output < 0)
    return;
  const Node &out = model.nodes[model.output];
  if (auto it = metricsAt.find("accuracy"); it != metricsAt.end()) {
    // One unit without a sigmoid is a regression: a 0.5 threshold on it
    // would report a number that means nothing (Keras' binary accuracy).
    // A cross-entropy makes a classifier, and an output that does not suit
    // it is loss-output-mismatch's to report.
    if (config.loss == LossKind::MeanSquaredError && product(out.shape) == 1 &&
        outputActivation(out) != ActivationKind::Sigmoid) {
      diags_.report(Diag::MetricNotApplicable, it->second,
                    "accuracy does not apply to a regression: the output "
                    "has one unit and no sigmoid");
      diags_.note(out.range, "the output is defined here");
      diags_.note("for a regression, use mae or rmse: metrics = [mae, rmse]");
    }
  }
  if (config.loss != LossKind::SparseCategoricalCrossentropy)
    return;
  for (const char *metric : {"mae", "rmse"})
    if (auto it = metricsAt.find(metric); it != metricsAt.end()) {
      diags_.report(
          Diag::MetricNotApplicable, it->second,
          fmt::format("{} compares the output with labels of its width, but "
                      "sparse_categorical_crossentropy takes class indices",
                      metric));
      diags_.note("for a classifier, use accuracy");
    }
}

void Checker::checkTrain(const ast::Train &t, Program &program) {
  Model *model = nullptr;
  for (Model &m : program.models)
    if (m.name == t.model.name)
      model = &m;
  if (!model) {
    diags_.report(
        Diag::UnknownModel, t.model.range,
        fmt::format("train block for unknown model '{}'", t.model.name));
    std::vector<std::string> names;
    for (Model &m : program.models)
      names.push_back(m.name);
    if (auto best = closestMatch(t.model.name, names))
      diags_.note(fmt::format("did you mean '{}'?", *best));
    return;
  }
  if (model->train) {
    diags_.report(
        Diag::DuplicateTrainBlock, t.model.range,
        fmt::format("model '{}' has a second train block", t.model.name));
    diags_.note(model->train->range, "the first train block is here");
    return;
  }
  TrainConfig config;
  config.range = t.model.range;
  std::map<std::string, SourceRange> seen;
  std::optional<LossKind> loss;
  std::optional<Schedule> lrKey;
  SourceRange lossAt, lrKeyAt, lrInOptimizerAt{0, 0};
  std::map<std::string, SourceRange> metricsAt; ///< each metric's first entry
  // Constants in a train block are evaluated with no model in scope.
  Model scratch;
  model_ = &scratch;
  names_.clear();
  definedAt_.clear();
  for (const ast::TrainEntry &entry : t.entries) {
    const std::string &key = entry.key.name;
    if (std::find(kTrainKeys.begin(), kTrainKeys.end(), key) ==
        kTrainKeys.end()) {
      diags_.report(Diag::UnknownTrainKey, entry.key.range,
                    fmt::format("unknown train key '{}'", key));
      if (auto best = closestMatch(key, kTrainKeys))
        diags_.note(fmt::format("did you mean '{}'?", *best));
      continue;
    }
    if (auto it = seen.find(key); it != seen.end()) {
      diags_.report(Diag::DuplicateTrainKey, entry.key.range,
                    fmt::format("'{}' is set twice", key));
      diags_.note(it->second, "first set here");
      continue;
    }
    seen[key] = entry.key.range;
    const ast::Expr &value = entry.value;
    if (key == "loss") {
      loss = evalLoss(value);
      lossAt = value.range;
    } else if (key == "optimizer") {
      if (auto opt = evalOptimizer(value, lrInOptimizerAt))
        config.optimizer = *opt;
    } else if (key == "lr") {
      lrKey = evalRate(value);
      lrKeyAt = value.range;
    } else if (key == "batch_size") {
      config.batchSize =
          evalWhole(value, "batch_size", 1, 1 << 20).value_or(config.batchSize);
    } else if (key == "epochs") {
      config.epochs =
          evalWhole(value, "epochs", 1, 1 << 30).value_or(config.epochs);
    } else if (key == "seed") {
      config.seed =
          evalWhole(value, "seed", 0, int64_t(1) << 53).value_or(config.seed);
    } else if (key == "validation_split") {
      config.validationSplit =
          evalInRange(value, "validation_split", 0, false, 1, true)
              .value_or(config.validationSplit);
    } else if (key == "shuffle") {
      config.shuffle = evalFlag(value).value_or(config.shuffle);
    } else if (key == "metrics") {
      const ast::List *list = asList(value);
      if (!list) {
        diags_.report(Diag::ArgumentType, value.range,
                      "metrics must be a list, e.g. [accuracy]");
        continue;
      }
      for (const ast::Expr &item : list->items) {
        const ast::Ident *id = asIdent(item);
        auto known =
            id ? std::find(kMetricNames.begin(), kMetricNames.end(), id->name)
               : kMetricNames.end();
        if (known == kMetricNames.end()) {
          diags_.report(Diag::UnknownMetric, item.range,
                        "unknown metric; expected accuracy, loss, mae or rmse");
          if (id)
            if (auto best = closestMatch(id->name, kMetricNames))
              diags_.note(fmt::format("did you mean '{}'?", *best));
          continue;
        }
        metricsAt.emplace(*known, item.range);
        config.metricAccuracy |= *known == "accuracy";
        config.metricMae |= *known == "mae";
        config.metricRmse |= *known == "rmse";
      }
    } else if (key == "data" || key == "test") {
      if (auto d = evalData(value))
        (key == "data" ? config.data : config.test) = *d;
    }
  }
  model_ = nullptr;
  if (lrKey) {
    if (lrInOptimizerAt.end != 0) {
      diags_.report(Diag::DuplicateArgument, lrKeyAt,
                    "the learning rate is given twice");
      diags_.note(lrInOptimizerAt, "the optimizer's lr: is given here");
    }
    config.optimizer.lr = *lrKey;
  }
  if (!seen.count("loss")) {
    diags_.report(Diag::MissingLoss, t.model.range,
                  "the train block needs a 'loss'");
    diags_.note("insert 'loss = categorical_crossentropy' (or "
                "sparse_categorical_crossentropy, binary_crossentropy, mse)");
  }
  if (loss) {
    config.loss = *loss;
    checkLossAgainstModel(config, *model, lossAt);
    checkMetrics(config, *model, metricsAt);
  }
  model->train = config;
}

} // namespace

std::optional<dsl::Program> checkProgram(const ast::File &file,
                                         DiagnosticEngine &diags) {
  return Checker(diags).run(file);
}

} // namespace sora
