//===- ModelWriter.cpp - A checked model back as .sora source -------------===//
//
// Every node is written so that checking the text builds the same node at
// the same index: the nodes are written in index order, each binding's
// expression evaluating its nodes in the order the checker numbers them.
// A binding is a run of consecutive nodes, each the `->` input of the next
// and used nowhere else; a layer named by its binding (no `name:`) ends its
// run, so that it takes the binding's name as the checker gives it
// (SemaModel.cpp's nameLayers). Defaults come from Builtins.cpp's table, so
// an argument is written exactly when it differs from what the checker
// would take without it.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/ModelWriter.h"

#include "TrainWriter.h"
#include "sora/dsl/Builtins.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace sora::dsl {

namespace {

std::string num(double v) { return soraNumber(v); }

/// Nodes written as a call, which can be a step of a `->` chain; the
/// others are written with operators between bindings.
bool isCall(const Node &n) {
  return n.kind != Node::Input && n.kind != Node::Binary &&
         n.kind != Node::Affine && n.kind != Node::Reciprocal;
}

bool sameInit(const Init &a, const Init &b) {
  return a.kind == b.kind && a.scale == b.scale;
}

double defaultOf(const char *function, const char *param) {
  return lookupBuiltin(function)->param(param).dflt;
}

class Writer {
public:
  explicit Writer(const Model &m) : m_(m), binding_(m.nodes.size()) {}

  std::string run(std::string &error) {
    if (!check() || !nameBindings()) {
      error = error_;
      return "";
    }
    out_ += fmt::format("model {} {{\n", m_.name);
    for (size_t i = 0; i < m_.nodes.size(); ++i) {
      const Node &n = m_.nodes[i];
      if (n.kind == Node::Input)
        writeInput(n);
      else if (!absorbed(int(i)))
        writeBinding(int(i));
    }
    if (!error_.empty()) {
      error = error_;
      return "";
    }
    out_ += "}\n";
    if (m_.train) {
      std::string message;
      out_ += writeTrainBlock(m_, *m_.train, message);
      if (!message.empty())
        fail(message);
    }
    if (!error_.empty()) {
      error = error_;
      return "";
    }
    return out_;
  }

private:
  bool fail(const std::string &message) {
    if (error_.empty())
      error_ = message;
    return false;
  }

  /// What the text cannot say: names that are no identifiers, nodes that
  /// read later ones.
  bool check() {
    if (!soraIdentifier(m_.name))
      return fail(
          fmt::format("the model's name '{}' is not an identifier", m_.name));
    if (m_.output < 0 || m_.output >= int(m_.nodes.size()))
      return fail("the model has no output");
    uses_.assign(m_.nodes.size(), 0);
    ++uses_[m_.output];
    std::vector<int> inputs;
    for (size_t i = 0; i < m_.nodes.size(); ++i) {
      const Node &n = m_.nodes[i];
      if (!spellable(int(i)))
        return false;
      if (n.kind == Node::Input)
        inputs.push_back(int(i));
      else if (n.inputs.empty())
        return fail(fmt::format("node {} has no input", i));
      for (int in : n.inputs) {
        if (in < 0 || in >= int(i))
          return fail(fmt::format("node {} reads node {}, which is not "
                                  "before it",
                                  i, in));
        ++uses_[in];
      }
    }
    if (inputs != m_.inputs)
      return fail("the model's inputs are not its input nodes in order");
    for (int in : inputs)
      if (!soraBindable(m_.nodes[in].name))
        return fail(fmt::format("input '{}' has no .sora spelling: its name "
                                "is not an identifier (or is a built-in's)",
                                m_.nodes[in].name));
    return true;
  }

