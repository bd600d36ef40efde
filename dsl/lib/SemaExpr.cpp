//===- SemaExpr.cpp - Expressions, operators and calls of operations ---===//
//
// Each expression evaluates to a constant number, folded as it is met, or to
// a node of the model's DAG; a call is bound against the built-in table and
// its output shape inferred.
//
//===----------------------------------------------------------------------===//
#include "SemaImpl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace sora::dsl::sema {

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

Node Checker::likeInput(Node::Kind kind, int input, SourceRange where) {
  return makeNode(kind, {input}, model_->nodes[input].shape, where);
}

Val Checker::affine(Val x, double scale, double shift, SourceRange where) {
  if (!requireNumbers(x.node, x.range, "arithmetic"))
    return {};
  Node node = likeInput(Node::Affine, x.node, where);
  node.scale = scale;
  node.shift = shift;
  return {Val::Tensor, addNode(node), 0, where};
}

bool Checker::requireNumbers(int node, SourceRange where,
                             const std::string &what) {
  const Node &n = model_->nodes[node];
  if (!n.integer)
    return true;
  diags_.report(
      Diag::IdsAsNumbers, where,
      fmt::format("{} needs numbers; '{}' holds ids (i32)", what, n.name));
  diags_.note("ids are read by embedding(), e.g. " + n.name +
              " -> embedding(VOCAB, DIM)");
  return false;
}

Val Checker::combine(char op, Val lhs, Val rhs, SourceRange where) {
  if (lhs.kind == Val::Invalid || rhs.kind == Val::Invalid)
    return {};
  for (const Val &v : {lhs, rhs})
    if (v.kind == Val::Tensor &&
        !requireNumbers(v.node, v.range, fmt::format("'{}'", op)))
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
      Node node = likeInput(Node::Reciprocal, t.node, where);
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
  } else if (rank == 2 &&
             (call.callee.name == "conv1d" ||
              call.callee.name.find("pool") != std::string::npos)) {
    diags_.note("sequences are f32[time, channels]; reshape it first");
  } else if (rank == 2) {
    diags_.note("sequences are [time, features]: ids through an embedding "
                "give them");
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
  Val input = chainInput ? *chainInput : evalExpr(*bound->input());
  if (input.kind == Val::Invalid)
    return {};
  if (input.kind != Val::Tensor) {
    diags_.report(Diag::ArgumentType, input.range,
                  fmt::format("{}() expects a tensor as its input, got a "
                              "constant",
                              name));
    return {};
  }
  if (name != "embedding" &&
      !requireNumbers(input.node, input.range, name + "()"))
    return {};
  int id = -1;
  switch (b->group) {
  case BuiltinGroup::Layer:
    id = name == "dense" ? applyDense(call, *bound, input.node)
         : name == "conv2d" || name == "conv1d"
             ? applyConv2D(call, *bound, input.node)
         : name == "embedding" ? applyEmbedding(call, *bound, input.node)
         : name == "layer_norm" || name == "batch_norm"
             ? applyNorm(call, *bound, input.node)
             : applyRecurrent(call, *bound, input.node);
    if (id >= 0) {
      model_->nodes[id].trainable = bound->flag("trainable");
      bindingLayers_.push_back(id);
    }
    break;
  case BuiltinGroup::Activation:
    id = applyActivation(call, *bound, input.node);
    break;
  case BuiltinGroup::ShapeOrPooling:
    id = name == "flatten" || name == "reshape" || name == "transpose"
             ? applyShape(call, *bound, input.node)
             : applyPool(call, *bound, input.node);
    break;
  case BuiltinGroup::Regularisation:
    id = applyDropout(call, *bound, input.node);
    break;
  case BuiltinGroup::Combine:
    id = applyCombine(call, *bound, input.node);
    break;
  default:
    break;
  }
  if (id < 0)
    return {};
  return {Val::Tensor, id, 0, call.range};
}

SourceRange inputRange(const ast::Call &call, const Args &args) {
  return args.input() ? args.input()->range : call.range;
}

