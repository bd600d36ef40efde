//===- Graph.cpp - Construction, printing and verification ----------------===//
#include "IR/Graph.h"

#include "IR/OpRules.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace sora::ir {

namespace {

/// One row of Ops.def.
struct OpInfo {
  const char *mnemonic;
  int operands;
  unsigned traits;
  GradSpec grad;
  std::vector<AttrId> attrs;
};

// Ops.def's columns, by the names its rows use.
namespace columns {
#define ATTR(Id, ...) constexpr AttrId Id = AttrId::Id;
#include "IR/Attrs.def"
constexpr auto WithX = GradSpec::WithX, WithY = GradSpec::WithY,
               DyOnly = GradSpec::DyOnly, Loss = GradSpec::Loss;
} // namespace columns

const std::vector<OpInfo> &opInfos() {
  using namespace columns;
#define NO_GRAD                                                                \
  GradSpec {}
#define GRAD_RULE                                                              \
  GradSpec { GradSpec::Rule }
#define GRAD_OP(Op, Reads)                                                     \
  GradSpec { GradSpec::Derived, OpKind::Op, Reads }
  static const std::vector<OpInfo> infos = {
#define OP(Enum, Mnemonic, Operands, Traits, Grad, ...)                        \
  {Mnemonic, Operands, unsigned(Traits), Grad, {__VA_ARGS__}},
#include "IR/Ops.def"
  };
#undef NO_GRAD
#undef GRAD_RULE
#undef GRAD_OP
  return infos;
}

} // namespace

const char *mnemonic(OpKind op) { return opInfos()[int(op)].mnemonic; }

int operandCount(OpKind op) { return opInfos()[int(op)].operands; }

bool takesOperands(OpKind op, size_t count) {
  int n = operandCount(op);
  if (n == kVariadic || n == kOneOrMore)
    return count >= (n == kVariadic ? 2u : 1u);
  // An update reads the clip scale last when clipping by norm.
  return int(count) == n || (hasTrait(op, Update) && int(count) == n + 1);
}

std::string operandCountText(OpKind op) {
  int n = operandCount(op);
  return n == kVariadic    ? "2 or more"
         : n == kOneOrMore ? "1 or more"
         : hasTrait(op, Update)
             ? fmt::format("{} (or {} with a clip scale)", n, n + 1)
             : std::to_string(n);
}

bool hasTrait(OpKind op, Trait trait) {
  return (opInfos()[int(op)].traits & trait) != 0;
}

const GradSpec &gradSpec(OpKind op) { return opInfos()[int(op)].grad; }

const std::vector<AttrId> &attrIds(OpKind op) {
  return opInfos()[int(op)].attrs;
}

std::optional<OpKind> opByMnemonic(const std::string &name) {
  for (int i = 0; i < kNumOps; ++i)
    if (name == mnemonic(OpKind(i)))
      return OpKind(i);
  return std::nullopt;
}

const char *scheduleName(LrSchedule s) {
  static const char *names[] = {"constant", "exponential", "step",   "linear",
                                "cosine",   "piecewise",   "plateau"};
  return names[int(s)];
}

const char *attrName(AttrId id) {
  static const char *names[] = {
#define ATTR(Id, Name, ...) Name,
#include "IR/Attrs.def"
  };
  return names[int(id)];
}

bool AttrList::has(AttrId id) const {
  for (const Attr &a : attrs_)
    if (a.id == id)
      return true;
  return false;
}

const AttrValue &AttrList::get(AttrId id) const {
  for (const Attr &a : attrs_)
    if (a.id == id)
      return a.value;
  throw std::logic_error(fmt::format("no attribute '{}'", attrName(id)));
}

AttrList AttrList::plus(std::initializer_list<Attr> extra) const {
  AttrList out = *this;
  out.attrs_.insert(out.attrs_.end(), extra);
  return out;
}

AttrValue declaredValue(AttrId id) {
  static const AttrValue values[] = {
#define ATTR(Id, Name, Accessor, Type) AttrValue(std::in_place_type<Type>),
#include "IR/Attrs.def"
  };
  return values[int(id)];
}

namespace {

/// Empty if `attrs` are exactly `op`'s declared attributes, in order and of
/// their declared types; else what is wrong.
std::string checkAttrs(OpKind op, const AttrList &attrs) {
  const std::vector<AttrId> &ids = attrIds(op);
  std::string expected;
  for (AttrId id : ids)
    expected += (expected.empty() ? "" : ", ") + std::string(attrName(id));
  bool ok = attrs.list().size() == ids.size();
  for (size_t i = 0; ok && i < ids.size(); ++i)
    ok = attrs.list()[i].id == ids[i] &&
         attrs.list()[i].value.index() == declaredValue(ids[i]).index();
  if (ok)
    return "";
  return ids.empty() ? "takes no attributes"
                     : "takes the attributes {" + expected + "}";
}

} // namespace