  /// Whether the language has a form for node `i` (some nodes of imported
  /// models have none); says why not.
  bool spellable(int i) {
    const Node &n = m_.nodes[i];
    switch (n.kind) {
    case Node::Constant:
      return fail(fmt::format("'{}' is a constant tensor, which .sora cannot "
                              "write (only imported models have one)",
                              n.name));
    case Node::Slice:
      return fail(fmt::format("'{}' slices the last dimension, which .sora "
                              "cannot write (only imported models do)",
                              n.name));
    case Node::Dense:
      if (!n.inputs.empty() && n.inputs[0] < i &&
          m_.nodes[n.inputs[0]].shape.size() != 1)
        return fail(fmt::format("dense layer '{}' reads a tensor of rank {}; "
                                "the language's dense() reads vectors",
                                n.name, m_.nodes[n.inputs[0]].shape.size()));
      return true;
    case Node::Conv2D:
      if (!n.pads.empty() && !explicitPadding(i))
        return fail(fmt::format("conv layer '{}' pads [{}], which is neither "
                                "padding: same nor valid",
                                n.name, fmt::join(n.pads, ", ")));
      return true;
    default:
      return true;
    }
  }

  /// A convolution's explicit padding (imported) as the language's: valid
  /// (no padding) or same (TensorFlow's: out = ceil(in / stride), the odd
  /// step after), when the padding before and the output say so. Records
  /// it in samePadding_; false when it is neither.
  bool explicitPadding(int i) {
    const Node &n = m_.nodes[i];
    if (n.inputs.empty() || n.inputs[0] >= i || n.pads.size() != 4)
      return false;
    const std::vector<int64_t> &in = m_.nodes[n.inputs[0]].shape;
    // Spatial dimensions: [h, w] of an image, [time] of a sequence (the
    // padding's left).
    std::vector<std::pair<int, int>> dims; // {dimension, index into pads}
    if (n.shape.size() == 3)
      dims = {{0, 0}, {1, 1}};
    else if (n.shape.size() == 2 && n.pads[0] == 0)
      dims = {{0, 1}};
    else
      return false;
    bool valid = true, same = true;
    for (auto [d, p] : dims) {
      if (d >= int(in.size()))
        return false;
      int64_t size = in[d], out = n.shape[d], before = n.pads[p];
      valid &= before == 0 && size >= n.kernel &&
               out == (size - n.kernel) / n.stride + 1;
      same &=
          out == (size + n.stride - 1) / n.stride &&
          before ==
              std::max<int64_t>((out - 1) * n.stride + n.kernel - size, 0) / 2;
    }
    if (!valid && !same)
      return false;
    samePadding_[i] = !valid;
    return true;
  }

  /// Node `i` is written as a `->` step inside the binding of node i + 1.
  bool absorbed(int i) const {
    return m_.nodes[i].kind != Node::Input && !ends_[i];
  }

  /// Whether node `i` can be the `->` input of node i + 1 in one binding:
  /// read by it alone, as its first input, both written as calls.
  bool chains(int i) const {
    if (i + 1 >= int(m_.nodes.size()) || uses_[i] != 1 || !isCall(m_.nodes[i]))
      return false;
    const Node &next = m_.nodes[i + 1];
    return isCall(next) && next.inputs[0] == i;
  }

  bool take(const std::string &name) { return taken_.insert(name).second; }

  bool implicitlyNamed(int i) const {
    const Node &n = m_.nodes[i];
    return n.hasWeights() && !n.name.empty() && !named_.count(i);
  }

  /// The binding name that makes the checker name the layers of nodes
  /// first..last as they are named (the last step's layer takes the
  /// binding's name, the others <binding>_<k>): "" when there is no layer to
  /// name (any name will do), nullopt when no name fits.
  std::optional<std::string> bindingFor(int first, int last) const {
    std::optional<std::string> b;
    int k = 0;
    for (int j = first; j <= last; ++j) {
      if (!m_.nodes[j].hasWeights())
        continue;
      ++k;
      if (!implicitlyNamed(j))
        continue;
      const std::string &name = m_.nodes[j].name;
      std::string want = name, suffix = fmt::format("_{}", k);
      if (j != last) {
        if (name.size() <= suffix.size() ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) !=
                0)
          return std::nullopt;
        want = name.substr(0, name.size() - suffix.size());
      }
      if (b && *b != want)
        return std::nullopt;
      b = want;
    }
    if (!b)
      return std::string();
    bool own = implicitlyNamed(last) && m_.nodes[last].name == *b;
    if (!soraBindable(*b) || (taken_.count(*b) && !own))
      return std::nullopt;
    return b;
  }