int Checker::applyDense(const ast::Call &call, Args &args, int input) {
  bool ok = requireRank(call, inputRange(call, args), input, 1);
  Node node = makeNode(Node::Dense, {input}, {}, call.range);
  node.unitsRange = args.expr("units")->range;
  if (!checkArgs(args) || !ok)
    return -1;
  node.units = args.whole("units");
  node.activation = args.activation("activation");
  node.useBias = args.flag("use_bias");
  node.init = args.init("init");
  node.name = args.text("name");
  if (model_->nodes[input].shape[0] * node.units > kMaxElements) {
    diags_.report(Diag::TensorTooLarge, call.range,
                  "this layer's weight has too many elements");
    return -1;
  }
  node.shape = {node.units};
  return addNode(node);
}
// conv2d: [h, w, channels] -> [h', w', filters]; conv1d: [time, channels] ->
// [time', filters], one row of an image (a Conv2D node of shape rank 2).
int Checker::applyConv2D(const ast::Call &call, Args &args, int input) {
  const bool oneD = call.callee.name == "conv1d";
  bool ok = requireRank(call, inputRange(call, args), input, oneD ? 2 : 3);
  Node node = makeNode(Node::Conv2D, {input}, {}, call.range);
  if (!checkArgs(args) || !ok)
    return -1;
  node.units = args.whole("filters");
  node.kernel = args.whole("kernel");
  node.stride = args.whole("stride");
  node.samePadding = args.text("padding") == "same";
  node.activation = args.activation("activation");
  node.init = args.init("init");
  node.name = args.text("name");
  std::vector<int64_t> in = model_->nodes[input].shape;
  if (oneD) {
    if (!node.samePadding && node.kernel > in[0]) {
      diags_.report(Diag::KernelTooLarge, args.expr("kernel")->range,
                    fmt::format("the kernel of {} steps does not fit the {} "
                                "steps of the input without padding",
                                node.kernel, in[0]));
      diags_.note("use padding: same, or a smaller kernel");
      return -1;
    }
    int64_t t = node.samePadding ? (in[0] + node.stride - 1) / node.stride
                                 : (in[0] - node.kernel) / node.stride + 1;
    node.shape = {t, node.units};
    if (product(node.shape) > kMaxElements ||
        node.units * node.kernel * in[1] > kMaxElements) {
      diags_.report(Diag::TensorTooLarge, call.range,
                    "this layer's output or weight has too many elements");
      return -1;
    }
    return addNode(node);
  }
  if (!node.samePadding && (node.kernel > in[0] || node.kernel > in[1])) {
    diags_.report(Diag::KernelTooLarge, args.expr("kernel")->range,
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

// ids [...] -> [..., dim]: the table's rows
int Checker::applyEmbedding(const ast::Call &call, Args &args, int input) {
  const Node &ids = model_->nodes[input];
  if (!ids.integer) {
    diags_.report(Diag::ArgumentType, inputRange(call, args),
                  fmt::format("embedding() reads ids: an i32 input, got {}",
                              shapeString(ids.shape)));
    return -1;
  }
  Node node = makeNode(Node::Embedding, {input}, ids.shape, call.range);
  if (!checkArgs(args))
    return -1;
  node.vocab = args.whole("vocab");
  node.units = args.whole("dim");
  node.init = args.init("init");
  node.name = args.text("name");
  if (args.flag("mask_zero"))
    node.mask = input;
  node.shape.push_back(node.units);
  if (node.vocab * node.units > kMaxElements ||
      product(node.shape) > kMaxElements) {
    diags_.report(Diag::TensorTooLarge, call.range,
                  "this embedding's table or output has too many elements");
    return -1;
  }
  return addNode(node);
}

// [time, features] -> [units], or [time, units] with sequences: true
int Checker::applyRecurrent(const ast::Call &call, Args &args, int input) {
  bool ok = requireRank(call, inputRange(call, args), input, 2);
  Node node = makeNode(Node::Recurrent, {input}, {}, call.range);
  if (!checkArgs(args) || !ok)
    return -1;
  const std::string &name = call.callee.name;
  node.cell = name == "lstm"  ? Node::Cell::LSTM
              : name == "gru" ? Node::Cell::GRU
                              : Node::Cell::RNN;
  node.units = args.whole("units");
  node.sequences = args.flag("sequences");
  node.reverse = args.flag("reverse");
  node.name = args.text("name");
  node.mask = maskOf(input);
  // PyTorch's default: every weight and bias U(-1/sqrt(units), ...).
  node.init = args.given("init")
                  ? args.init("init")
                  : Init{Init::Uniform, 1 / std::sqrt(double(node.units))};
  if (node.cell == Node::Cell::RNN) {
    node.activation = args.given("activation") ? args.activation("activation")
                                               : Activation{"tanh", {}};
    if (!node.activation.is("tanh") && !node.activation.is("relu")) {
      diags_.report(Diag::ArgumentType, args.expr("activation")->range,
                    "simple_rnn's activation is tanh or relu, as nn.RNN's");
      return -1;
    }
  }
  const std::vector<int64_t> &in = model_->nodes[input].shape;
  int64_t gates = node.cell == Node::Cell::LSTM  ? 4
                  : node.cell == Node::Cell::GRU ? 3
                                                 : 1;
  if (gates * node.units * (in[1] + node.units) > kMaxElements ||
      in[0] * node.units > kMaxElements) {
    diags_.report(Diag::TensorTooLarge, call.range,
                  "this layer's weights or output have too many elements");
    return -1;
  }
  node.shape = node.sequences ? std::vector<int64_t>{in[0], node.units}
                              : std::vector<int64_t>{node.units};
  return addNode(node);
}

// dot: [..., D] x [..., D] -> [..., 1]; concat: [..., A], [..., B], ... ->
// [..., A + B + ...]
int Checker::applyCombine(const ast::Call &call, Args &args, int input) {
  bool dot = call.callee.name == "dot";
  std::vector<int> inputs = {input};
  std::vector<int64_t> shape = model_->nodes[input].shape;
  for (const ast::Expr *e : args.exprs("b")) {
    Val other = evalExpr(*e);
    if (other.kind == Val::Invalid)
      return -1;
    if (other.kind != Val::Tensor) {
      diags_.report(Diag::ArgumentType, e->range,
                    fmt::format("{}() expects a tensor, got a constant",
                                call.callee.name));
      return -1;
    }
    if (!requireNumbers(other.node, other.range, call.callee.name + "()"))
      return -1;
    const std::vector<int64_t> &b = model_->nodes[other.node].shape;
    bool fits = dot ? shape == b
                    : shape.size() == b.size() &&
                          std::equal(shape.begin(), shape.end() - 1, b.begin());
    if (!fits) {
      diags_.report(
          Diag::ShapeMismatch, call.range,
          fmt::format("{}() needs {}, got {} and {}", call.callee.name,
                      dot ? "two tensors of one shape"
                          : "shapes that differ only in the last "
                            "dimension",
                      shapeString(model_->nodes[input].shape), shapeString(b)));
      return -1;
    }
    shape.back() = dot ? 1 : shape.back() + b.back();
    inputs.push_back(other.node);
  }
  Node node =
      makeNode(dot ? Node::Dot : Node::Concat, inputs, shape, call.range);
  return addNode(node);
}

// maxpool2d, avgpool2d: [h, w, c] -> [h', w', c]; maxpool1d, avgpool1d:
// [t, c] -> [t', c]; global_maxpool, global_avgpool: [t, c] or [h, w, c] ->
// [c].
int Checker::applyPool(const ast::Call &call, Args &args, int input) {
  const std::string &name = call.callee.name;
  const std::vector<int64_t> &in = model_->nodes[input].shape;
  bool global = name.rfind("global_", 0) == 0;
  bool oneD = name.back() == 'd' && name[name.size() - 2] == '1';
  bool ok;
  if (global && in.size() != 2 && in.size() != 3) {
    diags_.report(Diag::RankMismatch, inputRange(call, args),
                  fmt::format("{}() expects an input of rank 2 ([time, "
                              "channels]) or 3 ([h, w, channels]), got {}",
                              name, shapeString(in)));
    ok = false;
  } else {
    ok = global ||
         requireRank(call, inputRange(call, args), input, oneD ? 2 : 3);
  }
  Node node = makeNode(Node::Pool2D, {input}, {}, call.range);
  node.pool =
      name.find("max") != std::string::npos ? PoolKind::Max : PoolKind::Average;
  if (!checkArgs(args) || !ok)
    return -1;
  if (global) {
    node.shape = {in.back()};
    return addNode(node);
  }
  node.kernel = args.whole("size");
  // The stride defaults to the window's size.
  node.stride = args.given("stride") ? args.whole("stride") : node.kernel;
  if (oneD) {
    if (node.kernel > in[0]) {
      diags_.report(Diag::KernelTooLarge, args.expr("size")->range,
                    fmt::format("the pooling window of {} steps does not "
                                "fit the {} steps of the input",
                                node.kernel, in[0]));
      return -1;
    }
    node.shape = {(in[0] - node.kernel) / node.stride + 1, in[1]};
    return addNode(node);
  }
  if (node.kernel > in[0] || node.kernel > in[1]) {
    diags_.report(Diag::KernelTooLarge, args.expr("size")->range,
                  fmt::format("the {0}x{0} pooling window does not fit the "
                              "{1}x{2} input",
                              node.kernel, in[0], in[1]));
    return -1;
  }
  node.shape = {(in[0] - node.kernel) / node.stride + 1,
                (in[1] - node.kernel) / node.stride + 1, in[2]};
  return addNode(node);
}

int Checker::applyShape(const ast::Call &call, Args &args, int input) {
  const std::vector<int64_t> &in = model_->nodes[input].shape;
  Node node = makeNode(Node::Reshape, {input}, {product(in)}, call.range);
  if (call.callee.name == "transpose") {
    if (!checkArgs(args))
      return -1;
    node.kind = Node::Transpose;
    node.perm = args.dims("perm");
    std::vector<int64_t> sorted = node.perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted.size() != in.size() || sorted[i] != int64_t(i)) {
        diags_.report(
            Diag::ArgumentType, args.expr("perm")->range,
            fmt::format("transpose() of {} expects perm to list the axes 0 "
                        "to {} once each",
                        shapeString(in), in.size() - 1));
        return -1;
      }
    node.shape.clear();
    for (int64_t axis : node.perm)
      node.shape.push_back(in[axis]);
    return addNode(node);
  }
  if (call.callee.name == "reshape") {
    if (!checkArgs(args))
      return -1;
    node.shape = args.dims("shape");
    if (product(node.shape) != product(in)) {
      diags_.report(Diag::ReshapeSize, args.expr("shape")->range,
                    fmt::format("cannot reshape {} ({} elements) to {}",
                                shapeString(in), product(in),
                                shapeString(node.shape)));
      return -1;
    }
  }
  return addNode(node);
}

// layer_norm and batch_norm: the input's shape, over its last dimension
int Checker::applyNorm(const ast::Call &call, Args &args, int input) {
  if (!checkArgs(args))
    return -1;
  bool batch = call.callee.name == "batch_norm";
  Node node =
      likeInput(batch ? Node::BatchNorm : Node::LayerNorm, input, call.range);
  node.epsilon = args.number("epsilon");
  if (batch)
    node.momentum = args.number("momentum");
  node.name = args.text("name");
  return addNode(node);
}

int Checker::applyDropout(const ast::Call &call, Args &args, int input) {
  if (!checkArgs(args))
    return -1;
  Node node = likeInput(Node::Dropout, input, call.range);
  node.rate = args.number("rate");
  return addNode(node);
}

int Checker::applyActivation(const ast::Call &call, Args &args, int input) {
  if (!checkArgs(args))
    return -1;
  Node node = likeInput(Node::Activate, input, call.range);
  node.activation = activationOf(args);
  if (node.activation.is("softmax") &&
      !requireRank(call, inputRange(call, args), input, 1))
    return -1;
  return addNode(node);
}

} // namespace sora::dsl::sema
