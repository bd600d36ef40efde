//===- SemaImpl.h - The checker's state, shared by the Sema*.cpp files ----===//
//
// Private to the front end. The checker walks the AST once per block; its
// work is split by concern: SemaModel.cpp (the walk, inputs, bindings,
// names), SemaExpr.cpp (expressions, operators, calls of operations and
// their shapes), SemaArgs.cpp (binding call arguments against the built-in
// table and checking them by kind), SemaTrain.cpp (train blocks) and
// SemaData.cpp (their validation data and feature scaling).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Builtins.h"
#include "sora/dsl/Sema.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace sora::dsl::sema {

namespace x3 = boost::spirit::x3;

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

/// The activations: Builtins.cpp's rows of that group, in its order.
inline const std::vector<std::string> &activationNames() {
  static const std::vector<std::string> names =
      operationNames(BuiltinGroup::Activation);
  return names;
}

/// "a, b, c": a list for a note.
inline std::string join(const std::vector<std::string> &names) {
  std::string out;
  for (const std::string &n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

/// "a, b or c", each name in `quote`s: a list of choices for a message.
inline std::string joinOr(const std::vector<std::string> &names,
                          const std::string &quote = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    out += quote + names[i] + quote;
  }
  return out;
}

inline bool isActivation(const std::string &name) {
  const std::vector<std::string> &all = activationNames();
  return std::find(all.begin(), all.end(), name) != all.end();
}

/// If `e` is written as a single primary (no arithmetic, no chain), returns
/// it.
inline const ast::Primary *asSimplePrimary(const ast::Expr &e) {
  if (!e.rest.empty() || !e.first.rest.empty() || e.first.first.negate ||
      !e.first.first.chain.steps.empty())
    return nullptr;
  return &e.first.first.chain.head;
}

/// `e` as a single primary of alternative T (Ident, String, Call or List),
/// or nullptr.
template <typename T> const T *asPrimary(const ast::Expr &e) {
  const ast::Primary *p = asSimplePrimary(e);
  if (!p)
    return nullptr;
  if constexpr (std::is_same_v<T, ast::Call> || std::is_same_v<T, ast::List>) {
    auto *fwd = boost::get<x3::forward_ast<T>>(&p->get());
    return fwd ? &fwd->get() : nullptr;
  } else {
    return boost::get<T>(&p->get());
  }
}
inline const ast::Ident *asIdent(const ast::Expr &e) {
  return asPrimary<ast::Ident>(e);
}
inline const ast::Call *asCall(const ast::Expr &e) {
  return asPrimary<ast::Call>(e);
}
inline const ast::String *asString(const ast::Expr &e) {
  return asPrimary<ast::String>(e);
}
inline const ast::List *asList(const ast::Expr &e) {
  return asPrimary<ast::List>(e);
}

/// A call's arguments bound to the named parameters of its built-in and,
/// once checked (Checker::checkArgs), their values. A value not given reads
/// as the table's default.
class Args {
public:
  Args() = default;
  explicit Args(const Builtin &fn)
      : fn_(&fn), exprs_(fn.params.size()), ranges_(fn.params.size()),
        values_(fn.params.size()) {}

  const Builtin &fn() const { return *fn_; }
  /// The expression given for `name`, or nullptr.
  const ast::Expr *expr(const std::string &name) const {
    return exprs_[fn_->indexOf(name)];
  }
  /// The tensor input written as the first argument, or nullptr.
  const ast::Expr *input() const { return exprs_[0]; }
  bool given(const std::string &name) const { return expr(name) != nullptr; }
  /// Every expression given for `name`: a repeating parameter's several.
  std::vector<const ast::Expr *> exprs(const std::string &name) const;

  int64_t whole(const std::string &name) const;
  double number(const std::string &name) const;
  bool flag(const std::string &name) const;
  /// A String or a Choice.
  std::string text(const std::string &name) const;
  Activation activation(const std::string &name) const;
  Schedule rate(const std::string &name) const;
  Init init(const std::string &name) const;
  std::vector<int64_t> dims(const std::string &name) const;

private:
  friend class Checker;
  using Value = std::variant<std::monostate, int64_t, double, bool, std::string,
                             Activation, Schedule, std::vector<int64_t>, Init>;
  template <typename T> const T *value(const std::string &name) const {
    return std::get_if<T>(&values_[fn_->indexOf(name)]);
  }

  const Builtin *fn_ = nullptr;
  std::vector<const ast::Expr *> exprs_;
  /// The repeating last parameter's arguments after its first.
  std::vector<const ast::Expr *> more_;
  std::vector<SourceRange> ranges_; ///< where each argument is written
  std::vector<Value> values_;
};

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
  /// A node of one input and of its shape.
  Node likeInput(Node::Kind kind, int input, SourceRange where);

  // Operations: each returns the new node's index, or -1.
  int applyDense(const ast::Call &call, Args &args, int input);
  int applyConv2D(const ast::Call &call, Args &args, int input);
  int applyPool(const ast::Call &call, Args &args, int input);
  int applyShape(const ast::Call &call, Args &args, int input);
  int applyDropout(const ast::Call &call, Args &args, int input);
  int applyActivation(const ast::Call &call, Args &args, int input);
  int applyEmbedding(const ast::Call &call, Args &args, int input);
  int applyRecurrent(const ast::Call &call, Args &args, int input);
  int applyNorm(const ast::Call &call, Args &args, int input);
  int applyCombine(const ast::Call &call, Args &args, int input);
  /// False, with a diagnostic, when `node` holds ids: only an embedding
  /// reads them.
  bool requireNumbers(int node, SourceRange where, const std::string &what);
  bool requireRank(const ast::Call &call, SourceRange where, int input,
                   size_t rank);

  std::optional<Args> bindArguments(const Builtin &b, const ast::Call &call,
                                    bool hasChainInput);
  /// Evaluates every given argument (but the tensor input) by its kind,
  /// in the table's order; false if any is wrong (each is reported).
  bool checkArgs(Args &args);
  /// The same for the one argument at `index`.
  bool checkArg(Args &args, size_t index);
  /// A list of whole numbers from `min` (dimensions; axes from 0).
  std::optional<std::vector<int64_t>>
  evalDims(const ast::Expr &e, const Builtin &fn, int64_t min = 1);

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
  bool evalPiecewise(const Args &args, Schedule &s);
  std::optional<Init> evalInit(const ast::Expr &e);
  int addNode(Node node);
  /// The mask of ids that the value of node `input` carries, or -1.
  int maskOf(int input) const;

  // --- train blocks ---------------------------------------------------------
  void checkTrain(const ast::Train &t, Program &program);
  std::optional<Optimizer> evalOptimizer(const ast::Expr &e,
                                         SourceRange &lrGivenAt);
  std::optional<DataSource> evalData(const ast::Expr &e);
  std::optional<EarlyStopping> evalEarlyStopping(const ast::Expr &e);
  /// The monitor `name` (at `at`) of `what` must be on the epoch lines.
  void checkMonitor(const TrainConfig &config, const std::string &name,
                    SourceRange at, const char *what,
                    const std::map<std::string, SourceRange> &metricsAt);
  bool evalLabelColumns(const Args &args, DataSource &d);
  /// csv()'s standardize: or normalize: into `d` (SemaData.cpp).
  bool evalScaling(const Args &args, DataSource &d);
  /// `validation` against validation_split, and scaling only where it
  /// applies: on `data`, of a model with an f32 input (SemaData.cpp).
  void checkValidation(TrainConfig &config, const Model &model,
                       const std::map<std::string, SourceRange> &keysAt);
  void checkSourceLabels(TrainConfig &config, SourceRange targetAt);
  void checkTargetInput(const TrainConfig &config, const Model &model,
                        SourceRange lossAt, SourceRange targetAt);
  // SemaLoss.cpp: the loss (with its arguments) and the metrics.
  std::optional<LossKind> evalLoss(const ast::Expr &e, TrainConfig &config);
  void checkClassWeights(const TrainConfig &config, const Model &model,
                         SourceRange lossAt);
  void evalMetrics(const ast::Expr &value, TrainConfig &config,
                   std::map<std::string, SourceRange> &metricsAt);
  void checkLossAgainstModel(const TrainConfig &config, const Model &model,
                             SourceRange lossAt);
  void checkMetrics(const TrainConfig &config, const Model &model,
                    const std::map<std::string, SourceRange> &metricsAt);
  /// A call of a train-block function of `group`, or a bare name (defaults).
  std::optional<Args> trainFunction(const ast::Expr &e, BuiltinGroup group,
                                    const char *what);

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
/// An activation call's kind and its parameters (the defaults for those
/// not given).
Activation activationOf(const Args &args);
/// The range to point at for the tensor input of a call.
SourceRange inputRange(const ast::Call &call, const Args &args);
/// The activation a model's output node ends with.
Activation outputActivation(const Node &out);

} // namespace sora::dsl::sema
