//===- Sema.cpp - Semantic checks of a .sora file
//--------------------------===//
//
// Walks the AST once per block. A model's statements are evaluated in order:
// each expression evaluates to a constant number or to a node of the model's
// DAG, so constant arithmetic is folded as it is met and every call is bound
// against the built-in table (Builtins.cpp) with its arguments checked by
// kind. Train blocks are checked key by key against the train-key table.
//
// Errors do not stop the walk: a statement that fails yields an invalid
// value, which later statements accept silently, so each independent mistake
// is reported once, in source order.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/Sema.h"

#include "sora/dsl/Builtins.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>

namespace sora {

using namespace dsl;
namespace x3 = boost::spirit::x3;

const char *dsl::activationName(ActivationKind kind) {
  switch (kind) {
  case ActivationKind::Linear:
    return "linear";
  case ActivationKind::Relu:
    return "relu";
  case ActivationKind::Sigmoid:
    return "sigmoid";
  case ActivationKind::Tanh:
    return "tanh";
  case ActivationKind::LeakyRelu:
    return "leaky_relu";
  case ActivationKind::Softmax:
    return "softmax";
  }
  return "linear";
}

namespace {

// Tensors larger than this many floats per sample are refused.
constexpr int64_t kMaxElements = int64_t(1) << 31;

Node makeNode(Node::Kind kind, std::vector<int> inputs,
              std::vector<int64_t> shape, SourceRange range) {
  Node n;
  n.kind = kind;
  n.inputs = std::move(inputs);
  n.shape = std::move(shape);
  n.range = range;
  return n;
}

/// The result of evaluating an expression.
struct Val {
  enum Kind { Invalid, Tensor, Number } kind = Invalid;
  int node = -1;
  double number = 0;
  SourceRange range;
};

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "f32[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::optional<ActivationKind> activationByName(const std::string &name) {
  static const std::map<std::string, ActivationKind> names = {
      {"linear", ActivationKind::Linear},
      {"relu", ActivationKind::Relu},
      {"sigmoid", ActivationKind::Sigmoid},
      {"tanh", ActivationKind::Tanh},
      {"leaky_relu", ActivationKind::LeakyRelu},
      {"softmax", ActivationKind::Softmax}};
  auto it = names.find(name);
  if (it == names.end())
    return std::nullopt;
  return it->second;
}

const std::vector<std::string> kActivationNames = {
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "softmax"};

/// If `e` is written as a single identifier or call (no arithmetic, no
/// chain), returns that primary.
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

/// Checks one file. Holds the state of the model being checked.
class Checker {
public:
  explicit Checker(DiagnosticEngine &diags) : diags_(diags) {}

  std::optional<Program> run(const ast::File &file);

private:
  // --- models -------------------------------------------------------------
  void checkModel(const ast::Model &m);
  void checkInput(const ast::InputStmt &s);
  void checkBinding(const ast::Binding &b);
  bool checkNewName(const ast::Ident &name);

  Val evalExpr(const ast::Expr &e);
  Val evalProduct(const ast::Product &p);
  Val evalUnary(const ast::Unary &u);
  Val evalChain(const ast::Chain &c);
  Val evalPrimary(const ast::Primary &p);
  Val evalNumberLiteral(const ast::Number &n);
  Val evalCall(const ast::Call &call, std::optional<Val> chainInput);
  Val combine(char op, Val lhs, Val rhs, SourceRange where);

  /// Binds a call's arguments to the built-in's parameters: returns, per
  /// parameter, the expression given for it (or nullptr).
  std::optional<std::vector<const ast::Expr *>>
  bindArguments(const Builtin &b, const ast::Call &call, bool hasChainInput);

  std::optional<Activation> evalActivation(const ast::Expr &e);
  std::optional<double> evalConstant(const ast::Expr &e, const char *what);
  std::optional<int64_t> evalWhole(const ast::Expr &e, const char *what,
                                   int64_t min, int64_t max);
  std::optional<bool> evalFlag(const ast::Expr &e);
  int addNode(Node node);