  /// The inputs' names and every layer's name are taken first, so that no
  /// other binding takes one; then the nodes are cut into bindings in
  /// order, each as long a chain as its layers' names allow.
  bool nameBindings() {
    for (int in : m_.inputs) {
      if (!take(m_.nodes[in].name))
        return fail(
            fmt::format("two inputs are named '{}'", m_.nodes[in].name));
      binding_[in] = m_.nodes[in].name;
    }
    for (size_t i = 0; i < m_.nodes.size(); ++i) {
      const Node &n = m_.nodes[i];
      if (!n.hasWeights())
        continue;
      if (soraBindable(n.name) && !taken_.count(n.name))
        take(n.name);
      else if (!n.name.empty())
        named_.insert(int(i)); // written with name:
    }
    ends_.assign(m_.nodes.size(), false);
    first_.assign(m_.nodes.size(), 0);
    for (int s = 0; s < int(m_.nodes.size());) {
      if (m_.nodes[s].kind == Node::Input) {
        ++s;
        continue;
      }
      int most = s;
      while (chains(most))
        ++most;
      std::optional<std::string> b;
      int e = most;
      for (; e > s; --e)
        if ((b = bindingFor(s, e)))
          break;
      if (e == s)
        b = bindingFor(s, s);
      ends_[e] = true;
      first_[e] = s;
      binding_[e] = b && !b->empty() ? *b : fresh(e);
      take(binding_[e]);
      s = e + 1;
    }
    // An input that is the output: `output image_1 = image`.
    if (m_.nodes[m_.output].kind == Node::Input)
      outputAlias_ = fresh(m_.output);
    return true;
  }

  /// A binding name for node `i` that no layer has: its own name if it has
  /// one, else its input's binding with its operation (`conv1_relu`), or
  /// `y` for the output.
  std::string fresh(int i) {
    const Node &n = m_.nodes[i];
    std::string base;
    if (soraBindable(n.name))
      base = n.name;
    if (base.empty() && !n.name.empty()) {
      for (char c : n.name)
        base += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      if (!soraIdentifier(base))
        base = "l_" + base;
    }
    if (base.empty()) {
      int first = n.kind == Node::Input ? i : first_[i];
      int head =
          m_.nodes[first].inputs.empty() ? -1 : m_.nodes[first].inputs[0];
      std::string op = operation(n);
      base = op;
      if (i == m_.output && head >= 0 && m_.nodes[head].hasWeights())
        base = afterLayer(binding_[head], "y");
      else if (i == m_.output)
        base = "y"; // as the language reference's models name it
      else if (head >= 0 && m_.nodes[head].kind == Node::Input)
        base = binding_[head] + "_" + op;
      else if (head >= 0 && m_.nodes[head].hasWeights())
        base = afterLayer(binding_[head], op);
    }
    std::string name = base;
    for (int k = 1; !soraBindable(name) || taken_.count(name); ++k)
      name = fmt::format("{}_{}", base, k);
    take(name);
    return name;
  }

  /// The binding after layer `layer`: `h` after `h_2` (the checker's name
  /// for a binding's layer that is not its last step), if free, else
  /// `conv1_relu`.
  std::string afterLayer(const std::string &layer, const std::string &op) {
    size_t bar = layer.find_last_of('_');
    if (bar != std::string::npos && bar > 0 && bar + 1 < layer.size() &&
        layer.find_first_not_of("0123456789", bar + 1) == std::string::npos) {
      std::string stem = layer.substr(0, bar);
      if (soraBindable(stem) && !taken_.count(stem))
        return stem;
    }
    return layer + "_" + op;
  }

