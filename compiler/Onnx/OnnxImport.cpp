//===- OnnxImport.cpp - Walk an ONNX graph into a checked model -----------===//
//
// Reads the file, checks the opsets, turns initializers into constants and
// graph inputs into the model's inputs (a symbolic leading dimension is
// sora's batch; a model whose inputs have none takes each whole input as
// one sample), converts the nodes in order through the op table
// (OnnxOps.cpp) and marks the graph's output.
//
//===----------------------------------------------------------------------===//
#include "Onnx/Importer.h"
#include "Onnx/Tensors.h"
#include "sora/dsl/Builtins.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <ostream>
#include <sstream>

namespace sora::onnx {

using ::onnx::TensorProto;

// The opsets of the default domain this importer knows the operators of.
constexpr int kMinOpset = 6, kMaxOpset = 17;

/// Operators whose definition has not changed since opset 1, so that a
/// model of opsets 1 to 5 (which changed many others: consumed_inputs,
/// Reshape's shape attribute, Concat's default axis, Cast's type names)
/// imports when it uses these only.
bool sameSinceOpset1(const std::string &op) {
  static const std::set<std::string> ops = {
      "GlobalAveragePool", "GlobalMaxPool", "Softplus", "MatMul",
      "Transpose",         "Flatten",       "Gather",   "Identity"};
  return ops.count(op) > 0;
}

int Value::batchAxis() const {
  auto it = std::find(dims.begin(), dims.end(), kBatch);
  return it == dims.end() ? -1 : int(it - dims.begin());
}

std::vector<int64_t> Value::memoryShape() const {
  std::vector<int64_t> shape;
  for (int64_t axis : perm)
    shape.push_back(dims[axis]);
  return shape;
}

std::vector<int64_t> Value::logicalOrder() const {
  std::vector<int64_t> order;
  for (size_t i = 0; i < dims.size(); ++i)
    if (int(i) != batchAxis())
      order.push_back(int64_t(i));
  return order;
}

bool Importer::fail(const std::string &message) {
  errors_ << file_ << ": ";
  if (node) {
    std::string name = node->name();
    if (name.empty() && node->output_size())
      name = node->output(0);
    errors_ << "node '" << name << "' (" << node->op_type() << ", opset "
            << opset << "): ";
  }
  errors_ << "error: " << message << "\n";
  return false;
}

bool Importer::has(int i) const {
  return i < node->input_size() && !node->input(i).empty();
}

const Value *Importer::input(int i) {
  if (!has(i)) {
    fail("input " + std::to_string(i) + " is required");
    return nullptr;
  }
  auto it = values_.find(node->input(i));
  if (it == values_.end()) {
    fail("input '" + node->input(i) +
         "' is not defined before this node (the graph is not sorted, or "
         "has a cycle)");
    return nullptr;
  }
  return &it->second;
}

void Importer::define(int i, Value v) {
  if (i < node->output_size() && !node->output(i).empty())
    values_[node->output(i)] = std::move(v);
}

bool Importer::used(int i) const {
  return i < node->output_size() && !node->output(i).empty() &&
         uses(node->output(i)) > 0;
}

int Importer::uses(const std::string &name) const {
  auto it = uses_.find(name);
  return it == uses_.end() ? 0 : it->second;
}

const ::onnx::AttributeProto *Importer::attr(const char *name) const {
  for (const auto &a : node->attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t Importer::attrInt(const char *name, int64_t dflt) const {
  const auto *a = attr(name);
  return a ? a->i() : dflt;
}

double Importer::attrFloat(const char *name, double dflt) const {
  const auto *a = attr(name);
  return a ? a->f() : dflt;
}

std::vector<int64_t> Importer::attrInts(const char *name) const {
  const auto *a = attr(name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end())
           : std::vector<int64_t>{};
}

std::string Importer::attrString(const char *name,
                                 const std::string &dflt) const {
  const auto *a = attr(name);
  return a ? a->s() : dflt;
}

int Importer::add(dsl::Node n) {
  n.range = SourceRange{0, 0};
  // Ids moved about stay ids (an embedding may read them).
  bool moves = n.kind == dsl::Node::Transpose || n.kind == dsl::Node::Reshape ||
               n.kind == dsl::Node::Slice;
  for (int i : n.inputs)
    n.integer = n.integer || (moves && result.model.nodes[i].integer);
  result.model.nodes.push_back(std::move(n));
  return int(result.model.nodes.size()) - 1;
}

std::string Importer::layerName(const std::string &hint) {
  std::string name;
  for (char c : hint) {
    bool ok = std::isalnum(static_cast<unsigned char>(c));
    if (ok)
      name += c;
    else if (!name.empty() && name.back() != '_')
      name += '_';
  }
  while (!name.empty() && name.back() == '_')
    name.pop_back();
  if (name.empty())
    name = node ? node->op_type() : "layer";
  if (std::isdigit(static_cast<unsigned char>(name[0])))
    name = "l" + name;
  std::string unique = name;
  int &k = nextSuffix_.try_emplace(name, 2).first->second;
  while (!layerNames_.insert(unique).second)
    unique = name + "_" + std::to_string(k++);
  return unique;
}

void Importer::addWeight(const std::string &name, std::vector<int64_t> shape,
                         std::vector<float> data) {
  result.weights.push_back({name, std::move(shape), std::move(data)});
}

Value Importer::tensor(int id, std::vector<int64_t> dims,
                       std::vector<int64_t> perm) {
  Value v;
  v.node = id;
  v.dims = std::move(dims);
  v.perm = std::move(perm);
  return v;
}

Value Importer::inOrder(const Value &v, const std::vector<int64_t> &perm) {
  if (v.perm == perm)
    return v;
  dsl::Node t;
  t.kind = dsl::Node::Transpose;
  t.inputs = {v.node};
  for (int64_t axis : perm)
    t.perm.push_back(std::find(v.perm.begin(), v.perm.end(), axis) -
                     v.perm.begin());
  Value out = v;
  out.perm = perm;
  t.shape = out.memoryShape();
  t.name = layerName(node ? node->name() + "_transpose" : "transpose");
  out.node = add(std::move(t));
  return out;
}

Value Importer::withLast(const Value &v, int64_t axis) {
  if (!v.perm.empty() && v.perm.back() == axis)
    return v;
  std::vector<int64_t> perm;
  for (int64_t a : v.perm)
    if (a != axis)
      perm.push_back(a);
  perm.push_back(axis);
  return inOrder(v, perm);
}

Value Importer::relayout(const Value &v, std::vector<int64_t> dims,
                         std::vector<int64_t> perm) {
  Value out = v;
  out.dims = std::move(dims);
  out.perm = std::move(perm);
  std::vector<int64_t> from = v.memoryShape(), to = out.memoryShape();
  if (from == to)
    return out;
  dsl::Node r;
  r.kind = dsl::Node::Reshape;
  r.inputs = {v.node};
  r.shape = to.empty() ? std::vector<int64_t>{1} : to;
  r.name = layerName(node ? node->name() + "_reshape" : "reshape");
  out.node = add(std::move(r));
  if (to.empty()) { // a scalar per sample is stored as [1]
    out.dims.push_back(1);
    out.perm.push_back(int64_t(out.dims.size()) - 1);
  }
  return out;
}

bool Importer::normaliseAxis(int64_t &axis, size_t rank) {
  if (axis < 0)
    axis += int64_t(rank);
  if (axis < 0 || axis >= int64_t(rank))
    return fail("axis " + std::to_string(axis) + " is outside a rank-" +
                std::to_string(rank) + " tensor");
  return true;
}

bool Importer::acrossBatch(const Value &v, int64_t axis) {
  if (v.batchAxis() != axis)
    return false;
  fail("it works along the batch dimension (axis " + std::to_string(axis) +
       "), which sorac's kernels keep outside every operation");
  return true;
}

namespace {

bool isFloatType(int t) {
  return t == TensorProto::FLOAT || t == TensorProto::DOUBLE;
}
bool isIntType(int t) {
  return t == TensorProto::INT64 || t == TensorProto::INT32 ||
         t == TensorProto::INT16 || t == TensorProto::INT8 ||
         t == TensorProto::UINT8 || t == TensorProto::UINT16 ||
         t == TensorProto::UINT32;
}

} // namespace

bool Importer::readInputs(const ::onnx::GraphProto &g,
                          const ImportOptions &options) {
  for (const TensorProto &t : g.initializer()) {
    std::string error;
    Value v;
    v.dims.assign(t.dims().begin(), t.dims().end());
    if (isIntType(t.data_type())) {
      v.kind = Value::Ints;
      if (!readInts(t, dir_, v.ints, error))
        return fail("initializer " + error);
    } else {
      v.kind = Value::Floats;
      NamedTensor f;
      if (!readFloats(t, dir_, f, error))
        return fail("initializer " + error);
      v.floats = std::move(f.data);
    }
    values_[t.name()] = std::move(v);
  }
  if (g.sparse_initializer_size())
    return fail("sparse initializers are not supported");

  bool anyBatched = false, anyStatic = false;
  for (const auto &in : g.input()) {
    if (values_.count(in.name()))
      continue; // an initializer listed as an input too (IR version < 4)
    if (const NamedTensor *c = find(options.constantInputs, in.name())) {
      // An input declared integer (a shape, axes, indices) is an integer
      // constant, as an initializer of its type would be.
      Value v;
      v.dims = c->shape;
      if (in.type().has_tensor_type() &&
          isIntType(in.type().tensor_type().elem_type())) {
        v.kind = Value::Ints;
        for (float f : c->data) // saturated: INT64_MAX is "to the end"
          v.ints.push_back(f >= 9.2e18f    ? INT64_MAX
                           : f <= -9.2e18f ? INT64_MIN + 1
                                           : int64_t(f));
      } else {
        v.kind = Value::Floats;
        v.floats = c->data;
      }
      values_[in.name()] = std::move(v);
      continue;
    }
    if (!in.type().has_tensor_type())
      return fail("input '" + in.name() + "' is not a tensor");
    const auto &tt = in.type().tensor_type();
    int type = tt.elem_type();
    if (!isFloatType(type) && type != TensorProto::INT64 &&
        type != TensorProto::INT32)
      return fail("input '" + in.name() + "' has element type " +
                  elementTypeName(type) +
                  "; sorac reads float inputs and integer ids");
    if (!tt.has_shape())
      return fail("input '" + in.name() + "' has no shape");
    Value v;
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto &d = tt.shape().dim(i);
      if (d.has_dim_value() && d.dim_value() > 0) {
        if (d.dim_value() > dsl::kMaxElements)
          return fail("input '" + in.name() + "' has a dimension of " +
                      std::to_string(d.dim_value()) + ", more than 2^31");
        v.dims.push_back(d.dim_value());
      } else if (i == 0) {
        v.dims.push_back(kBatch);
      } else {
        return fail("input '" + in.name() + "' has a dynamic dimension " +
                    std::to_string(i) + " ('" + d.dim_param() +
                    "'); only the first may be dynamic (the batch)");
      }
    }
    int64_t elements = 1;
    for (int64_t d : v.dims)
      if (d != kBatch && (elements *= d) > dsl::kMaxElements)
        return fail("input '" + in.name() +
                    "' has more than 2^31 elements a sample");
    (v.batchAxis() == 0 ? anyBatched : anyStatic) = true;
    dsl::Node n;
    n.kind = dsl::Node::Input;
    n.name = layerName(in.name());
    n.integer = !isFloatType(type);
    v.perm = v.logicalOrder();
    n.shape = v.memoryShape();
    if (n.shape.empty())
      n.shape = {1};
    if (v.perm.empty()) { // [batch] or a scalar: one number a sample
      v.dims.push_back(1);
      v.perm = {int64_t(v.dims.size()) - 1};
    }
    v.node = add(std::move(n));
    result.model.inputs.push_back(v.node);
    values_[in.name()] = std::move(v);
  }
  if (anyBatched && anyStatic)
    return fail("some inputs have a dynamic batch dimension and others "
                "none; sorac needs one convention for all");
  if (result.model.inputs.empty())
    return fail("the graph has no inputs");
  return true;
}

bool Importer::convertNode(const ::onnx::NodeProto &n) {
  node = &n;
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    return fail("operators of domain '" + n.domain() + "' are not supported");
  if (opset < kMinOpset && !sameSinceOpset1(n.op_type()))
    return fail("opset " + std::to_string(opset) + "'s " + n.op_type() +
                " is not supported (sorac reads opsets " +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) +
                ")");
  const OpConverter *c = findConverter(n.op_type());
  if (!c)
    return fail("operator " + n.op_type() + " is not supported");
  for (const auto &a : n.attribute()) {
    bool known = std::any_of(c->attrs.begin(), c->attrs.end(),
                             [&](const char *k) { return a.name() == k; });
    if (!known)
      return fail("attribute '" + a.name() + "' of " + n.op_type() +
                  " is not supported");
  }
  return c->convert(*this);
}

std::optional<Value> Importer::lastStep(const Value &x, int64_t axis,
                                        int64_t index) {
  std::vector<dsl::Node> &nodes = result.model.nodes;
  std::vector<int> chain{x.node};
  while (nodes[chain.back()].kind == dsl::Node::Reshape)
    chain.push_back(nodes[chain.back()].inputs[0]);
  dsl::Node &r = nodes[chain.back()];
  if (r.kind != dsl::Node::Recurrent || !r.sequences || r.reverse ||
      x.perm.empty() || x.perm[0] != axis || index != x.dims[axis] - 1 ||
      r.shape.size() != 2 || r.shape[0] != x.dims[axis])
    return std::nullopt;
  // Nothing else may read the layer's steps: no other node, and no ONNX
  // value holding one of them read twice.
  for (const dsl::Node &n : nodes)
    for (int in : n.inputs)
      if (std::find(chain.begin(), chain.end(), in) != chain.end() &&
          std::find(chain.begin(), chain.end(), &n - nodes.data()) ==
              chain.end())
        return std::nullopt;
  for (const auto &[name, v] : values_)
    if (!v.constant() &&
        std::find(chain.begin(), chain.end(), v.node) != chain.end() &&
        uses(name) > 1)
      return std::nullopt;
  r.sequences = false;
  r.shape = {r.shape[1]};
  Value out = x;
  out.node = chain.back();
  out.dims.erase(out.dims.begin() + axis);
  out.perm.clear();
  for (size_t i = 1; i < x.perm.size(); ++i)
    out.perm.push_back(x.perm[i] > axis ? x.perm[i] - 1 : x.perm[i]);
  return relayout(tensor(out.node, {kBatch, r.shape[0]}, {1}), out.dims,
                  out.perm);
}

void Importer::removeDeadNodes() {
  std::vector<dsl::Node> &nodes = result.model.nodes;
  std::vector<bool> live(nodes.size(), false);
  live[result.model.output] = true;
  for (int i : result.model.inputs)
    live[i] = true;
  for (size_t i = nodes.size(); i-- > 0;)
    if (live[i])
      for (int in : nodes[i].inputs)
        live[in] = true;
  std::vector<int> index(nodes.size(), -1);
  std::vector<dsl::Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (live[i]) {
      index[i] = int(kept.size());
      kept.push_back(std::move(nodes[i]));
    }
  for (dsl::Node &n : kept)
    for (int &in : n.inputs)
      in = index[in];
  for (int &in : result.model.inputs)
    in = index[in];
  result.model.output = index[result.model.output];
  nodes = std::move(kept);
  // The weights of layers that went stay out of the model's file too.
  std::set<std::string> names;
  for (const dsl::Node &n : nodes)
    names.insert(n.name);
  Weights used;
  for (NamedTensor &t : result.weights)
    if (names.count(t.name.substr(0, t.name.rfind('.'))))
      used.push_back(std::move(t));
  result.weights = std::move(used);
}

bool Importer::checkSizes() {
  node = nullptr;
  for (const dsl::Node &n : result.model.nodes) {
    int64_t elements = 1;
    for (int64_t d : n.shape) {
      if (d < 1 || elements > dsl::kMaxElements / d)
        return fail("the tensor of '" + n.name +
                    "' is empty or larger than 2^31 elements a sample");
      elements *= d;
    }
  }
  return true;
}

bool Importer::setOutput(const ::onnx::GraphProto &g) {
  node = nullptr;
  if (g.output_size() != 1)
    return fail("sorac models have one output; the graph has " +
                std::to_string(g.output_size()));
  auto it = values_.find(g.output(0).name());
  if (it == values_.end())
    return fail("output '" + g.output(0).name() + "' is never computed");
  Value v = it->second;
  if (v.constant())
    return fail("output '" + g.output(0).name() +
                "' is a constant, not computed from the inputs");
  if (v.batchAxis() > 0)
    return fail("output '" + g.output(0).name() +
                "' has its batch dimension at axis " +
                std::to_string(v.batchAxis()) + "; sorac's is the first");
  if (result.model.nodes[v.node].integer)
    return fail("output '" + g.output(0).name() +
                "' holds integer ids; sorac's outputs are floats");
  v = inOrder(v, v.logicalOrder());
  // A model's output is a node of its own (not one of its inputs).
  if (result.model.nodes[v.node].kind == dsl::Node::Input) {
    dsl::Node id;
    id.kind = dsl::Node::Activate;
    id.inputs = {v.node};
    id.shape = result.model.nodes[v.node].shape;
    id.name = layerName("identity");
    v.node = add(std::move(id));
  }
  result.model.output = v.node;
  return true;
}

std::optional<Imported> Importer::run(const ::onnx::ModelProto &proto,
                                      const ImportOptions &options) {
  if (!proto.has_graph()) {
    fail("the file holds no ONNX graph (is it an ONNX model?)");
    return std::nullopt;
  }
  for (const auto &o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = int(o.version());
  if (proto.opset_import_size() == 0 && proto.ir_version() < 3)
    opset = 1;
  if (opset < 1 || opset > kMaxOpset) {
    fail(opset ? "opset " + std::to_string(opset) +
                     " is not supported (sorac reads opsets " +
                     std::to_string(kMinOpset) + " to " +
                     std::to_string(kMaxOpset) + ")"
               : std::string("the model imports no opset of the default "
                             "ONNX domain"));
    return std::nullopt;
  }
  result.producer = proto.producer_name();
  if (!proto.producer_version().empty())
    result.producer += " " + proto.producer_version();
  result.producer += (result.producer.empty() ? "" : ", ") +
                     std::string("opset ") + std::to_string(opset);
  result.model.name = options.name;

  const ::onnx::GraphProto &g = proto.graph();
  for (const auto &n : g.node())
    for (const std::string &in : n.input())
      ++uses_[in];
  for (const auto &out : g.output())
    ++uses_[out.name()];
  if (!readInputs(g, options))
    return std::nullopt;
  for (const auto &n : g.node())
    if (!convertNode(n))
      return std::nullopt;
  if (!setOutput(g))
    return std::nullopt;
  removeDeadNodes();
  if (!checkSizes())
    return std::nullopt;
  return std::move(result);
}

namespace {

/// The file's stem as an identifier: "mnist-mlp.onnx" -> "mnist_mlp".
std::string modelName(const std::string &path) {
  std::string stem = std::filesystem::path(path).stem().string(), name;
  for (char c : stem)
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    name = "m" + name;
  return name;
}

} // namespace

std::optional<Imported> importModel(const std::string &path,
                                    std::ostream &errors,
                                    const ImportOptions &options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors << "sorac: error: cannot open '" << path << "'\n";
    return std::nullopt;
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return importModelBytes(bytes.str(), path, errors, options);
}

std::optional<Imported> importModelBytes(const std::string &bytes,
                                         const std::string &path,
                                         std::ostream &errors,
                                         const ImportOptions &options) {
  ::onnx::ModelProto proto;
  if (!proto.ParseFromString(bytes)) {
    errors << path
           << ": error: not an ONNX model (the protobuf data is truncated "
              "or corrupt)\n";
    return std::nullopt;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  Importer importer(errors, path, dir.empty() ? "." : dir);
  ImportOptions named = options;
  if (named.name.empty())
    named.name = modelName(path);
  return importer.run(proto, named);
}

} // namespace sora::onnx