  // --- train blocks ---------------------------------------------------------
  void checkTrain(const ast::Train &t, Program &program);
  std::optional<DataSource> evalData(const ast::Expr &e, const Model &model);
  std::optional<Optimizer> evalOptimizer(const ast::Expr &e);

  DiagnosticEngine &diags_;
  Model *model_ = nullptr;
  std::map<std::string, int> names_;             ///< binding -> node
  std::map<std::string, SourceRange> nameRange_; ///< binding -> definition
  std::vector<int> bindingDense_;                ///< dense nodes of a binding
  bool hadOutput_ = false;
  SourceRange outputRange_;
};

std::optional<Program> Checker::run(const ast::File &file) {
  Program program;
  program.sourcePath = diags_.file().path();
  std::map<std::string, SourceRange> modelRanges;
  for (const ast::TopLevel &item : file.items) {
    if (auto *m = boost::get<ast::Model>(&item.get())) {
      if (auto it = modelRanges.find(m->name.name); it != modelRanges.end()) {
        diags_.error(m->name.range,
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
  }
  for (const ast::TopLevel &item : file.items)
    if (auto *t = boost::get<ast::Train>(&item.get()))
      checkTrain(*t, program);
  if (diags_.hadErrors())
    return std::nullopt;
  return program;
}

// ===--- Models
// -------------------------------------------------------------===

void Checker::checkModel(const ast::Model &m) {
  model_->name = m.name.name;
  model_->range = m.name.range;
  names_.clear();
  nameRange_.clear();
  hadOutput_ = false;
  for (const ast::Statement &s : m.body) {
    if (auto *in = boost::get<ast::InputStmt>(&s.get()))
      checkInput(*in);
    else
      checkBinding(boost::get<ast::Binding>(s.get()));
  }
  if (!hadOutput_) {
    diags_.error(m.name.range,
                 fmt::format("model '{}' has no output", m.name.name));
    diags_.note(
        "mark the result with 'output', e.g. 'output y = dense(x, 10)'");
  }
}

bool Checker::checkNewName(const ast::Ident &name) {
  if (lookupBuiltin(name.name)) {
    diags_.error(name.range, fmt::format("'{}' is the name of a built-in "
                                         "operation and cannot be rebound",
                                         name.name));
    return false;
  }
  if (auto it = nameRange_.find(name.name); it != nameRange_.end()) {
    diags_.error(name.range, fmt::format("redefinition of '{}'", name.name));
    diags_.note(it->second, "previous definition is here");
    return false;
  }
  return true;
}

void Checker::checkInput(const ast::InputStmt &s) {
  bool ok = checkNewName(s.name);
  if (s.type.element.name != "f32") {
    diags_.error(s.type.element.range,
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
      diags_.error(d.range, fmt::format("a dimension must be a whole number "
                                        "from 1 to {}",
                                        kMaxElements));
      ok = false;
      continue;
    }
    node.shape.push_back(int64_t(v.number));
    elements *= node.shape.back();
    if (elements > kMaxElements) {
      diags_.error(s.type.range,
                   fmt::format("an input of more than {} elements per sample "
                               "is too large",
                               kMaxElements));
      ok = false;
      break;
    }
  }
  nameRange_[s.name.name] = s.name.range;
  if (!ok)
    return;
  int id = addNode(node);
  names_[s.name.name] = id;
  model_->inputs.push_back(id);
}

void Checker::checkBinding(const ast::Binding &b) {
  bool nameOk = checkNewName(b.name);
  bindingDense_.clear();
  Val v = evalExpr(b.value);
  nameRange_.emplace(b.name.name, b.name.range);
  if (v.kind == Val::Number) {
    diags_.error(b.value.range,
                 fmt::format("'{}' is bound to a number; a binding names a "
                             "tensor of the model",
                             b.name.name));
    return;
  }
  if (v.kind != Val::Tensor || !nameOk)
    return;
  names_[b.name.name] = v.node;

  // Layer names (language.md): a name: argument wins; the last step of the
  // binding takes the binding's name; others are <binding>_<k>.
  int k = 0;
  for (int id : bindingDense_) {
    ++k;
    Node &layer = model_->nodes[id];
    if (!layer.name.empty())
      continue;
    layer.name =
        id == v.node ? b.name.name : fmt::format("{}_{}", b.name.name, k);
  }
  for (int id : bindingDense_) {
    for (size_t j = 0; j < model_->nodes.size(); ++j) {
      const Node &other = model_->nodes[j];
      if (int(j) != id && other.kind == Node::Dense &&
          other.name == model_->nodes[id].name) {
        diags_.error(model_->nodes[id].range,
                     fmt::format("two layers are named '{}'", other.name));
        diags_.note(other.range, "the other layer is here");
        break;
      }
    }
  }

  if (b.isOutput) {
    if (hadOutput_) {
      diags_.error(b.name.range, "a model has exactly one 'output'");
      diags_.note(outputRange_, "the first output is here");
      return;
    }
    hadOutput_ = true;
    outputRange_ = b.name.range;
    model_->output = v.node;
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
  diags_.error(u.range, "unary minus applies to constants only");
  diags_.note("write the difference of two tensors, or scale with a layer");
  return {};
}

Val Checker::evalChain(const ast::Chain &c) {
  Val v = evalPrimary(c.head);
  for (const ast::Call &step : c.steps) {
    if (v.kind == Val::Invalid)
      return v;
    if (v.kind == Val::Number) {
      diags_.error(step.range, "only a tensor can flow into an operation "
                               "with '->'");
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
      c.diags_.error(s.range, "a string is not a value of the model");
      return {};
    }
    Val operator()(const ast::Ident &id) {
      if (auto it = c.names_.find(id.name); it != c.names_.end())
        return {Val::Tensor, it->second, 0, id.range};
      if (c.nameRange_.count(id.name))
        return {}; // defined, but its definition failed: already reported
      if (lookupBuiltin(id.name)) {
        c.diags_.error(id.range,
                       fmt::format("'{}' is an operation; call it with its "
                                   "input: {}(x) or x -> {}",
                                   id.name, id.name, id.name));
        return {};
      }
      c.diags_.error(id.range,
                     fmt::format("use of undefined name '{}'", id.name));
      std::vector<std::string> candidates;
      for (auto &[name, _] : c.names_)
        candidates.push_back(name);
      if (auto best = closestMatch(id.name, candidates))
        c.diags_.note(fmt::format("did you mean '{}'?", *best));
      return {};
    }
    Val operator()(const x3::forward_ast<ast::Call> &call) {
      return c.evalCall(call.get(), std::nullopt);
    }
    Val operator()(const x3::forward_ast<ast::List> &list) {
      c.diags_.error(list.get().range, "a list is not a value of the model");
      return {};
    }
    Val operator()(const x3::forward_ast<ast::Expr> &e) {
      return c.evalExpr(e.get());
    }
  };
  return boost::apply_visitor(Visitor{*this}, p);
}

Val Checker::evalNumberLiteral(const ast::Number &n) {
  errno = 0;
  double value = std::strtod(n.text.c_str(), nullptr);
  if (errno == ERANGE || !std::isfinite(value)) {
    // strtod reports underflow too; a tiny literal is just zero.
    if (std::isfinite(value) && std::fabs(value) < 1)
      return {Val::Number, -1, value, n.range};
    diags_.error(n.range, "number is too large to represent");
    return {};
  }
  return {Val::Number, -1, value, n.range};
}

Val Checker::combine(char op, Val lhs, Val rhs, SourceRange where) {
  if (lhs.kind == Val::Invalid || rhs.kind == Val::Invalid)
    return {};
  if (lhs.kind == Val::Number && rhs.kind == Val::Number) {
    double r = 0;
    switch (op) {
    case '+':
      r = lhs.number + rhs.number;
      break;
    case '-':
      r = lhs.number - rhs.number;
      break;
    case '*':
      r = lhs.number * rhs.number;
      break;
    case '/':
      if (rhs.number == 0) {
        diags_.error(rhs.range, "division by zero in a constant expression");
        return {};
      }
      r = lhs.number / rhs.number;
      break;
    }
    if (!std::isfinite(r)) {
      diags_.error(where, "constant expression overflows");
      return {};
    }
    return {Val::Number, -1, r, where};
  }
  if (lhs.kind != rhs.kind) {
    diags_.error(where, fmt::format("'{}' between a tensor and a constant is "
                                    "not supported yet",
                                    op));
    return {};
  }
  const Node &a = model_->nodes[lhs.node];
  const Node &b = model_->nodes[rhs.node];
  if (a.shape != b.shape) {
    diags_.error(where,
                 fmt::format("'{}' needs operands of the same shape, "
                             "got {} and {}",
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

std::optional<std::vector<const ast::Expr *>>
Checker::bindArguments(const Builtin &b, const ast::Call &call,
                       bool hasChainInput) {
  std::vector<const ast::Expr *> bound(b.params.size(), nullptr);
  std::vector<SourceRange> boundAt(b.params.size());
  size_t next = hasChainInput ? 1 : 0;
  bool ok = true, sawNamed = false;
  for (const ast::Arg &arg : call.args) {
    size_t index;
    if (arg.name) {
      sawNamed = true;
      const std::string &name = arg.name->name;
      auto it = std::find_if(b.params.begin(), b.params.end(),
                             [&](const Param &p) { return name == p.name; });
      if (it == b.params.end() || (hasChainInput && it == b.params.begin())) {
        diags_.error(
            arg.name->range,
            fmt::format("{}() has no argument named '{}'", b.name, name));
        std::vector<std::string> names;
        for (size_t i = hasChainInput ? 1 : 0; i < b.params.size(); ++i)
          names.push_back(b.params[i].name);
        if (auto best = closestMatch(name, names))
          diags_.note(fmt::format("did you mean '{}'?", *best));
        ok = false;
        continue;
      }
      index = it - b.params.begin();
    } else {
      if (sawNamed) {
        diags_.error(arg.range, "positional argument after a named argument");
        ok = false;
        continue;
      }
      if (next >= b.params.size()) {
        diags_.error(
            arg.range,
            fmt::format("{}() takes at most {} argument{}{}", b.name,
                        b.params.size() - (hasChainInput ? 1 : 0),
                        b.params.size() - hasChainInput == 1 ? "" : "s",
                        hasChainInput ? " after its '->' input" : ""));
        ok = false;
        continue;
      }
      index = next++;
    }
    if (bound[index]) {
      diags_.error(arg.range, fmt::format("argument '{}' of {}() is given "
                                          "twice",
                                          b.params[index].name, b.name));
      diags_.note(boundAt[index], "first given here");
      ok = false;
      continue;
    }
    bound[index] = &arg.value;
    boundAt[index] = arg.range;
  }
  for (size_t i = hasChainInput ? 1 : 0; i < b.params.size(); ++i) {
    if (b.params[i].required && !bound[i] && ok) {
      diags_.error(call.range, fmt::format("{}() needs the argument '{}'",
                                           b.name, b.params[i].name));
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
    diags_.error(e.range, fmt::format("{} must be a constant number", what));
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
    diags_.error(e.range,
                 fmt::format("{} must be a whole number, got {}", what, *v));
    return std::nullopt;
  }
  if (*v < double(min) || *v > double(max)) {
    diags_.error(e.range, fmt::format("{} must be from {} to {}, got {}", what,
                                      min, max, *v));
    return std::nullopt;
  }
  return int64_t(*v);
}

std::optional<bool> Checker::evalFlag(const ast::Expr &e) {
  if (const ast::Ident *id = asIdent(e)) {
    if (id->name == "true")
      return true;
    if (id->name == "false")
      return false;
  }
  diags_.error(e.range, "expected 'true' or 'false'");
  return std::nullopt;
}

std::optional<Activation> Checker::evalActivation(const ast::Expr &e) {
  const ast::Ident *id = asIdent(e);
  const ast::Call *call = asCall(e);
  const ast::Ident *name = id ? id : call ? &call->callee : nullptr;
  if (!name) {
    diags_.error(e.range, "expected an activation: linear, relu, sigmoid, "
                          "tanh, leaky_relu or softmax");
    return std::nullopt;
  }
  std::optional<ActivationKind> kind = activationByName(name->name);
  if (!kind) {
    diags_.error(name->range,
                 fmt::format("unknown activation '{}'", name->name));
    if (auto best = closestMatch(name->name, kActivationNames))
      diags_.note(fmt::format("did you mean '{}'?", *best));
    return std::nullopt;
  }
  Activation act{*kind};
  if (call) {
    const Builtin &b = *lookupBuiltin(name->name);
    auto bound = bindArguments(b, *call, /*hasChainInput=*/true);
    if (!bound)
      return std::nullopt;
    if (*kind == ActivationKind::LeakyRelu && (*bound)[1]) {
      auto alpha = evalConstant(*(*bound)[1], "alpha");
      if (!alpha)
        return std::nullopt;
      act.alpha = *alpha;
    }
  }
  return act;
}

Val Checker::evalCall(const ast::Call &call, std::optional<Val> chainInput) {
  const std::string &name = call.callee.name;
  const Builtin *b = lookupBuiltin(name);
  if (!b) {
    if (names_.count(name)) {
      diags_.error(call.callee.range,
                   fmt::format("'{}' is a value, not an operation", name));
      return {};
    }
    diags_.error(call.callee.range,
                 fmt::format("unknown operation '{}'", name));
    if (auto best = closestMatch(name, builtinNames()))
      diags_.note(fmt::format("did you mean '{}'?", *best));
    return {};
  }
  if (!b->implemented) {
    diags_.error(call.callee.range,
                 fmt::format("'{}' is not supported by this version of sorac "
                             "yet",
                             name));
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
    diags_.error(input.range, fmt::format("{}() expects a tensor as its "
                                          "input, got a constant",
                                          name));
    return {};
  }
  const std::vector<int64_t> inShape = model_->nodes[input.node].shape;

  if (name == "dense") {
    Node node = makeNode(Node::Dense, {input.node}, {}, call.range);
    bool ok = true;
    if (inShape.size() != 1) {
      diags_.error(chainInput ? call.range : (*bound)[0]->range,
                   fmt::format("dense() expects an input of rank 1, got {}",
                               shapeString(inShape)));
      ok = false;
    }
    if (auto units = evalWhole(*(*bound)[1], "units", 1, kMaxElements))
      node.units = *units;
    else
      ok = false;
    if ((*bound)[2]) {
      if (auto act = evalActivation(*(*bound)[2]))
        node.activation = *act;
      else
        ok = false;
    }
    if ((*bound)[3]) {
      if (auto flag = evalFlag(*(*bound)[3]))
        node.useBias = *flag;
      else
        ok = false;
    }
    if ((*bound)[4]) {
      if (const ast::String *s = asString(*(*bound)[4]))
        node.name = s->value;
      else {
        diags_.error((*bound)[4]->range, "name: expects a string");
        ok = false;
      }
    }
    if (!ok)
      return {};
    if (inShape[0] * node.units > kMaxElements) {
      diags_.error(call.range, "this layer's weight has too many elements");
      return {};
    }
    node.shape = {node.units};
    int id = addNode(node);
    bindingDense_.push_back(id);
    return {Val::Tensor, id, 0, call.range};
  }

  // An activation applied on its own.
  Node node = makeNode(Node::Activate, {input.node}, inShape, call.range);
  node.activation.kind = *activationByName(name);
  if (node.activation.kind == ActivationKind::LeakyRelu && (*bound)[1]) {
    auto alpha = evalConstant(*(*bound)[1], "alpha");
    if (!alpha)
      return {};
    node.activation.alpha = *alpha;
  }
  if (node.activation.kind == ActivationKind::Softmax && inShape.size() != 1) {
    diags_.error(call.range, fmt::format("softmax() expects an input of rank "
                                         "1, got {}",
                                         shapeString(inShape)));
    return {};
  }
  return {Val::Tensor, addNode(node), 0, call.range};
}

// ===--- Train blocks
// -------------------------------------------------------===

const std::vector<std::string> kTrainKeys = {
    "loss", "optimizer",        "lr",      "batch_size", "epochs",
    "seed", "validation_split", "shuffle", "metrics",    "data",
    "test"};

void Checker::checkTrain(const ast::Train &t, Program &program) {
  Model *model = nullptr;
  for (Model &m : program.models)
    if (m.name == t.model.name)
      model = &m;
  if (!model) {
    diags_.error(
        t.model.range,
        fmt::format("train block for unknown model '{}'", t.model.name));
    std::vector<std::string> names;
    for (Model &m : program.models)
      names.push_back(m.name);
    if (auto best = closestMatch(t.model.name, names))
      diags_.note(fmt::format("did you mean '{}'?", *best));
    return;
  }
  if (model->train) {
    diags_.error(t.model.range, fmt::format("model '{}' has a second train "
                                            "block",
                                            t.model.name));
    diags_.note(model->train->range, "the first train block is here");
    return;
  }
  TrainConfig config;
  config.range = t.model.range;
  std::map<std::string, SourceRange> seen;
  bool hasLoss = false;
  std::optional<double> lrOverride;
  // Constants in a train block are evaluated without a model in scope.
  Model scratch;
  model_ = &scratch;
  names_.clear();
  nameRange_.clear();
  for (const ast::TrainEntry &entry : t.entries) {
    const std::string &key = entry.key.name;
    if (std::find(kTrainKeys.begin(), kTrainKeys.end(), key) ==
        kTrainKeys.end()) {
      diags_.error(entry.key.range, fmt::format("unknown train key '{}'", key));
      if (auto best = closestMatch(key, kTrainKeys))
        diags_.note(fmt::format("did you mean '{}'?", *best));
      continue;
    }
    if (auto it = seen.find(key); it != seen.end()) {
      diags_.error(entry.key.range, fmt::format("'{}' is set twice", key));
      diags_.note(it->second, "first set here");
      continue;
    }
    seen[key] = entry.key.range;
    const ast::Expr &value = entry.value;

    if (key == "loss") {
      const ast::Ident *id = asIdent(value);
      static const std::vector<std::string> losses = {
          "categorical_crossentropy", "sparse_categorical_crossentropy",
          "binary_crossentropy", "mse"};
      if (!id ||
          std::find(losses.begin(), losses.end(), id->name) == losses.end()) {
        diags_.error(value.range, "unknown loss; expected one of "
                                  "categorical_crossentropy, "
                                  "sparse_categorical_crossentropy, "
                                  "binary_crossentropy, mse");
        if (id)
          if (auto best = closestMatch(id->name, losses))
            diags_.note(fmt::format("did you mean '{}'?", *best));
        continue;
      }
      if (id->name != "categorical_crossentropy") {
        diags_.error(value.range, fmt::format("loss '{}' is not supported by "
                                              "this version of sorac yet",
                                              id->name));
        continue;
      }
      config.loss = LossKind::CategoricalCrossentropy;
      hasLoss = true;
    } else if (key == "optimizer") {
      if (auto opt = evalOptimizer(value))
        config.optimizer = *opt;
    } else if (key == "lr") {
      if (asCall(value)) {
        diags_.error(value.range, "learning-rate schedules are not supported "
                                  "by this version of sorac yet");
        continue;
      }
      auto lr = evalConstant(value, "lr");
      if (lr && (*lr <= 0 || *lr > 10))
        diags_.error(value.range, "lr must be in (0, 10]");
      else if (lr)
        lrOverride = *lr;
    } else if (key == "batch_size") {
      if (auto v = evalWhole(value, "batch_size", 1, 1 << 20))
        config.batchSize = *v;
    } else if (key == "epochs") {
      if (auto v = evalWhole(value, "epochs", 1, 1 << 30))
        config.epochs = *v;
    } else if (key == "seed") {
      if (auto v = evalWhole(value, "seed", 0, int64_t(1) << 53))
        config.seed = *v;
    } else if (key == "validation_split") {
      auto v = evalConstant(value, "validation_split");
      if (v && (*v < 0 || *v >= 1))
        diags_.error(value.range, "validation_split must be in [0, 1)");
      else if (v)
        config.validationSplit = *v;
    } else if (key == "shuffle") {
      if (auto v = evalFlag(value))
        config.shuffle = *v;
    } else if (key == "metrics") {
      const ast::List *list = asList(value);
      if (!list) {
        diags_.error(value.range, "metrics must be a list, e.g. [accuracy]");
        continue;
      }
      config.metricLoss = true; // the loss is always reported
      for (const ast::Expr &item : list->items) {
        const ast::Ident *id = asIdent(item);
        if (id && id->name == "accuracy")
          config.metricAccuracy = true;
        else if (!id || id->name != "loss") {
          diags_.error(item.range, "unknown metric; expected 'accuracy' or "
                                   "'loss'");
          if (id)
            if (auto best = closestMatch(id->name, {"accuracy", "loss"}))
              diags_.note(fmt::format("did you mean '{}'?", *best));
        }
      }
    } else if (key == "data" || key == "test") {
      if (auto d = evalData(value, *model))
        (key == "data" ? config.data : config.test) = *d;
    }
  }
  model_ = nullptr;
  if (!hasLoss && !seen.count("loss")) {
    diags_.error(t.model.range, "the train block needs a 'loss'");
    diags_.note("insert 'loss = categorical_crossentropy'");
  }
  if (lrOverride)
    config.optimizer.lr = *lrOverride;
  if (hasLoss && config.loss == LossKind::CategoricalCrossentropy &&
      model->output >= 0) {
    const Node &out = model->nodes[model->output];
    if (out.activation.kind != ActivationKind::Softmax ||
        out.kind == Node::Input || out.kind == Node::Binary) {
      diags_.error(out.range, "categorical_crossentropy needs the output to "
                              "be a softmax");
      diags_.note(config.range, "the loss is set for this model here");
    } else {
      for (const DataSource *d : {&config.data, &config.test})
        if (d->present && d->onehot != out.shape[0]) {
          diags_.error(d->range,
                       fmt::format("categorical_crossentropy needs one-hot "
                                   "labels of width {} (the output's), add "
                                   "'onehot: {}'",
                                   out.shape[0], out.shape[0]));
        }
    }
  }
  model->train = config;
}

std::optional<Optimizer> Checker::evalOptimizer(const ast::Expr &e) {
  const ast::Call *call = asCall(e);
  const ast::Ident *id = asIdent(e);
  std::string name = call ? call->callee.name : id ? id->name : "";
  SourceRange where = call ? call->callee.range : e.range;
  if (name == "sgd" || name == "rmsprop") {
    diags_.error(where, fmt::format("optimizer '{}' is not supported by this "
                                    "version of sorac yet",
                                    name));
    return std::nullopt;
  }
  if (name != "adam") {
    diags_.error(where, "expected an optimizer: adam(lr: ...), sgd(lr: ...) "
                        "or rmsprop(lr: ...)");
    if (!name.empty())
      if (auto best = closestMatch(name, {"adam", "sgd", "rmsprop"}))
        diags_.note(fmt::format("did you mean '{}'?", *best));
    return std::nullopt;
  }
  Optimizer opt;
  if (!call)
    return opt;
  static const Builtin adam{"adam",
                            BuiltinGroup::Layer,
                            {{"lr", ParamKind::Number, false},
                             {"beta1", ParamKind::Number, false},
                             {"beta2", ParamKind::Number, false},
                             {"epsilon", ParamKind::Number, false}},
                            true};
  auto bound = bindArguments(adam, *call, false);
  if (!bound)
    return std::nullopt;
  double *fields[] = {&opt.lr, &opt.beta1, &opt.beta2, &opt.epsilon};
  bool ok = true;
  for (size_t i = 0; i < 4; ++i) {
    if (!(*bound)[i])
      continue;
    auto v = evalConstant(*(*bound)[i], adam.params[i].name);
    if (!v) {
      ok = false;
      continue;
    }
    bool inRange = i == 0   ? (*v > 0 && *v <= 10)
                   : i == 3 ? (*v > 0 && *v < 1)
                            : (*v >= 0 && *v < 1);
    if (!inRange) {
      diags_.error((*bound)[i]->range,
                   fmt::format("{} is out of range: {}", adam.params[i].name,
                               i == 0   ? "expected 0 < lr <= 10"
                               : i == 3 ? "expected 0 < epsilon < 1"
                                        : "expected 0 <= beta < 1"));
      ok = false;
      continue;
    }
    *fields[i] = *v;
  }
  if (!ok)
    return std::nullopt;
  return opt;
}

std::optional<DataSource> Checker::evalData(const ast::Expr &e, const Model &) {
  const ast::Call *call = asCall(e);
  if (call && call->callee.name == "csv") {
    diags_.error(call->callee.range, "csv() data is not supported by this "
                                     "version of sorac yet");
    return std::nullopt;
  }
  if (!call || call->callee.name != "idx") {
    diags_.error(e.range, "expected a data source: idx(images: \"...\", "
                          "labels: \"...\")");
    return std::nullopt;
  }
  static const Builtin idx{"idx",
                           BuiltinGroup::Layer,
                           {{"images", ParamKind::String, true},
                            {"labels", ParamKind::String, true},
                            {"scale", ParamKind::Number, false},
                            {"onehot", ParamKind::WholeNumber, false}},
                           true};
  auto bound = bindArguments(idx, *call, false);
  if (!bound)
    return std::nullopt;
  DataSource d;
  d.present = true;
  d.range = e.range;
  bool ok = true;
  for (int i = 0; i < 2; ++i) {
    const ast::String *s = asString(*(*bound)[i]);
    if (!s || s->value.empty()) {
      diags_.error((*bound)[i]->range, "expected a file path as a string");
      ok = false;
      continue;
    }
    (i == 0 ? d.images : d.labels) = s->value;
  }
  if ((*bound)[2]) {
    auto v = evalConstant(*(*bound)[2], "scale");
    if (v)
      d.scale = *v;
    else
      ok = false;
  }
  if ((*bound)[3]) {
    auto v = evalWhole(*(*bound)[3], "onehot", 2, 1 << 20);
    if (v)
      d.onehot = *v;
    else
      ok = false;
  }
  if (!ok)
    return std::nullopt;
  return d;
}

} // namespace

std::optional<dsl::Program> checkProgram(const ast::File &file,
                                         DiagnosticEngine &diags) {
  return Checker(diags).run(file);
}

} // namespace sora
