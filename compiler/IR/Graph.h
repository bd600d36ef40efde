//===- Graph.h - The graph IR: SSA tensor values --------------*- C++ -*-===//
//
// A graph is a list of nodes in topological order; each node is one op
// applied to earlier nodes and is itself the (single) value it produces.
// Types are static except for the leading batch dimension, so every loop but
// the one over samples has a constant trip count when lowered.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Source.h"

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace sora::ir {

enum class OpKind {
#define OP(Enum, ...) Enum,
#include "IR/Ops.def"
};

constexpr int kNumOps = 0
#define OP(...) +1
#include "IR/Ops.def"
    ;

/// What an op is, as Ops.def's traits column says (a bit set).
enum Trait : unsigned {
  Leaf = 1,
  SameType = 2,
  Elementwise = 4,
  Activation = 8,
  Update = 16,
  TakesIds = 32,
  Assign = 64,
  /// A sum of products of its operands' elements (matmuls, convolutions):
  /// with `precision = bf16` each operand is rounded to bfloat16 first.
  Product = 128,
};

/// How autodiff finds an op's gradient (Ops.def's gradient column).
struct GradSpec {
  enum Kind { None, Rule, Derived } kind = None;
  /// Derived: the op that computes dx, and what it reads.
  OpKind op = OpKind::Input;
  enum Reads { WithX, WithY, DyOnly, Loss } reads = WithX;
};

const char *mnemonic(OpKind op);
/// Its number of operands; kVariadic: two or more (concat); kOneOrMore.
int operandCount(OpKind op);
constexpr int kVariadic = -1;
constexpr int kOneOrMore = -2;
/// Whether `count` operands are what the op takes.
bool takesOperands(OpKind op, size_t count);
/// "2", or "2 or more", for messages.
std::string operandCountText(OpKind op);
bool hasTrait(OpKind op, Trait trait);
const GradSpec &gradSpec(OpKind op);
/// The op with this mnemonic, if any.
std::optional<OpKind> opByMnemonic(const std::string &mnemonic);

/// A learning rate's schedule (the `schedule` attribute).
/// Plateau: lr * factor^r, at least final_lr, r counting the reductions the
/// runtime has made (ReduceLROnPlateau), read from the optimizer state.
enum class LrSchedule {
  Constant,
  Exponential,
  Step,
  Linear,
  Cosine,
  Piecewise,
  Plateau
};
const char *scheduleName(LrSchedule s);

/// A reshape's per-sample dimensions.
using Dims = std::vector<int64_t>;
/// A list of numbers (a cross-entropy's class weights, a piecewise
/// schedule's rates).
using Numbers = std::vector<double>;

enum class AttrId {
#define ATTR(Id, ...) Id,
#include "IR/Attrs.def"
};
const char *attrName(AttrId id);

/// One attribute's value: Attrs.def gives each attribute one of these types.
using AttrValue =
    std::variant<double, int64_t, bool, LrSchedule, Dims, Numbers>;

struct Attr {
  AttrId id;
  AttrValue value;
  bool operator==(const Attr &o) const {
    return id == o.id && value == o.value;
  }
  bool operator<(const Attr &o) const {
    return std::tie(id, value) < std::tie(o.id, o.value);
  }
};

/// Makers of typed attributes: attr::alpha(0.2), attr::stride(2).
namespace attr {
#define ATTR(Id, Name, Accessor, Type)                                         \
  inline Attr Accessor(Type v) { return {AttrId::Id, AttrValue(std::move(v))}; }
#include "IR/Attrs.def"
} // namespace attr

/// The attributes of one op, in the order its Ops.def row lists them
/// (Graph::create checks the list against the row), read through typed
/// accessors: `n.attrs.alpha()`, `n.attrs.schedule()`.
class AttrList {
public:
  AttrList() = default;
  AttrList(std::initializer_list<Attr> attrs) : attrs_(attrs) {}
  explicit AttrList(std::vector<Attr> attrs) : attrs_(std::move(attrs)) {}

#define ATTR(Id, Name, Accessor, Type)                                         \
  const Type &Accessor() const { return std::get<Type>(get(AttrId::Id)); }
#include "IR/Attrs.def"

  bool has(AttrId id) const;
  /// The value of `id`; throws std::logic_error if the op has none.
  const AttrValue &get(AttrId id) const;
  /// `this` followed by `extra`.
  AttrList plus(std::initializer_list<Attr> extra) const;

  std::vector<Attr>::const_iterator begin() const { return attrs_.begin(); }
  std::vector<Attr>::const_iterator end() const { return attrs_.end(); }
  const std::vector<Attr> &list() const { return attrs_; }
  bool operator==(const AttrList &o) const { return attrs_ == o.attrs_; }
  bool operator!=(const AttrList &o) const { return !(*this == o); }

private:
  std::vector<Attr> attrs_;
};

/// A value of the type Attrs.def declares for `id` (zero, false, ...).
AttrValue declaredValue(AttrId id);

/// The attribute ids of `op`'s Ops.def row, in order.
const std::vector<AttrId> &attrIds(OpKind op);

/// f32[?, d1, d2] (batched) or f32[d0, d1] or f32[] (scalar), or none;
/// i32[?, ...] for integer ids (a model's integer inputs, which only ops
/// with the TakesIds trait read).
struct Type {
  bool none = false;
  bool batched = false;
  std::vector<int64_t> dims; ///< without the batch dimension
  bool integer = false;      ///< i32 elements, not f32

  static Type noneType() { return {true, false, {}}; }
  /// Elements per sample (batched) or in all (not batched).
  int64_t elements() const;
  bool operator==(const Type &o) const {
    return none == o.none && batched == o.batched && dims == o.dims &&
           integer == o.integer;
  }
  bool operator!=(const Type &o) const { return !(*this == o); }
  std::string str() const;
};

/// What a Param holds. A Statistic (batch norm's running mean) lives in the
/// parameter block with the weights, so checkpoints and inference builds
/// have it, but it is not trained: no gradient, no optimizer state.
/// A Frozen weight (a layer's `trainable: false`) is a Weight that training
/// leaves alone: no gradient, no optimizer state.
enum class ParamRole { Weight, OptimizerState, Statistic, Frozen };

/// The optimizer state of reduce_on_plateau: one float, the reductions
/// made so far (laid out after the state that mirrors the weights).
inline constexpr const char *kLrReductions = "optimizer.lr_reductions";
/// How a Weight is initialised (matches the runtime's sora_init_kind):
/// Normal draws N(0, scale^2), Uniform U(-scale, scale).
enum class InitKind {
  Zeros = 0,
  GlorotUniform = 1,
  Normal = 2,
  Uniform = 3,
  Ones = 4
};

struct Node {
  OpKind op;
  std::vector<Node *> operands;
  Type type;
  AttrList attrs;
  std::string name; ///< Input / Param: its name; others: empty (numbered)
  SourceRange loc;  ///< where in the .sora file it came from
  int id = 0;       ///< position, for printing

  // Param only.
  ParamRole role = ParamRole::Weight;
  InitKind init = InitKind::Zeros;
  int64_t fanIn = 0, fanOut = 0;
  double initScale = 0; ///< Normal: the stddev; Uniform: the limit

  int group = -1; ///< index into Graph::groups, or -1
  /// For --profile: the layer this op computes for ("hidden", "loss") and
  /// in which phase ("forward", "backward", "update").
  std::string layer, phase;

  bool hasResult() const { return !type.none; }
};

/// Ops lowered as one loop nest (made by the fuse pass).
struct FusionGroup {
  enum Kind {
    Epilogue,       ///< the anchor's result flows through `chain` in
                    ///< registers; only the root's value is stored
    UpdateEpilogue, ///< a weight's gradient (matmul_tn, bias_grad) feeds
                    ///< its optimizer update element by element: the
                    ///< gradient is never stored
    OptimizerUpdate ///< every parameter updated in one loop
  } kind;
  Node *anchor = nullptr;
  std::vector<Node *> chain; ///< Epilogue: the elementwise ops after anchor;
                             ///< OptimizerUpdate: the updates
  Node *root = nullptr;      ///< where the group runs (its last node)
};

/// Scratch offsets chosen by the plan pass.
struct MemoryPlan {
  std::vector<std::pair<const Node *, int64_t>> offsets; ///< bytes
  int64_t bytes = 0;    ///< scratch the kernel needs
  int64_t peakLive = 0; ///< largest set of simultaneously live buffers
  int64_t sumOfBuffers = 0;
};

class Graph {
public:
  explicit Graph(std::string name) : name_(std::move(name)) {}

  const std::string &name() const { return name_; }

  /// Creates a node, infers its type with the op's shape rule and appends
  /// it. Shape errors here are compiler bugs (the front end checked shapes):
  /// they throw std::logic_error, which the driver reports as internal.
  Node *create(OpKind op, std::vector<Node *> operands, AttrList attrs = {});
  Node *input(const std::string &name, Type type);
  Node *param(const std::string &name, Type type, ParamRole role, InitKind init,
              int64_t fanIn = 0, int64_t fanOut = 0);
  Node *constant(double value);
  /// As create, but placed right after `position` in the node order (a
  /// node that only later nodes read, as `position`'s readers are).
  Node *createAfter(Node *position, OpKind op, std::vector<Node *> operands,
                    AttrList attrs = {});

  /// A graph result, named for the kernel that returns it.
  void addOutput(const std::string &name, Node *node) {
    outputs_.push_back({name, node});
  }
  struct Output {
    std::string name;
    Node *node;
  };
  const std::vector<Output> &outputs() const { return outputs_; }
  Node *output(const std::string &name) const;

  const std::vector<std::unique_ptr<Node>> &nodes() const { return nodes_; }
  std::vector<Node *> inputs() const;
  std::vector<Node *> params(ParamRole role) const;

  /// Rows a kernel of this graph handles per call (the batch capacity).
  int64_t maxBatch = 1;
  /// Made by the fuse pass; each member node's `group` indexes this.
  std::vector<FusionGroup> groups;
  /// Made by the plan pass.
  std::optional<MemoryPlan> plan;

  /// Labels the nodes from index `first` on (those made since) with a layer
  /// and a phase, unless already labelled.
  void label(size_t first, const std::string &layer, const std::string &phase);

  /// Makes every reader of `from` (and every output) read `to` instead.
  void replaceAllUses(Node *from, Node *to);

  /// Removes nodes for which `dead` is true (no remaining users assumed),
  /// keeping order, and renumbers.
  void erase(const std::vector<bool> &dead);
  void renumber();

private:
  std::string name_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Output> outputs_;
};

/// An attribute's value as the textual IR writes it: 0.5, 3, true,
/// exponential, [7, 7, 64].
std::string formatAttr(const AttrValue &value);

/// Prints the graph in the textual form (`sorac --emit=ir`).
void print(std::ostream &os, const Graph &g);

/// Checks operand counts, types against the shape rules, topological order
/// and outputs. Returns an empty string when valid, else what is wrong.
std::string verify(const Graph &g);

} // namespace sora::ir