  /// The built-in that builds node `n` (or the word for its operator).
  std::string operation(const Node &n) const {
    switch (n.kind) {
    case Node::Input:
      return "input";
    case Node::Dense:
      return "dense";
    case Node::Conv2D:
      return n.shape.size() == 2 ? "conv1d" : "conv2d";
    case Node::Pool2D: {
      const char *kind = n.pool == PoolKind::Max ? "max" : "avg";
      if (n.kernel == 0)
        return fmt::format("global_{}pool", kind);
      size_t rank = m_.nodes[n.inputs[0]].shape.size();
      return fmt::format("{}pool{}d", kind, rank == 2 ? 1 : 2);
    }
    case Node::Reshape:
      return n.shape.size() == 1 ? "flatten" : "reshape";
    case Node::Dropout:
      return "dropout";
    case Node::Activate:
      return n.activation.name;
    case Node::Binary:
      return n.op == BinaryOp::Add   ? "sum"
             : n.op == BinaryOp::Sub ? "difference"
             : n.op == BinaryOp::Mul ? "product"
                                     : "quotient";
    case Node::Affine:
      return "scaled";
    case Node::Reciprocal:
      return "reciprocal";
    case Node::Embedding:
      return "embedding";
    case Node::Dot:
      return "dot";
    case Node::Concat:
      return "concat";
    case Node::Recurrent:
      return n.cell == Node::Cell::LSTM  ? "lstm"
             : n.cell == Node::Cell::GRU ? "gru"
                                         : "simple_rnn";
    case Node::LayerNorm:
      return "layer_norm";
    case Node::BatchNorm:
      return "batch_norm";
    case Node::Transpose:
      return "transpose";
    case Node::Constant:
      return "constant";
    case Node::Slice:
      return "slice";
    }
    return "node";
  }

  std::string quoted(const std::string &s) {
    std::string message, text = soraString(s, message);
    if (!message.empty())
      fail(message);
    return text;
  }

  /// `relu`, or `leaky_relu(alpha: 0.2)` with the numbers that differ from
  /// the table's defaults.
  std::string activation(const Activation &a) {
    const Builtin *b = lookupBuiltin(a.name);
    if (!b || b->group != BuiltinGroup::Activation) {
      fail(fmt::format("the activation '{}' is not in the language", a.name));
      return a.name;
    }
    std::string args;
    for (const auto &[name, value] : a.numbers) {
      bool known = false;
      for (const Param &p : b->params)
        known |= p.kind == ParamKind::Number && name == p.name;
      if (!known) {
        fail(fmt::format("{} has no parameter '{}'", a.name, name));
        continue;
      }
      if (value != b->param(name).dflt)
        args +=
            fmt::format("{}{}: {}", args.empty() ? "" : ", ", name, num(value));
    }
    return args.empty() ? a.name : fmt::format("{}({})", a.name, args);
  }

  std::string init(const Init &i) {
    auto withDefault = [](const char *name, const char *param, double v) {
      double dflt = lookupTrainFunction(name, BuiltinGroup::Initializer)
                        ->param(param)
                        .dflt;
      return v == dflt ? std::string(name)
                       : fmt::format("{}({}: {})", name, param, num(v));
    };
    switch (i.kind) {
    case Init::GlorotUniform:
      return "glorot_uniform";
    case Init::Zeros:
      return "zeros";
    case Init::Normal:
      return withDefault("normal", "stddev", i.scale);
    case Init::Uniform:
      return withDefault("uniform", "limit", i.scale);
    }
    return "";
  }

  /// The initialiser a layer has without `init:` (Builtins.cpp's default,
  /// or the recurrent layers' PyTorch one of SemaExpr.cpp).
  Init defaultInit(const Node &n) const {
    if (n.kind == Node::Recurrent)
      return {Init::Uniform, 1 / std::sqrt(double(n.units))};
    if (n.kind == Node::Embedding)
      return {Init::Normal,
              lookupTrainFunction("normal", BuiltinGroup::Initializer)
                  ->param("stddev")
                  .dflt};
    return {Init::GlorotUniform, 0};
  }

