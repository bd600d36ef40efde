//===- SemaImpl.h - The checker's state, shared by the Sema*.cpp files ----===//
//
// Private to the front end. The checker walks the AST once per block; its
// work is split by concern: SemaModel.cpp (the walk, inputs, bindings,
// names), SemaExpr.cpp (expressions, operators, calls of operations and
// their shapes), SemaArgs.cpp (binding call arguments against the built-in
// table and checking them by kind) and SemaTrain.cpp (train blocks).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Builtins.h"
#include "sora/dsl/Sema.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sora::dsl::sema {

namespace x3 = boost::spirit::x3;

/// Tensors larger than this many floats per sample are refused.
constexpr int64_t kMaxElements = int64_t(1) << 31;

/// The result of evaluating an expression.
struct Val {
  enum Kind { Invalid, Tensor, Number } kind = Invalid;
  int node = -1;
  double number = 0;
  SourceRange range;
};

inline Node makeNode(Node::Kind kind, std::vector<int> inputs,
                     std::vector<int64_t> shape, SourceRange range) {
  Node n;
  n.kind = kind;
  n.inputs = std::move(inputs);
  n.shape = std::move(shape);
  n.range = range;
  return n;
}

inline std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "f32[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

inline const std::vector<std::string> kActivationNames = {
    "linear", "relu", "sigmoid", "tanh", "leaky_relu", "softmax"};

/// "a, b, c": a list for a note.
inline std::string join(const std::vector<std::string> &names) {
  std::string out;
  for (const std::string &n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

inline std::optional<ActivationKind> activationByName(const std::string &name) {
  for (size_t i = 0; i < kActivationNames.size(); ++i)
    if (kActivationNames[i] == name)
      return ActivationKind(i);
  return std::nullopt;
}

/// If `e` is written as a single primary (no arithmetic, no chain), returns
/// it.
inline const ast::Primary *asSimplePrimary(const ast::Expr &e) {
  if (!e.rest.empty() || !e.first.rest.empty() || e.first.first.negate ||
      !e.first.first.chain.steps.empty())
    return nullptr;
  return &e.first.first.chain.head;
}

inline const ast::Ident *asIdent(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  return p ? boost::get<ast::Ident>(&p->get()) : nullptr;
}

inline const ast::Call *asCall(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  if (!p)
    return nullptr;
  auto *fwd = boost::get<x3::forward_ast<ast::Call>>(&p->get());
  return fwd ? &fwd->get() : nullptr;
}

inline const ast::String *asString(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  return p ? boost::get<ast::String>(&p->get()) : nullptr;
}

inline const ast::List *asList(const ast::Expr &e) {
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

/// Activations of other frameworks (SemaArgs.cpp).
bool isForeignActivation(const std::string &name);
/// The range to point at for the tensor input of a call.
SourceRange inputRange(const ast::Call &call, const Bound &args);
/// The activation a model's output node ends with.
ActivationKind outputActivation(const Node &out);

} // namespace sora::dsl::sema
