//===- OnnxExport.cpp - A checked model and its weights to ONNX -----------===//
//
// Each layer-level node becomes the few standard ONNX ops that compute what
// the graph builder (IR/BuildGraph.cpp, BuildRecurrent.cpp, BuildNorm.cpp)
// makes of it at inference. Values carry the layer's name; the ops inside a
// layer are `<layer>/<OpType>`, its initializers `<layer>.<param>`.
//
//===----------------------------------------------------------------------===//
#include "Onnx/OnnxExport.h"

#include "Onnx/Tensors.h"

#include <cmath>
#include <set>

namespace sora::onnx {

namespace {

using dsl::Node;
using ::onnx::AttributeProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;
using Dims = std::vector<int64_t>;

/// Thrown with the message of a layer that cannot be exported; caught by
/// exportModel, so no half-built graph escapes.
struct ExportError {
  std::string message;
};

int64_t product(const Dims &d) {
  int64_t n = 1;
  for (int64_t x : d)
    n *= x;
  return n;
}

std::string dimsText(const Dims &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

/// "same" padding as BuildGraph.cpp's padBefore, TensorFlow's: the output
/// is ceil(in / stride), the odd step of padding after the input.
std::pair<int64_t, int64_t> pads(const Node &n, int64_t in, int64_t out) {
  if (!n.samePadding)
    return {0, 0};
  int64_t total = std::max<int64_t>((out - 1) * n.stride + n.kernel - in, 0);
  return {total / 2, total - total / 2};
}

class Exporter {
public:
  Exporter(const dsl::Model &model, const Weights &weights,
           ::onnx::GraphProto &graph)
      : m_(model), w_(weights), g_(graph) {}

  void run();

private:
  const dsl::Model &m_;
  const Weights &w_;
  ::onnx::GraphProto &g_;
  std::set<std::string> names_; ///< every value and initializer name used
  std::set<std::string> nodeNames_;
  std::vector<std::string> values_; ///< each dsl node's ONNX value
  std::string layer_;               ///< the layer being exported

  [[noreturn]] void fail(const std::string &what) const {
    throw ExportError{"layer '" + layer_ + "': " + what};
  }

  /// `base`, or `base_2`, `base_3`, ... if taken.
  std::string fresh(std::set<std::string> &taken, const std::string &base) {
    std::string name = base;
    for (int k = 2; !taken.insert(name).second; ++k)
      name = base + "_" + std::to_string(k);
    return name;
  }

  /// Appends `<layer>/<type>` with one output, `<layer>/<type>` too.
  NodeProto &add(const std::string &type, std::vector<std::string> inputs,
                 int outputs = 1) {
    NodeProto &p = *g_.add_node();
    p.set_op_type(type);
    p.set_name(fresh(nodeNames_, layer_ + "/" + type));
    for (std::string &in : inputs)
      p.add_input(std::move(in));
    for (int k = 0; k < outputs; ++k)
      p.add_output(fresh(
          names_, p.name() + (k ? "_" + std::to_string(k) : std::string())));
    return p;
  }

  std::string op(const std::string &type, std::vector<std::string> inputs) {
    return add(type, std::move(inputs)).output(0);
  }

  static void attr(NodeProto &p, const char *name, int64_t v) {
    AttributeProto &a = *p.add_attribute();
    a.set_name(name);
    a.set_type(AttributeProto::INT);
    a.set_i(v);
  }
  static void attr(NodeProto &p, const char *name, double v) {
    AttributeProto &a = *p.add_attribute();
    a.set_name(name);
    a.set_type(AttributeProto::FLOAT);
    a.set_f(float(v));
  }
  static void attr(NodeProto &p, const char *name, const Dims &v) {
    AttributeProto &a = *p.add_attribute();
    a.set_name(name);
    a.set_type(AttributeProto::INTS);
    for (int64_t x : v)
      a.add_ints(x);
  }
  static void attr(NodeProto &p, const char *name, const std::string &v) {
    AttributeProto &a = *p.add_attribute();
    a.set_name(name);
    a.set_type(AttributeProto::STRING);
    a.set_s(v);
  }
  static void attrStrings(NodeProto &p, const char *name,
                          const std::vector<std::string> &v) {
    AttributeProto &a = *p.add_attribute();
    a.set_name(name);
    a.set_type(AttributeProto::STRINGS);
    for (const std::string &s : v)
      a.add_strings(s);
  }

  /// A float initializer; its name as given where free.
  std::string initializer(const std::string &name, const Dims &shape,
                          const std::vector<float> &data) {
    std::string unique = fresh(names_, name);
    *g_.add_initializer() = floatTensor(unique, shape, data.data());
    return unique;
  }
  std::string scalar(const std::string &name, double v) {
    return initializer(layer_ + "/" + name, {}, {float(v)});
  }
  std::string int64s(const std::string &name, const Dims &v) {
    TensorProto &t = *g_.add_initializer();
    t.set_name(fresh(names_, layer_ + "/" + name));
    t.set_data_type(TensorProto::INT64);
    t.add_dims(int64_t(v.size()));
    for (int64_t x : v)
      t.add_int64_data(x);
    return t.name();
  }

  /// The layer's parameter `<layer><suffix>`, checked against its shape.
  const NamedTensor &param(const std::string &suffix, const Dims &shape) {
    std::string name = layer_ + suffix;
    const NamedTensor *t = find(w_, name);
    if (!t)
      fail("no weight '" + name + "' in the checkpoint");
    if (t->shape != shape || int64_t(t->data.size()) != product(shape))
      fail("weight '" + name + "' is " + dimsText(t->shape) + ", expected " +
           dimsText(shape));
    return *t;
  }

  std::string transpose(const std::string &x, const Dims &perm) {
    NodeProto &p = add("Transpose", {x});
    attr(p, "perm", perm);
    return p.output(0);
  }
  std::string reshape(const std::string &x, const Dims &perSample) {
    Dims shape{-1};
    shape.insert(shape.end(), perSample.begin(), perSample.end());
    return op("Reshape", {x, int64s("shape", shape)});
  }

  std::string activation(const std::string &x, const dsl::Activation &act,
                         const Dims &shape);
  std::string linearLayer(const Node &n, const std::string &x,
                          const Dims &inShape);
  std::string pool(const Node &n, const std::string &x, const Dims &inShape);
  std::string recurrent(const Node &n, const std::string &x,
                        const Dims &inShape);
  std::string norm(const Node &n, const std::string &x);
  std::string node(size_t i);
  void addValue(::onnx::ValueInfoProto &v, const std::string &name,
                const Dims &perSample, bool integer);
};

double number(const dsl::Activation &act, const char *name) {
  for (const auto &[key, value] : act.numbers)
    if (key == name)
      return value;
  return 0;
}

std::string Exporter::activation(const std::string &x,
                                 const dsl::Activation &act,
                                 const Dims &shape) {
  const std::string &a = act.name;
  if (a == "linear")
    return x;
  if (a == "relu")
    return op("Relu", {x});
  if (a == "sigmoid")
    return op("Sigmoid", {x});
  if (a == "tanh")
    return op("Tanh", {x});
  if (a == "softplus")
    return op("Softplus", {x});
  if (a == "leaky_relu" || a == "elu") {
    NodeProto &p = add(a == "elu" ? "Elu" : "LeakyRelu", {x});
    attr(p, "alpha", number(act, "alpha"));
    return p.output(0);
  }
  if (a == "selu") { // Formulas.cpp's constants, PyTorch's
    NodeProto &p = add("Selu", {x});
    attr(p, "alpha", 1.6732632423543772848170429916717);
    attr(p, "gamma", 1.0507009873554804934193349852946);
    return p.output(0);
  }
  if (a == "swish")
    return op("Mul", {x, op("Sigmoid", {x})});
  if (a == "gelu") { // x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, the exact form
    std::string e =
        op("Erf", {op("Div", {x, scalar("sqrt2", std::sqrt(2.0))})});
    std::string phi2 = op("Add", {e, scalar("one", 1)});
    return op("Mul", {op("Mul", {x, phi2}), scalar("half", 0.5)});
  }
  if (a == "softmax") {
    // Over all of a sample's elements: ONNX's Softmax takes one axis, so a
    // sample of rank above 1 (a conv2d's activation) is flattened first.
    if (shape.size() == 1) {
      NodeProto &p = add("Softmax", {x});
      attr(p, "axis", int64_t(-1));
      return p.output(0);
    }
    NodeProto &flat = add("Flatten", {x});
    attr(flat, "axis", int64_t(1));
    NodeProto &p = add("Softmax", {flat.output(0)});
    attr(p, "axis", int64_t(-1));
    return reshape(p.output(0), shape);
  }
  fail("activation '" + a + "' has no ONNX form");
}

/// dense as Gemm over a vector per sample, as MatMul and Add over more
/// axes (an imported MatMul's [?, T, K]); conv2d and conv1d as Conv
/// between transposes to channels-first and back.
std::string Exporter::linearLayer(const Node &n, const std::string &x,
                                  const Dims &inShape) {
  std::string y;
  if (n.kind == Node::Dense && inShape.size() > 1) {
    int64_t in = inShape.back();
    const NamedTensor &w = param(".weight", {n.units, in});
    // MatMul takes the weight [inputs, units]: sora's transposed.
    std::vector<float> t(w.data.size());
    for (int64_t u = 0; u < n.units; ++u)
      for (int64_t i = 0; i < in; ++i)
        t[i * n.units + u] = w.data[u * in + i];
    y = op("MatMul", {x, initializer(w.name, {in, n.units}, t)});
    if (n.useBias) {
      const NamedTensor &b = param(".bias", {n.units});
      y = op("Add", {y, initializer(b.name, b.shape, b.data)});
    }
  } else if (n.kind == Node::Dense) {
    int64_t in = inShape.at(0);
    const NamedTensor &w = param(".weight", {n.units, in});
    std::vector<std::string> ins{x, initializer(w.name, w.shape, w.data)};
    if (n.useBias) {
      const NamedTensor &b = param(".bias", {n.units});
      ins.push_back(initializer(b.name, b.shape, b.data));
    }
    NodeProto &p = add("Gemm", ins);
    attr(p, "transB", int64_t(1));
    y = p.output(0);
  } else {
    bool oneD = n.shape.size() == 2;
    int64_t c = inShape.back(), k = n.kernel, f = n.units;
    // sora's kernel [F, k(, k), C] becomes ONNX's [F, C, k(, k)].
    int64_t taps = oneD ? k : k * k;
    const NamedTensor &w =
        param(".weight", oneD ? Dims{f, k, c} : Dims{f, k, k, c});
    std::vector<float> permuted(w.data.size());
    for (int64_t o = 0; o < f; ++o)
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t ch = 0; ch < c; ++ch)
          permuted[(o * c + ch) * taps + t] = w.data[(o * taps + t) * c + ch];
    Dims onnxShape = oneD ? Dims{f, c, k} : Dims{f, c, k, k};
    std::vector<std::string> ins{oneD ? transpose(x, {0, 2, 1})
                                      : transpose(x, {0, 3, 1, 2}),
                                 initializer(w.name, onnxShape, permuted)};
    if (n.useBias) {
      const NamedTensor &b = param(".bias", {f});
      ins.push_back(initializer(b.name, b.shape, b.data));
    }
    NodeProto &p = add("Conv", ins);
    Dims padding, strides, kernel;
    Dims begin, end;
    for (size_t d = 0; d + 1 < n.shape.size(); ++d) {
      auto [before, after] = pads(n, inShape[d], n.shape[d]);
      // An imported conv's own pads {top, left, bottom, right}; a conv1d's
      // are its one row's, {0, left, 0, right}.
      if (!n.pads.empty()) {
        size_t axis = oneD ? 1 : d;
        before = n.pads.at(axis);
        after = n.pads.at(axis + 2);
      }
      // ONNX's output size from these pads must be sora's.
      if ((inShape[d] + before + after - k) / n.stride + 1 != n.shape[d])
        fail("the padding gives another output size than sora's");
      begin.push_back(before);
      end.push_back(after);
      strides.push_back(n.stride);
      kernel.push_back(k);
    }
    padding = begin;
    padding.insert(padding.end(), end.begin(), end.end());
    attr(p, "kernel_shape", kernel);
    attr(p, "strides", strides);
    attr(p, "pads", padding);
    y = oneD ? transpose(p.output(0), {0, 2, 1})
             : transpose(p.output(0), {0, 2, 3, 1});
  }
  return activation(y, n.activation, n.shape);
}

/// maxpool/avgpool 1-D and 2-D (no padding) between transposes to
/// channels-first and back; the global pools as GlobalMaxPool and
/// GlobalAveragePool there, flattened to [batch, C].
std::string Exporter::pool(const Node &n, const std::string &x,
                           const Dims &inShape) {
  bool max = n.pool == dsl::PoolKind::Max;
  if (n.shape.size() == 1) {
    Dims toChannelsFirst{0, int64_t(inShape.size())};
    for (size_t d = 1; d < inShape.size(); ++d)
      toChannelsFirst.push_back(int64_t(d));
    std::string y = op(max ? "GlobalMaxPool" : "GlobalAveragePool",
                       {transpose(x, toChannelsFirst)});
    NodeProto &p = add("Flatten", {y});
    attr(p, "axis", int64_t(1));
    return p.output(0);
  }
  bool oneD = inShape.size() == 2;
  NodeProto &p =
      add(max ? "MaxPool" : "AveragePool",
          {oneD ? transpose(x, {0, 2, 1}) : transpose(x, {0, 3, 1, 2})});
  attr(p, "kernel_shape", oneD ? Dims{n.kernel} : Dims{n.kernel, n.kernel});
  attr(p, "strides", oneD ? Dims{n.stride} : Dims{n.stride, n.stride});
  return oneD ? transpose(p.output(0), {0, 2, 1})
              : transpose(p.output(0), {0, 2, 3, 1});
}

/// lstm, gru and simple_rnn as ONNX's LSTM, GRU and RNN over [T, batch, F]:
/// PyTorch's gate blocks reordered to ONNX's (LSTM i,f,g,o -> i,o,f,c; GRU
/// r,z,n -> z,r,h with linear_before_reset, PyTorch's and sora's GRU).
std::string Exporter::recurrent(const Node &n, const std::string &x,
                                const Dims &inShape) {
  if (n.mask >= 0)
    fail("mask_zero has no ONNX form here (ONNX's sequence_lens skips only "
         "trailing padding)");
  const int64_t F = inShape.at(1), U = n.units;
  std::vector<int> order = n.cell == Node::Cell::LSTM  ? std::vector{0, 3, 1, 2}
                           : n.cell == Node::Cell::GRU ? std::vector{1, 0, 2}
                                                       : std::vector{0};
  const int64_t G = int64_t(order.size()) * U;
  const NamedTensor &wIh = param(".weight_ih", {G, F});
  const NamedTensor &wHh = param(".weight_hh", {G, U});
  const NamedTensor &bIh = param(".bias_ih", {G});
  const NamedTensor &bHh = param(".bias_hh", {G});
  // Blocks of U rows (of `width` floats each) in ONNX's gate order.
  auto reorder = [&](const std::vector<float> &v, int64_t width) {
    std::vector<float> out;
    for (int gate : order)
      out.insert(out.end(), v.begin() + gate * U * width,
                 v.begin() + (gate + 1) * U * width);
    return out;
  };
  std::vector<float> bias = reorder(bIh.data, 1), bh = reorder(bHh.data, 1);
  bias.insert(bias.end(), bh.begin(), bh.end());
  static const char *types[] = {"LSTM", "GRU", "RNN"};
  NodeProto &p =
      add(types[int(n.cell)],
          {transpose(x, {1, 0, 2}),
           initializer(layer_ + ".W", {1, G, F}, reorder(wIh.data, F)),
           initializer(layer_ + ".R", {1, G, U}, reorder(wHh.data, U)),
           initializer(layer_ + ".B", {1, 2 * G}, bias)},
          2);
  attr(p, "hidden_size", U);
  attr(p, "direction", std::string(n.reverse ? "reverse" : "forward"));
  if (n.cell == Node::Cell::GRU)
    attr(p, "linear_before_reset", int64_t(1));
  if (n.cell == Node::Cell::RNN)
    attrStrings(p, "activations", {n.activation.is("relu") ? "Relu" : "Tanh"});
  // Y [T, 1, batch, U] for every step, Y_h [1, batch, U] for the last.
  std::string y = p.output(0), yh = p.output(1);
  if (n.sequences) {
    p.set_output(1, "");
    return transpose(op("Squeeze", {y, int64s("axes", {1})}), {1, 0, 2});
  }
  p.set_output(0, "");
  return op("Squeeze", {yh, int64s("axes", {0})});
}

/// layer_norm spelled out (LayerNormalization is opset 17), batch_norm
/// with its running statistics folded into a scale and a shift per feature.
std::string Exporter::norm(const Node &n, const std::string &x) {
  int64_t C = n.shape.back();
  const NamedTensor &gamma = param(".weight", {C});
  const NamedTensor &beta = param(".bias", {C});
  if (n.kind == Node::LayerNorm) {
    auto mean = [&](const std::string &v) {
      NodeProto &p = add("ReduceMean", {v});
      attr(p, "axes", Dims{-1});
      attr(p, "keepdims", int64_t(1));
      return p.output(0);
    };
    std::string d = op("Sub", {x, mean(x)});
    std::string var = mean(op("Mul", {d, d}));
    std::string sd =
        op("Sqrt", {op("Add", {var, scalar("epsilon", n.epsilon)})});
    std::string xh = op("Div", {d, sd});
    std::string scaled =
        op("Mul", {xh, initializer(gamma.name, gamma.shape, gamma.data)});
    return op("Add", {scaled, initializer(beta.name, beta.shape, beta.data)});
  }
  const NamedTensor &mean = param(".running_mean", {C});
  const NamedTensor &var = param(".running_var", {C});
  // (x - mean) / sqrt(var + eps) * gamma + beta = x scale + shift.
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    double s = gamma.data[c] / std::sqrt(double(var.data[c]) + n.epsilon);
    scale[c] = float(s);
    shift[c] = float(beta.data[c] - mean.data[c] * s);
  }
  std::string scaled =
      op("Mul", {x, initializer(layer_ + ".scale", {C}, scale)});
  return op("Add", {scaled, initializer(layer_ + ".shift", {C}, shift)});
}

/// What an operation without a layer name is called (`relu_3`).
std::string kindWord(const Node &n) {
  switch (n.kind) {
  case Node::Activate:
    return n.activation.name;
  case Node::Reshape:
    return n.shape.size() == 1 ? "flatten" : "reshape";
  case Node::Pool2D:
    return std::string(n.shape.size() == 1 ? "global_" : "") +
           (n.pool == dsl::PoolKind::Max ? "maxpool" : "avgpool");
  case Node::Binary: {
    static const char *ops[] = {"add", "sub", "mul", "div"};
    return ops[int(n.op)];
  }
  case Node::Affine:
    return "affine";
  case Node::Reciprocal:
    return "reciprocal";
  case Node::Dot:
    return "dot";
  case Node::Transpose:
    return "transpose";
  case Node::Slice:
    return "slice";
  case Node::Concat:
    return "concat";
  case Node::Dropout:
    return "dropout";
  default:
    return "layer";
  }
}

/// The value of node `i` (its layer's ops appended).
std::string Exporter::node(size_t i) {
  const Node &n = m_.nodes[i];
  std::string x = n.inputs.empty() ? "" : values_[n.inputs[0]];
  Dims inShape = n.inputs.empty() ? Dims{} : m_.nodes[n.inputs[0]].shape;
  switch (n.kind) {
  case Node::Input: {
    if (!m_.scalesInputs() || n.integer)
      return n.name;
    // standardize: / normalize: as BuildGraph.cpp's scaleInput.
    const NamedTensor &scale = param(".scale", n.shape);
    const NamedTensor &shift = param(".shift", n.shape);
    std::string y =
        op("Mul", {n.name, initializer(scale.name, scale.shape, scale.data)});
    return op("Add", {y, initializer(shift.name, shift.shape, shift.data)});
  }
  case Node::Dense:
  case Node::Conv2D:
    return linearLayer(n, x, inShape);
  case Node::Activate:
    return activation(x, n.activation, n.shape);
  case Node::Pool2D:
    return pool(n, x, inShape);
  case Node::Reshape:
    return reshape(x, n.shape);
  case Node::Dropout: // the identity at inference
    return x;
  case Node::Binary: {
    static const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    return op(ops[int(n.op)], {x, values_[n.inputs[1]]});
  }
  case Node::Affine: {
    std::string y = x;
    if (n.scale != 1)
      y = op("Mul", {y, scalar("scale", n.scale)});
    if (n.shift != 0)
      y = op("Add", {y, scalar("shift", n.shift)});
    return y;
  }
  case Node::Reciprocal:
    return op("Div", {scalar("scale", n.scale), x});
  case Node::Embedding: {
    const NamedTensor &table = param(".weight", {n.vocab, n.units});
    NodeProto &p =
        add("Gather", {initializer(table.name, table.shape, table.data), x});
    attr(p, "axis", int64_t(0));
    return p.output(0);
  }
  case Node::Dot: {
    NodeProto &p = add("ReduceSum", {op("Mul", {x, values_[n.inputs[1]]}),
                                     int64s("axes", {-1})});
    attr(p, "keepdims", int64_t(1));
    return p.output(0);
  }
  case Node::Concat: {
    std::vector<std::string> parts;
    for (int input : n.inputs)
      parts.push_back(values_[input]);
    NodeProto &p = add("Concat", parts);
    attr(p, "axis", int64_t(-1));
    return p.output(0);
  }
  case Node::Transpose: {
    Dims perm{0}; // the batch stays first
    for (int64_t axis : n.perm)
      perm.push_back(axis + 1);
    return transpose(x, perm);
  }
  case Node::Constant: {
    // Per model, not per sample: ONNX broadcasting repeats it over the
    // batch and x's other leading axes, as sora's Binary does.
    const NamedTensor &c = param(".value", n.shape);
    return initializer(c.name, c.shape, c.data);
  }
  case Node::Slice:
    return op("Slice", {x, int64s("starts", {n.slice.at(0)}),
                        int64s("ends", {n.slice.at(0) + n.slice.at(1)}),
                        int64s("axes", {-1})});
  case Node::Recurrent:
    return recurrent(n, x, inShape);
  case Node::LayerNorm:
  case Node::BatchNorm:
    return norm(n, x);
  }
  fail("a layer kind the exporter does not know");
}

void Exporter::addValue(::onnx::ValueInfoProto &v, const std::string &name,
                        const Dims &perSample, bool integer) {
  v.set_name(name);
  auto &tensor = *v.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(integer ? TensorProto::INT32 : TensorProto::FLOAT);
  auto &shape = *tensor.mutable_shape();
  shape.add_dim()->set_dim_param("batch");
  for (int64_t d : perSample)
    shape.add_dim()->set_dim_value(d);
}

void Exporter::run() {
  g_.set_name(m_.name);
  for (int id : m_.inputs) {
    const Node &n = m_.nodes[id];
    names_.insert(n.name);
    addValue(*g_.add_input(), n.name, n.shape, n.integer);
  }
  values_.resize(m_.nodes.size());
  bool outputOwn = false;
  for (size_t i = 0; i < m_.nodes.size(); ++i) {
    const Node &n = m_.nodes[i];
    bool isOutput = int(i) == m_.output;
    std::string name = !n.name.empty() ? n.name
                       : isOutput      ? std::string("output")
                                       : kindWord(n) + "_" + std::to_string(i);
    layer_ = name;
    int before = g_.node_size();
    std::string value = node(i);
    // The layer's result takes the layer's name (its last op's output).
    bool own = g_.node_size() > before &&
               g_.node(g_.node_size() - 1).output(0) == value;
    if (own && names_.insert(name).second) {
      g_.mutable_node(g_.node_size() - 1)->set_output(0, name);
      value = name;
    }
    values_[i] = value;
    if (isOutput)
      outputOwn = own;
  }
  const Node &out = m_.nodes[m_.output];
  std::string result = values_[m_.output];
  // An output that is another node's value (an input's, a dropout's) gets
  // its own name, through Identity.
  if (!outputOwn) {
    layer_ = out.name.empty() ? "output" : out.name;
    NodeProto &p = add("Identity", {result});
    p.set_output(0, fresh(names_, layer_));
    result = p.output(0);
  }
  addValue(*g_.add_output(), result, out.shape, false);
}

} // namespace

bool exportModel(const dsl::Model &model, const Weights &weights,
                 std::string &bytes, std::string &error) {
  ::onnx::ModelProto proto;
  proto.set_ir_version(kExportIrVersion);
  proto.set_producer_name("sorac");
  auto &opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kExportOpset);
  try {
    Exporter(model, weights, *proto.mutable_graph()).run();
  } catch (const ExportError &e) {
    error = e.message;
    return false;
  }
  if (!proto.SerializeToString(&bytes)) {
    error = "the model is too large for one protobuf message (2 GiB)";
    return false;
  }
  return true;
}

} // namespace sora::onnx