  /// Node `i` as a call without its `->` input: `dense(64, activation:
  /// relu)`, or its bare name when it has no arguments.
  std::string step(int i) {
    const Node &n = m_.nodes[i];
    const std::string op = operation(n);
    std::vector<std::string> args;
    auto arg = [&](const std::string &name, const std::string &value) {
      args.push_back(name.empty() ? value : name + ": " + value);
    };
    auto layerName = [&] {
      if (named_.count(i))
        arg("name", quoted(n.name));
    };
    auto initArg = [&] {
      if (!sameInit(n.init, defaultInit(n)))
        arg("init", init(n.init));
    };
    switch (n.kind) {
    case Node::Dense:
      arg("", std::to_string(n.units));
      if (!n.activation.is("linear"))
        arg("activation", activation(n.activation));
      if (!n.useBias)
        arg("use_bias", "false");
      layerName();
      initArg();
      break;
    case Node::Conv2D:
      arg("", std::to_string(n.units));
      arg("kernel", std::to_string(n.kernel));
      if (n.stride != 1)
        arg("stride", std::to_string(n.stride));
      if (samePadding_.count(i) ? samePadding_[i] : n.samePadding)
        arg("padding", "same");
      if (!n.activation.is("linear"))
        arg("activation", activation(n.activation));
      layerName();
      initArg();
      break;
    case Node::Pool2D:
      if (n.kernel != 0) {
        arg("", std::to_string(n.kernel));
        if (n.stride != n.kernel)
          arg("stride", std::to_string(n.stride));
      }
      break;
    case Node::Reshape:
      if (n.shape.size() != 1) {
        std::string dims;
        for (int64_t d : n.shape)
          dims += (dims.empty() ? "" : ", ") + std::to_string(d);
        arg("", "[" + dims + "]");
      }
      break;
    case Node::Dropout:
      arg("", num(n.rate));
      break;
    case Node::Transpose:
      arg("perm", fmt::format("[{}]", fmt::join(n.perm, ", ")));
      break;
    case Node::Activate: {
      std::string a = activation(n.activation);
      // `leaky_relu(alpha: 0.2)` is already the step.
      return a;
    }
    case Node::Embedding:
      arg("", std::to_string(n.vocab));
      arg("", std::to_string(n.units));
      initArg();
      layerName();
      if (n.mask >= 0) {
        if (n.mask != n.inputs[0])
          fail(fmt::format("embedding '{}' is masked by ids other than its "
                           "own",
                           n.name));
        arg("mask_zero", "true");
      }
      break;
    case Node::Recurrent:
      arg("", std::to_string(n.units));
      if (n.cell == Node::Cell::RNN && !n.activation.is("tanh"))
        arg("activation", activation(n.activation));
      if (n.sequences)
        arg("sequences", "true");
      if (n.reverse)
        arg("reverse", "true");
      initArg();
      layerName();
      break;
    case Node::LayerNorm:
      if (n.epsilon != defaultOf("layer_norm", "epsilon"))
        arg("epsilon", num(n.epsilon));
      layerName();
      break;
    case Node::BatchNorm:
      if (n.momentum != defaultOf("batch_norm", "momentum"))
        arg("momentum", num(n.momentum));
      if (n.epsilon != defaultOf("batch_norm", "epsilon"))
        arg("epsilon", num(n.epsilon));
      layerName();
      break;
    case Node::Dot:
    case Node::Concat:
      for (size_t k = 1; k < n.inputs.size(); ++k)
        arg("", binding_[n.inputs[k]]);
      break;
    default:
      fail(fmt::format("node {} is no call", i));
    }
    if (n.hasWeights() && !n.trainable)
      arg("trainable", "false");
    if (args.empty())
      return op;
    std::string joined;
    for (const std::string &a : args)
      joined += (joined.empty() ? "" : ", ") + a;
    return op + "(" + joined + ")";
  }

