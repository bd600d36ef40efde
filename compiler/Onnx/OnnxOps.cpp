//===- OnnxOps.cpp - The op table and what its converters share -----------===//
//
// The op table: each row is an ONNX operator, the function that turns one
// node of it into model nodes (or folds it, for shape arithmetic on
// constants), and the attributes it understands; any other attribute is
// refused by name before the converter runs. A converter checks every
// attribute value and input it depends on and fails with a message when
// sorac cannot do what the node says. The rows live with their converters
// (ShapeOps.cpp, ElementwiseOps.cpp, LayerOps.cpp); this file joins them and
// holds the helpers they share (Converters.h).
//
//===----------------------------------------------------------------------===//
#include "Onnx/Converters.h"

#include <algorithm>
#include <cstring>

namespace sora::onnx {

using dsl::Node;

/// The product of dims[from, to), saturated at INT64_MAX (a file may
/// claim any shape); the batch and other negative markers count as 1.
int64_t product(const std::vector<int64_t> &dims, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < dims.size() && i < to; ++i) {
    int64_t d = std::max<int64_t>(dims[i], 1);
    if (n > INT64_MAX / d)
      return INT64_MAX;
    n *= d;
  }
  return n;
}

std::string shapeText(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") +
         (dims[i] == kBatch ? std::string("batch") : std::to_string(dims[i]));
  return s + "]";
}

/// A runtime tensor input (not a constant), or null after failing.
/// Whether `v` holds integer ids (an input, or ids reshaped or sliced),
/// which only an embedding reads.
bool holdsIds(Importer &im, const Value &v) {
  return !v.constant() && im.result.model.nodes[v.node].integer;
}

const Value *tensorInput(Importer &im, int i) {
  const Value *v = im.input(i);
  if (v && v->constant()) {
    im.fail("input " + std::to_string(i) +
            " must be computed from the model's inputs; a constant there "
            "is not supported");
    return nullptr;
  }
  if (v && holdsIds(im, *v)) {
    im.fail("input " + std::to_string(i) +
            " holds integer ids, which sorac reads only to look up rows of "
            "a table (Gather, an embedding)");
    return nullptr;
  }
  return v;
}

/// A constant float input of `rank` dimensions (any when -1), or null.
const Value *floatsInput(Importer &im, int i, int rank) {
  const Value *v = im.input(i);
  if (!v)
    return nullptr;
  if (v->kind == Value::Ints) { // integer data used as numbers
    static thread_local Value converted;
    converted = *v;
    converted.kind = Value::Floats;
    converted.floats.assign(v->ints.begin(), v->ints.end());
    v = &converted;
  }
  if (v->kind != Value::Floats) {
    im.fail("input " + std::to_string(i) +
            " must be a constant (an initializer) for sorac to import it");
    return nullptr;
  }
  if (rank >= 0 && int(v->dims.size()) != rank) {
    im.fail("input " + std::to_string(i) + " must have rank " +
            std::to_string(rank) + ", not " + shapeText(v->dims));
    return nullptr;
  }
  return v;
}

/// A constant integer input (shape, axes, indices), or null.
const Value *intsInput(Importer &im, int i) {
  const Value *v = im.input(i);
  if (v && v->kind != Value::Ints) {
    im.fail("input " + std::to_string(i) +
            " must be a constant list of integers");
    return nullptr;
  }
  return v;
}

/// data transposed: [rows, cols] -> [cols, rows].
std::vector<float> transposed(const std::vector<float> &data, int64_t rows,
                              int64_t cols) {
  std::vector<float> out(data.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[c * rows + r] = data[r * cols + c];
  return out;
}

/// `data` of logical `dims` with its axes put in the order `perm`.
std::vector<float> permuted(const std::vector<float> &data,
                            const std::vector<int64_t> &dims,
                            const std::vector<int64_t> &perm) {
  size_t rank = dims.size();
  std::vector<int64_t> stride(rank, 1), index(rank, 0);
  for (size_t a = rank; a-- > 1;)
    stride[a - 1] = stride[a] * dims[a];
  std::vector<float> out;
  out.reserve(data.size());
  for (int64_t n = 0; n < int64_t(data.size()); ++n) {
    int64_t from = 0;
    for (size_t a = 0; a < rank; ++a)
      from += index[a] * stride[perm[a]];
    out.push_back(data[from]);
    for (size_t a = rank; a-- > 0;) {
      if (++index[a] < dims[perm[a]])
        break;
      index[a] = 0;
    }
  }
  return out;
}

/// A model node of `kind` reading `inputs`, of `like`'s memory shape.
Value sameShape(Importer &im, Node n, const Value &like,
                std::vector<int> inputs) {
  n.inputs = std::move(inputs);
  n.shape = im.result.model.nodes[like.node].shape;
  if (n.name.empty())
    n.name = im.layerName(im.node->name().empty() ? im.node->op_type()
                                                  : im.node->name());
  Value v = like;
  v.node = im.add(std::move(n));
  return v;
}

Value activate(Importer &im, const Value &x, const std::string &name,
               std::vector<std::pair<std::string, double>> numbers) {
  Node n;
  n.kind = Node::Activate;
  n.activation.name = name;
  n.activation.numbers = std::move(numbers);
  return sameShape(im, std::move(n), x, {x.node});
}

Value affine(Importer &im, const Value &x, double scale, double shift) {
  Node n;
  n.kind = Node::Affine;
  n.scale = scale;
  n.shift = shift;
  return sameShape(im, std::move(n), x, {x.node});
}

/// A name for the layer whose weight is initializer `weight`: PyTorch's
/// "fc1.weight" gives "fc1".
std::string weightLayerName(Importer &im, const std::string &weight) {
  std::string base = weight;
  for (const char *suffix : {".weight", ".bias"})
    if (base.size() > std::strlen(suffix) &&
        base.compare(base.size() - std::strlen(suffix), std::string::npos,
                     suffix) == 0 &&
        base.find("::") == std::string::npos)
      return im.layerName(base.substr(0, base.size() - std::strlen(suffix)));
  return im.layerName(im.node->name().empty() ? weight : im.node->name());
}

namespace {

const std::vector<OpConverter> &table() {
  static const std::vector<OpConverter> rows = [] {
    std::vector<OpConverter> all;
    for (auto group : {shapeConverters, elementwiseConverters, layerConverters})
      for (OpConverter &c : group())
        all.push_back(std::move(c));
    return all;
  }();
  return rows;
}

} // namespace

const OpConverter *findConverter(const std::string &op) {
  for (const OpConverter &c : table())
    if (op == c.op)
      return &c;
  return nullptr;
}

std::vector<std::string> importedOps() {
  std::vector<std::string> ops;
  for (const OpConverter &c : table())
    ops.push_back(c.op);
  return ops;
}

} // namespace sora::onnx