int64_t Type::elements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::string Type::str() const {
  if (none)
    return "none";
  std::string s = integer ? "i32[" : "f32[";
  bool first = true;
  if (batched) {
    s += "?";
    first = false;
  }
  for (int64_t d : dims) {
    s += (first ? "" : ", ") + std::to_string(d);
    first = false;
  }
  return s + "]";
}

Node *Graph::createAfter(Node *position, OpKind op,
                         std::vector<Node *> operands, AttrList attrs) {
  Node *n = create(op, std::move(operands), std::move(attrs));
  auto at = nodes_.begin() + position->id + 1;
  std::rotate(at, nodes_.end() - 1, nodes_.end());
  renumber();
  return n;
}

Node *Graph::create(OpKind op, std::vector<Node *> operands, AttrList attrs) {
  if (!takesOperands(op, operands.size()))
    throw std::logic_error(fmt::format("{} takes {} operands, got {}",
                                       mnemonic(op), operandCountText(op),
                                       operands.size()));
  for (const Node *o : operands)
    if (o->type.integer && !hasTrait(op, TakesIds))
      throw std::logic_error(fmt::format("{} cannot read the ids {}",
                                         mnemonic(op), o->type.str()));
  if (std::string error = checkAttrs(op, attrs); !error.empty())
    throw std::logic_error(fmt::format("{} {}", mnemonic(op), error));
  std::string error;
  Type type = shapeRule(op)(operands, attrs, error);
  if (!error.empty()) {
    std::string types;
    for (Node *o : operands)
      types += (types.empty() ? "" : ", ") + o->type.str();
    throw std::logic_error(
        fmt::format("{}({}): {}", mnemonic(op), types, error));
  }
  auto node = std::make_unique<Node>();
  node->op = op;
  node->operands = std::move(operands);
  node->attrs = std::move(attrs);
  node->type = type;
  node->id = int(nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

Node *Graph::input(const std::string &name, Type type) {
  auto node = std::make_unique<Node>();
  node->op = OpKind::Input;
  node->type = std::move(type);
  node->name = name;
  node->id = int(nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

Node *Graph::param(const std::string &name, Type type, ParamRole role,
                   InitKind init, int64_t fanIn, int64_t fanOut) {
  Node *n = input(name, std::move(type));
  n->op = OpKind::Param;
  n->role = role;
  n->init = init;
  n->fanIn = fanIn;
  n->fanOut = fanOut;
  return n;
}

Node *Graph::constant(double value) {
  Node *n = input("", Type{false, false, {}});
  n->op = OpKind::Const;
  n->attrs = {attr::value(value)};
  return n;
}

Node *Graph::output(const std::string &name) const {
  for (const Output &o : outputs_)
    if (o.name == name)
      return o.node;
  return nullptr;
}

std::vector<Node *> Graph::inputs() const {
  std::vector<Node *> out;
  for (auto &n : nodes_)
    if (n->op == OpKind::Input)
      out.push_back(n.get());
  return out;
}

std::vector<Node *> Graph::params(ParamRole role) const {
  std::vector<Node *> out;
  for (auto &n : nodes_)
    if (n->op == OpKind::Param && n->role == role)
      out.push_back(n.get());
  return out;
}

void Graph::label(size_t first, const std::string &layer,
                  const std::string &phase) {
  for (size_t i = first; i < nodes_.size(); ++i)
    if (nodes_[i]->layer.empty()) {
      nodes_[i]->layer = layer;
      nodes_[i]->phase = phase;
    }
}

void Graph::replaceAllUses(Node *from, Node *to) {
  for (auto &n : nodes_)
    for (Node *&o : n->operands)
      if (o == from)
        o = to;
  for (Output &o : outputs_)
    if (o.node == from)
      o.node = to;
}

void Graph::erase(const std::vector<bool> &dead) {
  std::vector<std::unique_ptr<Node>> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!dead[i])
      kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
  renumber();
}

void Graph::renumber() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    nodes_[i]->id = int(i);
}

namespace {
std::string valueName(const Node *n) {
  if (n->op == OpKind::Input || n->op == OpKind::Param)
    return "%" + n->name;
  return "%" + std::to_string(n->id);
}

std::string formatNumber(double v) { return fmt::format("{:g}", v); }

struct AttrPrinter {
  std::string operator()(double v) const { return formatNumber(v); }
  std::string operator()(int64_t v) const { return std::to_string(v); }
  std::string operator()(bool v) const { return v ? "true" : "false"; }
  std::string operator()(LrSchedule v) const { return scheduleName(v); }
  std::string operator()(const Dims &v) const {
    std::string s;
    for (int64_t d : v)
      s += (s.empty() ? "" : ", ") + std::to_string(d);
    return "[" + s + "]";
  }
  std::string operator()(const Numbers &v) const {
    std::string s;
    for (double d : v)
      s += (s.empty() ? "" : ", ") + formatNumber(d);
    return "[" + s + "]";
  }
};
} // namespace

std::string formatAttr(const AttrValue &value) {
  return std::visit(AttrPrinter{}, value);
}

/// How a weight is initialised, as the textual IR writes it.
static std::string weightInit(const Node &n) {
  switch (n.init) {
  case InitKind::Ones:
    return "init = ones";
  case InitKind::GlorotUniform:
    return fmt::format("init = glorot_uniform, fan_in = {}, fan_out = {}",
                       n.fanIn, n.fanOut);
  case InitKind::Normal:
    return fmt::format("init = normal, stddev = {}", n.initScale);
  case InitKind::Uniform:
    return fmt::format("init = uniform, limit = {}", n.initScale);
  case InitKind::Zeros:
    break;
  }
  return "init = zeros";
}

void print(std::ostream &os, const Graph &g) {
  os << "graph @" << g.name() << " {\n";
  for (auto &node : g.nodes()) {
    const Node *n = node.get();
    os << "  ";
    if (n->hasResult())
      os << valueName(n) << " = ";
    os << mnemonic(n->op) << "(";
    for (size_t i = 0; i < n->operands.size(); ++i)
      os << (i ? ", " : "") << valueName(n->operands[i]);
    os << ")";
    std::vector<std::string> attrs;
    if (n->op == OpKind::Param) {
      if (n->role == ParamRole::OptimizerState)
        attrs.push_back("role = optimizer_state");
      else if (n->role == ParamRole::Statistic)
        attrs.push_back(n->init == InitKind::Ones
                            ? "role = statistic, init = ones"
                            : "role = statistic, init = zeros");
      else
        attrs.push_back(
            (n->role == ParamRole::Frozen ? "role = frozen, " : "") +
            weightInit(*n));
    }
    for (const Attr &a : n->attrs)
      attrs.push_back(std::string(attrName(a.id)) + " = " +
                      formatAttr(a.value));
    if (!attrs.empty()) {
      os << " {";
      for (size_t i = 0; i < attrs.size(); ++i)
        os << (i ? ", " : "") << attrs[i];
      os << "}";
    }
    if (n->hasResult())
      os << " : " << n->type.str();
    if (n->group >= 0)
      os << "  # group " << n->group
         << (g.groups[n->group].root == n ? " root" : "");
    if (g.plan)
      for (const auto &[planned, offset] : g.plan->offsets)
        if (planned == n)
          os << "  # scratch " << offset;
    os << "\n";
  }
  os << "  return";
  for (size_t i = 0; i < g.outputs().size(); ++i)
    os << (i ? ", " : " ") << g.outputs()[i].name << " = "
       << valueName(g.outputs()[i].node);
  os << "\n";
  if (g.plan)
    os << "  # plan: " << g.plan->bytes << " bytes, largest live set "
       << g.plan->peakLive << ", sum of buffers " << g.plan->sumOfBuffers
       << "\n";
  os << "}\n";
}

std::string verify(const Graph &g) {
  std::set<const Node *> defined;
  std::set<std::string> leafNames;
  for (auto &node : g.nodes()) {
    const Node *n = node.get();
    std::string where = fmt::format("{} ({})", valueName(n), mnemonic(n->op));
    if (!takesOperands(n->op, n->operands.size()))
      return where + ": wrong number of operands";
    for (const Node *o : n->operands) {
      if (!defined.count(o))
        return where + ": uses a value before its definition";
      if (o->type.none)
        return where + ": uses an op that has no result";
    }
    if (n->op == OpKind::Input || n->op == OpKind::Param) {
      if (!leafNames.insert(n->name).second)
        return where + ": duplicate name";
    } else if (n->op != OpKind::Const) {
      if (std::string error = checkAttrs(n->op, n->attrs); !error.empty())
        return where + ": " + error;
      std::string error;
      Type t = shapeRule(n->op)(n->operands, n->attrs, error);
      if (!error.empty())
        return where + ": " + error;
      if (t != n->type)
        return where + ": type " + n->type.str() +
               " but the shape rule gives " + t.str();
    }
    defined.insert(n);
  }
  for (const Graph::Output &o : g.outputs())
    if (!defined.count(o.node))
      return "output '" + o.name + "' is not in the graph";
  return "";
}

} // namespace sora::ir