  /// Affine, Reciprocal and Binary nodes: operators between bindings. The
  /// checker builds one node for `x * s`, `x + c`, `c - x`, `-x` and
  /// `c / x`; any other affine map is two (`x * s + c`).
  std::string operatorExpr(const Node &n) {
    const std::string &x = binding_[n.inputs[0]];
    auto signedTerm = [](double c) {
      return std::signbit(c) ? " - " + num(-c) : " + " + num(c);
    };
    switch (n.kind) {
    case Node::Binary: {
      const char *op = n.op == BinaryOp::Add   ? " + "
                       : n.op == BinaryOp::Sub ? " - "
                       : n.op == BinaryOp::Mul ? " * "
                                               : " / ";
      return x + op + binding_[n.inputs[1]];
    }
    case Node::Affine:
      if (n.scale == 1)
        return x + signedTerm(n.shift);
      if (n.scale == -1)
        return n.shift == 0 && !std::signbit(n.shift)
                   ? "-" + x
                   : num(n.shift) + " - " + x;
      if (n.shift == 0 && !std::signbit(n.shift))
        return x + " * " + num(n.scale);
      return x + " * " + num(n.scale) + signedTerm(n.shift);
    case Node::Reciprocal:
      return num(n.scale) + " / " + x;
    default:
      fail("not an operator node");
      return x;
    }
  }

  void writeInput(const Node &n) {
    std::string dims;
    for (int64_t d : n.shape)
      dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    out_ += fmt::format("    input {} : {}[{}]\n", n.name,
                        n.integer ? "i32" : "f32", dims);
    if (!outputAlias_.empty() && &n == &m_.nodes[m_.output])
      out_ += fmt::format("    output {} = {}\n", outputAlias_, n.name);
  }

  void writeBinding(int last) {
    int first = first_[last];
    const Node &n = m_.nodes[last];
    std::string expr;
    if (!isCall(n)) {
      expr = operatorExpr(n);
    } else if (first == last &&
               (n.kind == Node::Dot || n.kind == Node::Concat)) {
      expr = operation(n) + "(";
      for (size_t k = 0; k < n.inputs.size(); ++k)
        expr += (k ? ", " : "") + binding_[n.inputs[k]];
      expr += ")";
    } else {
      std::string prefix = fmt::format(
          "    {}{} = ", last == m_.output ? "output " : "", binding_[last]);
      expr = binding_[m_.nodes[first].inputs[0]];
      size_t width = prefix.size() + expr.size();
      for (int i = first; i <= last; ++i) {
        std::string s = " -> " + step(i);
        // Long chains continue on the next line, under the first arrow.
        if (width + s.size() > 80 && i != first) {
          expr += "\n" + std::string(prefix.size() + 1, ' ') + s.substr(1);
          width = prefix.size() + s.size();
        } else {
          expr += s;
          width += s.size();
        }
      }
      out_ += prefix + expr + "\n";
      return;
    }
    out_ += fmt::format("    {}{} = {}\n", last == m_.output ? "output " : "",
                        binding_[last], expr);
  }

  const Model &m_;
  std::string out_, error_;
  std::vector<int> uses_; ///< per node: readers, and 1 for the output
  std::vector<std::string> binding_; ///< per written node: its binding's name
  std::set<int> named_;              ///< layers written with `name:`
  std::map<int, bool> samePadding_;  ///< explicit paddings as same or valid
  std::vector<bool> ends_;           ///< per node: the last of a binding
  std::vector<int> first_;           ///< per binding's last node: its first
  std::set<std::string> taken_;      ///< binding names given so far
  std::string outputAlias_;          ///< the output's binding, if an input
};

} // namespace

bool canBind(const std::string &name) { return soraBindable(name); }

std::string writeModel(const Model &model, std::string &error) {
  return Writer(model).run(error);
}

} // namespace sora::dsl
