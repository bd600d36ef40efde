//===- OnnxOps.cpp - One converter per ONNX operator ----------------------===//
//
// The op table: each row is an ONNX operator, the function that turns one
// node of it into model nodes (or folds it, for shape arithmetic on
// constants), and the attributes it understands; any other attribute is
// refused by name before the converter runs. A converter checks every
// attribute value and input it depends on and fails with a message when
// sorac cannot do what the node says.
//
//===----------------------------------------------------------------------===//
#include "Onnx/Importer.h"
#include "Onnx/Tensors.h"
#include "sora/dsl/Builtins.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace sora::onnx {

namespace {

using dsl::Node;

/// Elements of the largest constant the importer makes (a broadcast one,
/// a ConstantOfShape): 64 MiB of floats.
constexpr int64_t kMaxConstant = int64_t(1) << 24;

/// The product of dims[from, to), saturated at INT64_MAX (a file may
/// claim any shape); the batch and other negative markers count as 1.
int64_t product(const std::vector<int64_t> &dims, size_t from = 0,
                size_t to = SIZE_MAX) {
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
const Value *floatsInput(Importer &im, int i, int rank = -1) {
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

// --- Constants and shape arithmetic ---------------------------------------

bool constantFromTensor(Importer &im, const ::onnx::TensorProto &t, Value &v) {
  std::string error;
  v.dims.assign(t.dims().begin(), t.dims().end());
  if (t.data_type() == ::onnx::TensorProto::FLOAT ||
      t.data_type() == ::onnx::TensorProto::DOUBLE) {
    v.kind = Value::Floats;
    NamedTensor f;
    if (!readFloats(t, ".", f, error))
      return im.fail(error);
    v.floats = std::move(f.data);
  } else {
    v.kind = Value::Ints;
    if (!readInts(t, ".", v.ints, error))
      return im.fail(error);
  }
  return true;
}

bool convertConstant(Importer &im) {
  Value v;
  if (const auto *a = im.attr("value")) {
    if (!constantFromTensor(im, a->t(), v))
      return false;
  } else if (const auto *f = im.attr("value_float")) {
    v.kind = Value::Floats;
    v.floats = {f->f()};
  } else if (const auto *fs = im.attr("value_floats")) {
    v.kind = Value::Floats;
    v.floats.assign(fs->floats().begin(), fs->floats().end());
    v.dims = {int64_t(v.floats.size())};
  } else if (const auto *i = im.attr("value_int")) {
    v.kind = Value::Ints;
    v.ints = {i->i()};
  } else if (const auto *is = im.attr("value_ints")) {
    v.kind = Value::Ints;
    v.ints.assign(is->ints().begin(), is->ints().end());
    v.dims = {int64_t(v.ints.size())};
  } else {
    return im.fail("Constant needs a value (sparse and string values are "
                   "not supported)");
  }
  im.define(0, std::move(v));
  return true;
}

// Shape(x) -> x's dims, the batch symbolic.
bool convertShape(Importer &im) {
  const Value *x = im.input(0);
  if (!x)
    return false;
  int64_t rank = int64_t(x->dims.size());
  int64_t start = im.attrInt("start", 0), end = im.attrInt("end", rank);
  start = std::clamp(start < 0 ? start + rank : start, int64_t(0), rank);
  end = std::clamp(end < 0 ? end + rank : end, int64_t(0), rank);
  Value v;
  v.kind = Value::Ints;
  v.ints.assign(x->dims.begin() + start,
                x->dims.begin() + std::max(start, end));
  v.dims = {int64_t(v.ints.size())};
  im.define(0, std::move(v));
  return true;
}

// ConstantOfShape(shape) -> a fill, its dims possibly holding the batch.
bool convertConstantOfShape(Importer &im) {
  const Value *shape = intsInput(im, 0);
  if (!shape)
    return false;
  Value v;
  v.kind = Value::Fill;
  v.dims = shape->ints;
  for (int64_t d : v.dims)
    if (d != kBatch && (d < 1 || d > dsl::kMaxElements))
      return im.fail("shape " + shapeText(v.dims) + " is not valid");
  if (const auto *a = im.attr("value")) {
    Value c;
    if (!constantFromTensor(im, a->t(), c))
      return false;
    v.fill = c.kind == Value::Floats ? c.floats.at(0) : double(c.ints.at(0));
  }
  if (v.batchAxis() < 0 && product(v.dims) <= kMaxConstant) {
    v.kind = Value::Floats;
    v.floats.assign(size_t(product(v.dims)), float(v.fill));
  }
  im.define(0, std::move(v));
  return true;
}

/// The axes a node names, from its attribute (older opsets) or its input
/// `i` (newer ones).
bool axesOf(Importer &im, int i, std::vector<int64_t> &axes) {
  if (im.attr("axes")) {
    axes = im.attrInts("axes");
    return true;
  }
  if (!im.has(i))
    return true;
  const Value *a = intsInput(im, i);
  if (!a)
    return false;
  axes = a->ints;
  return true;
}

// Unsqueeze: unit axes inserted (constants: integer lists, tensors: a
// relayout, the new axes last in memory).
bool convertUnsqueeze(Importer &im) {
  const Value *x = im.input(0);
  std::vector<int64_t> axes;
  if (!x || !axesOf(im, 1, axes))
    return false;
  size_t rank = x->dims.size() + axes.size();
  for (int64_t &a : axes)
    if (!im.normaliseAxis(a, rank))
      return false;
  std::sort(axes.begin(), axes.end());
  std::vector<int64_t> dims, oldToNew;
  for (size_t i = 0, k = 0; i < rank; ++i) {
    if (std::binary_search(axes.begin(), axes.end(), int64_t(i))) {
      dims.push_back(1);
    } else {
      oldToNew.push_back(int64_t(i));
      dims.push_back(x->dims[k++]);
    }
  }
  if (x->constant()) {
    Value v = *x;
    v.dims = dims;
    im.define(0, std::move(v));
    return true;
  }
  std::vector<int64_t> perm;
  for (int64_t a : x->perm)
    perm.push_back(oldToNew[a]);
  for (int64_t a : axes)
    perm.push_back(a);
  im.define(0, im.relayout(*x, dims, perm));
  return true;
}

// Squeeze: unit axes removed (all of them when none are named).
bool convertSqueeze(Importer &im) {
  const Value *x = im.input(0);
  std::vector<int64_t> axes;
  if (!x || !axesOf(im, 1, axes))
    return false;
  if (axes.empty())
    for (size_t i = 0; i < x->dims.size(); ++i)
      if (x->dims[i] == 1)
        axes.push_back(int64_t(i));
  for (int64_t &a : axes) {
    if (!im.normaliseAxis(a, x->dims.size()))
      return false;
    if (x->dims[a] != 1)
      return im.fail("cannot squeeze axis " + std::to_string(a) + " of " +
                     shapeText(x->dims) + ": it is not 1");
  }
  std::vector<int64_t> dims, oldToNew(x->dims.size(), -1);
  for (size_t i = 0; i < x->dims.size(); ++i)
    if (std::find(axes.begin(), axes.end(), int64_t(i)) == axes.end()) {
      oldToNew[i] = int64_t(dims.size());
      dims.push_back(x->dims[i]);
    }
  if (x->constant()) {
    Value v = *x;
    v.dims = dims;
    im.define(0, std::move(v));
    return true;
  }
  std::vector<int64_t> perm;
  for (int64_t a : x->perm)
    if (oldToNew[a] >= 0)
      perm.push_back(oldToNew[a]);
  im.define(0, im.relayout(*x, dims, perm));
  return true;
}

bool convertIdentity(Importer &im) {
  const Value *x = im.input(0);
  if (!x)
    return false;
  if (im.used(1))
    return im.fail("the dropout mask output is not supported");
  im.define(0, *x);
  return true;
}

// Dropout at inference is the identity; in training mode (input 2, opset
// 12 on; is_test = 0 before opset 7) it drops at random, unless its ratio
// (input 1) is 0.
bool convertDropout(Importer &im) {
  if (im.opset < 7 && !im.attrInt("is_test", 0))
    return im.fail("is_test = 0 drops at random; sorac imports dropout for "
                   "inference only");
  if (im.has(2)) {
    const Value *training = im.input(2);
    if (!training)
      return false;
    bool on =
        training->kind == Value::Ints
            ? std::any_of(training->ints.begin(), training->ints.end(),
                          [](int64_t v) { return v != 0; })
            : training->kind != Value::Floats ||
                  std::any_of(training->floats.begin(), training->floats.end(),
                              [](float v) { return v != 0; });
    const Value *ratio = im.has(1) ? floatsInput(im, 1) : nullptr;
    if (im.has(1) && !ratio)
      return false;
    bool dropsNone =
        ratio && std::all_of(ratio->floats.begin(), ratio->floats.end(),
                             [](float r) { return r == 0; });
    if (on && !dropsNone)
      return im.fail("training_mode = true drops at random; sorac imports "
                     "dropout for inference only");
  }
  return convertIdentity(im);
}

bool convertCast(Importer &im) {
  const Value *x = im.input(0);
  if (!x)
    return false;
  int to = int(im.attrInt("to", 0));
  bool toFloat =
      to == ::onnx::TensorProto::FLOAT || to == ::onnx::TensorProto::DOUBLE;
  Value v = *x;
  if (x->kind == Value::Ints && toFloat) {
    v.kind = Value::Floats;
    v.floats.assign(x->ints.begin(), x->ints.end());
  } else if (x->kind == Value::Floats && !toFloat) {
    v.kind = Value::Ints;
    for (float f : x->floats)
      v.ints.push_back(int64_t(f));
  } else if (x->kind == Value::Tensor) {
    bool integer = im.result.model.nodes[x->node].integer;
    if (integer != !toFloat)
      return im.fail("casting a tensor between integers and floats is not "
                     "supported");
  }
  im.define(0, std::move(v));
  return true;
}

// --- Elementwise ----------------------------------------------------------

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
               std::vector<std::pair<std::string, double>> numbers = {}) {
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

template <const char *Name> bool convertActivation(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  im.define(0, activate(im, *x, Name));
  return true;
}
constexpr char kRelu[] = "relu", kSigmoid[] = "sigmoid", kTanh[] = "tanh",
               kSoftplus[] = "softplus";

bool convertLeakyRelu(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  double alpha = im.attrFloat("alpha", 0.01);
  if (alpha < 0 || alpha > 1)
    return im.fail("alpha must be in [0, 1] for sorac's leaky_relu");
  im.define(0, activate(im, *x, "leaky_relu", {{"alpha", alpha}}));
  return true;
}

bool convertElu(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  im.define(0, activate(im, *x, "elu", {{"alpha", im.attrFloat("alpha", 1)}}));
  return true;
}

bool convertSelu(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  if (std::fabs(im.attrFloat("alpha", 1.67326319217681884765625) -
                1.6732632423543772) > 1e-6 ||
      std::fabs(im.attrFloat("gamma", 1.05070102214813232421875) -
                1.0507009873554805) > 1e-6)
    return im.fail("only SELU's standard alpha and gamma are supported");
  im.define(0, activate(im, *x, "selu"));
  return true;
}

bool convertNeg(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  im.define(0, affine(im, *x, -1, 0));
  return true;
}

bool convertReciprocal(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  Node n;
  n.kind = Node::Reciprocal;
  n.scale = 1;
  im.define(0, sameShape(im, std::move(n), *x, {x->node}));
  return true;
}

/// A softmax over each line of `v`'s last axis in memory. sora's softmax
/// normalises a whole sample; a sample of several lines is cut into them
/// (slices of the flattened sample), each normalised, and joined again.
bool lineSoftmax(Importer &im, const Value &v, Value &out) {
  constexpr int64_t kMaxLines = 4096; // two model nodes each
  std::vector<int64_t> shape = im.result.model.nodes[v.node].shape;
  int64_t width = shape.back(), lines = product(shape) / width;
  if (lines == 1) {
    out = activate(im, v, "softmax");
    return true;
  }
  if (lines > kMaxLines)
    return im.fail("a softmax over " + std::to_string(lines) +
                   " lines of a sample is not supported (at most " +
                   std::to_string(kMaxLines) + ")");
  std::string base =
      im.node->name().empty() ? std::string("softmax") : im.node->name();
  auto add = [&](Node n, std::vector<int> inputs, std::vector<int64_t> dims,
                 const std::string &suffix) {
    n.inputs = std::move(inputs);
    n.shape = std::move(dims);
    n.name = im.layerName(base + suffix);
    return im.add(std::move(n));
  };
  Node reshape;
  reshape.kind = Node::Reshape;
  int flat = add(reshape, {v.node}, {lines * width}, "_flat");
  Node concat;
  concat.kind = Node::Concat;
  std::vector<int> parts;
  for (int64_t r = 0; r < lines; ++r) {
    Node slice;
    slice.kind = Node::Slice;
    slice.slice = {r * width, width};
    int line = add(slice, {flat}, {width}, "_line");
    Node softmax;
    softmax.kind = Node::Activate;
    softmax.activation.name = "softmax";
    parts.push_back(add(softmax, {line}, {width}, ""));
  }
  int joined = add(concat, parts, {lines * width}, "_lines");
  out = v;
  out.node = add(reshape, {joined}, shape, "_reshape");
  return true;
}

// Softmax over `axis` (opset 13 on), or over everything from `axis` on
// (before: the input seen as 2-D).
bool convertSoftmax(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  int64_t rank = int64_t(x->dims.size());
  int64_t axis = im.attrInt("axis", im.opset >= 13 ? -1 : 1);
  if (!im.normaliseAxis(axis, size_t(rank)) || im.acrossBatch(*x, axis))
    return false;
  Value y;
  if (im.opset >= 13 || axis == rank - 1) {
    if (!lineSoftmax(im, im.withLast(*x, axis), y))
      return false;
    im.define(0, std::move(y));
    return true;
  }
  if (x->batchAxis() >= axis)
    return im.fail("a softmax over axes " + std::to_string(axis) +
                   " on would include the batch");
  Value v = im.inOrder(*x, x->logicalOrder());
  std::vector<int64_t> flat(v.dims.begin(), v.dims.begin() + axis);
  flat.push_back(product(v.dims, size_t(axis)));
  std::vector<int64_t> perm;
  for (size_t i = 0; i < flat.size(); ++i)
    if (flat[i] != kBatch)
      perm.push_back(int64_t(i));
  if (!lineSoftmax(im, im.relayout(v, flat, perm), y))
    return false;
  im.define(0, im.relayout(y, v.dims, v.perm));
  return true;
}

/// numpy's broadcast of the constant `c` over x's dims, in x's memory
/// order, cut to the shortest suffix of x's memory shape it varies over:
/// {suffix start, values of the suffix}. False (after failing) when c does
/// not broadcast to x.
bool broadcastConstant(Importer &im, const Value &x, const Value &c,
                       size_t &start, std::vector<float> &values) {
  size_t rank = x.dims.size();
  if (c.dims.size() > rank)
    return im.fail("the constant " + shapeText(c.dims) +
                   " has more dimensions than the tensor " + shapeText(x.dims));
  std::vector<int64_t> cd(rank, 1), cstride(rank, 0);
  std::copy(c.dims.begin(), c.dims.end(), cd.end() - c.dims.size());
  int64_t s = 1;
  for (size_t a = rank; a-- > 0;) {
    if (cd[a] != 1 && cd[a] != x.dims[a])
      return im.fail("the constant " + shapeText(c.dims) +
                     " does not broadcast to the tensor " + shapeText(x.dims) +
                     " without growing it");
    cstride[a] = cd[a] == 1 ? 0 : s;
    s *= cd[a];
  }
  std::vector<int64_t> shape = x.memoryShape();
  int64_t n = product(shape);
  if (n > kMaxConstant)
    return im.fail("the constant would repeat over " + std::to_string(n) +
                   " elements a sample; sorac stores at most " +
                   std::to_string(kMaxConstant));
  std::vector<float> expanded;
  expanded.reserve(size_t(n));
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t from = 0;
    for (size_t j = 0; j < shape.size(); ++j)
      from += index[j] * cstride[x.perm[j]];
    expanded.push_back(c.floats.empty() ? 0 : c.floats[from]);
    for (size_t j = shape.size(); j-- > 0;) {
      if (++index[j] < shape[j])
        break;
      index[j] = 0;
    }
  }
  for (start = shape.size();; --start) {
    int64_t period = product(shape, start);
    bool repeats = true;
    for (int64_t e = period; e < n && repeats; ++e)
      repeats = expanded[e] == expanded[e % period];
    if (repeats || start == 0) {
      values.assign(expanded.begin(), expanded.begin() + period);
      return true;
    }
  }
}

/// x op c for a constant c (or c op x when `constantFirst`).
bool constantBinary(Importer &im, const Value &x, const Value &c,
                    dsl::BinaryOp op, bool constantFirst) {
  size_t start = 0;
  std::vector<float> values;
  if (!broadcastConstant(im, x, c, start, values))
    return false;
  // Sub and Div become Add and Mul: x - c = x + (-c), x / c = x * (1 / c),
  // c - x = (-x) + c, c / x = (1 / x) * c.
  Value v = x;
  if (constantFirst && op == dsl::BinaryOp::Sub)
    v = affine(im, x, -1, 0);
  if (constantFirst && op == dsl::BinaryOp::Div) {
    Node r;
    r.kind = Node::Reciprocal;
    r.scale = 1;
    v = sameShape(im, std::move(r), x, {x.node});
  }
  bool adds = op == dsl::BinaryOp::Add || op == dsl::BinaryOp::Sub;
  for (float &f : values)
    f = !constantFirst && op == dsl::BinaryOp::Sub   ? -f
        : !constantFirst && op == dsl::BinaryOp::Div ? 1 / f
                                                     : f;
  if (values.size() == 1) {
    im.define(0,
              adds ? affine(im, v, 1, values[0]) : affine(im, v, values[0], 0));
    return true;
  }
  // A layer without bias (an imported MatMul) followed by + b takes b.
  Node &prev = im.result.model.nodes[v.node];
  std::vector<int64_t> shape = x.memoryShape();
  if (adds && prev.kind == Node::Dense && !prev.useBias &&
      start + 1 == shape.size() &&
      im.uses(im.node->input(constantFirst)) == 1) {
    prev.useBias = true;
    im.addWeight(prev.name + ".bias", {int64_t(values.size())}, values);
    im.define(0, v);
    return true;
  }
  Node k;
  k.kind = Node::Constant;
  k.shape.assign(shape.begin() + start, shape.end());
  k.name = im.layerName(im.node->input(constantFirst) + "_const");
  im.addWeight(k.name + ".value", k.shape, values);
  int kid = im.add(std::move(k));
  Node b;
  b.kind = Node::Binary;
  b.op = adds ? dsl::BinaryOp::Add : dsl::BinaryOp::Mul;
  im.define(0, sameShape(im, std::move(b), v, {v.node, kid}));
  return true;
}

template <dsl::BinaryOp Op> bool convertBinary(Importer &im) {
  const Value *a = im.input(0), *b = im.input(1);
  if (!a || !b)
    return false;
  if (a->kind == Value::Ints && b->kind == Value::Ints) {
    // Shape arithmetic (elementwise, same length or a scalar).
    Value v = a->ints.size() >= b->ints.size() ? *a : *b;
    for (size_t i = 0; i < v.ints.size(); ++i) {
      int64_t p = a->ints[a->ints.size() == 1 ? 0 : i];
      int64_t q = b->ints[b->ints.size() == 1 ? 0 : i];
      if (p == kBatch || q == kBatch)
        return im.fail("arithmetic on the batch size is not supported");
      v.ints[i] = Op == dsl::BinaryOp::Add   ? p + q
                  : Op == dsl::BinaryOp::Sub ? p - q
                  : Op == dsl::BinaryOp::Mul ? p * q
                  : q                        ? p / q
                                             : 0;
    }
    im.define(0, std::move(v));
    return true;
  }
  if (a->constant() && b->constant())
    return im.fail("arithmetic between constants is not folded yet");
  if (holdsIds(im, *a) || holdsIds(im, *b))
    return im.fail("arithmetic on integer ids is not supported");
  if (a->constant() || b->constant()) {
    const Value *c = floatsInput(im, a->constant() ? 0 : 1);
    if (!c)
      return false;
    // Opsets before 7: with broadcast = 1, B's dims line up with A's from
    // `axis` on (numpy's rule when no axis is given).
    Value aligned = *c;
    if (const auto *axis = im.attr("axis"); axis && b->constant()) {
      int64_t at = axis->i();
      if (!im.normaliseAxis(at, a->dims.size()))
        return false;
      if (at + c->dims.size() > a->dims.size())
        return im.fail("B " + shapeText(c->dims) + " does not fit A " +
                       shapeText(a->dims) + " from axis " + std::to_string(at));
      aligned.dims.resize(a->dims.size() - size_t(at), 1);
    }
    return constantBinary(im, a->constant() ? *b : *a, aligned, Op,
                          a->constant());
  }
  if (a->dims != b->dims)
    return im.fail("sorac combines tensors of one shape; " +
                   shapeText(a->dims) + " and " + shapeText(b->dims) +
                   " differ");
  Node n;
  n.kind = Node::Binary;
  n.op = Op;
  Value bb = im.inOrder(*b, a->perm);
  im.define(0, sameShape(im, std::move(n), *a, {a->node, bb.node}));
  return true;
}

// --- Shapes ---------------------------------------------------------------

bool convertTranspose(Importer &im) {
  const Value *x = im.input(0);
  if (!x)
    return false;
  size_t rank = x->dims.size();
  std::vector<int64_t> perm = im.attrInts("perm");
  if (perm.empty())
    for (size_t i = rank; i-- > 0;)
      perm.push_back(int64_t(i));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < rank; ++i)
    if (sorted.size() != rank || sorted[i] != int64_t(i))
      return im.fail("perm must list the axes 0 to " +
                     std::to_string(rank - 1) + " once each");
  std::vector<int64_t> dims, inverse(rank);
  for (size_t i = 0; i < rank; ++i) {
    dims.push_back(x->dims[perm[i]]);
    inverse[perm[i]] = int64_t(i);
  }
  Value v = *x;
  v.dims = dims;
  if (x->kind == Value::Floats) {
    v.floats = permuted(x->floats, x->dims, perm);
  } else if (x->constant()) {
    return im.fail("transposing this constant is not supported");
  } else {
    // Nothing moves: the same memory, its axes renamed.
    for (int64_t &a : v.perm)
      a = inverse[a];
  }
  im.define(0, std::move(v));
  return true;
}

/// A reshape of x (in ONNX's order) to `dims`, which may hold kBatch.
bool reshapeTo(Importer &im, const Value &x, std::vector<int64_t> dims) {
  if (x.kind == Value::Floats || x.kind == Value::Ints) {
    Value v = x;
    v.dims = dims;
    im.define(0, std::move(v));
    return true;
  }
  Value v = im.inOrder(x, x.logicalOrder());
  int batch = int(std::find(dims.begin(), dims.end(), kBatch) - dims.begin());
  if (x.batchAxis() >= 0 && batch != 0)
    return im.fail("the reshape to " + shapeText(dims) +
                   " does not keep the batch as the first dimension");
  std::vector<int64_t> perm;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != kBatch)
      perm.push_back(int64_t(i));
  im.define(0, im.relayout(v, dims, perm));
  return true;
}

bool convertReshape(Importer &im) {
  const Value *x = im.input(0), *shape = intsInput(im, 1);
  if (!x || !shape)
    return false;
  if (im.attrInt("allowzero", 0))
    return im.fail("allowzero = 1 is not supported");
  std::vector<int64_t> dims = shape->ints;
  int64_t known = 1, infer = -1;
  int64_t perSample = 1;
  for (int64_t d : x->dims)
    if (d != kBatch)
      perSample *= d;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0 && i < x->dims.size())
      dims[i] = x->dims[i];
    if (dims[i] == -1) {
      if (infer >= 0)
        return im.fail("the shape has two -1 dimensions");
      infer = int64_t(i);
    } else if (dims[i] != kBatch) {
      if (dims[i] < 1 || dims[i] > dsl::kMaxElements)
        return im.fail("shape " + shapeText(shape->ints) + " is not valid");
      known *= dims[i];
      if (known > dsl::kMaxElements)
        return im.fail("shape " + shapeText(shape->ints) + " is too large");
    }
  }
  bool batched = x->batchAxis() >= 0;
  bool hasBatch = std::find(dims.begin(), dims.end(), kBatch) != dims.end();
  if (infer >= 0) {
    if (batched && !hasBatch && infer == 0 && known == perSample)
      dims[0] = kBatch; // [-1, ...]: the batch
    else if (known && perSample % known == 0)
      dims[infer] = perSample / known;
    else
      return im.fail("cannot reshape " + shapeText(x->dims) + " to " +
                     shapeText(shape->ints));
  }
  int64_t count = 1;
  for (int64_t d : dims)
    if (d != kBatch)
      count *= d;
  bool nowBatched = std::find(dims.begin(), dims.end(), kBatch) != dims.end();
  if (count != perSample || batched != nowBatched)
    return im.fail("cannot reshape " + shapeText(x->dims) + " to " +
                   shapeText(shape->ints));
  return reshapeTo(im, *x, dims);
}

bool convertFlatten(Importer &im) {
  const Value *x = im.input(0);
  if (!x)
    return false;
  int64_t axis = im.attrInt("axis", 1);
  if (axis != int64_t(x->dims.size()) &&
      !im.normaliseAxis(axis, x->dims.size()))
    return false;
  std::vector<int64_t> dims;
  int batch = x->batchAxis();
  if (batch >= 0 && !(batch == 0 && axis == 1))
    return im.fail("Flatten with axis " + std::to_string(axis) +
                   " would merge the batch with other dimensions");
  if (batch == 0)
    dims = {kBatch, product(x->dims, 1)};
  else
    dims = {product(x->dims, 0, size_t(axis)), product(x->dims, size_t(axis))};
  return reshapeTo(im, *x, dims);
}

// Concat along `axis`: every part with that axis last in memory, in one
// order.
bool convertConcat(Importer &im) {
  std::vector<const Value *> parts;
  for (int i = 0; i < im.node->input_size(); ++i) {
    const Value *v = im.input(i);
    if (!v)
      return false;
    parts.push_back(v);
  }
  if (parts.empty())
    return im.fail("Concat needs inputs");
  int64_t axis = im.attrInt("axis", 0);
  if (!im.normaliseAxis(axis, parts[0]->dims.size()))
    return false;
  if (std::all_of(parts.begin(), parts.end(),
                  [](const Value *v) { return v->kind == Value::Ints; })) {
    Value v = *parts[0];
    v.ints.clear();
    for (const Value *p : parts)
      v.ints.insert(v.ints.end(), p->ints.begin(), p->ints.end());
    v.dims = {int64_t(v.ints.size())};
    im.define(0, std::move(v));
    return true;
  }
  if (parts.size() == 1) { // one part: itself
    im.define(0, *parts[0]);
    return true;
  }
  // The first computed part sets the memory order; constant parts (of a
  // model without a batch axis: the same in every sample) become Constant
  // nodes in that order.
  auto computed = std::find_if(parts.begin(), parts.end(),
                               [](const Value *v) { return !v->constant(); });
  const Value *first0 =
      computed == parts.end() ? tensorInput(im, 0) : *computed;
  if (!first0 || im.acrossBatch(*first0, axis))
    return false;
  Value first = im.withLast(*first0, axis);
  Node n;
  n.kind = Node::Concat;
  Value out = first;
  out.dims[axis] = 0;
  for (int i = 0; i < int(parts.size()); ++i) {
    const Value *p = parts[i];
    Value constant;
    if (p->constant() && first.batchAxis() < 0 &&
        p->dims.size() == first.dims.size() && floatsInput(im, i)) {
      const Value *c = floatsInput(im, i);
      Node k;
      k.kind = Node::Constant;
      std::vector<int64_t> dims = c->dims, memory;
      for (int64_t a : first.perm)
        memory.push_back(dims[a]);
      k.shape = memory;
      k.name = im.layerName(im.node->input(i) + "_const");
      im.addWeight(k.name + ".value", memory,
                   permuted(c->floats, c->dims, first.perm));
      constant = first;
      constant.dims = dims;
      constant.node = im.add(std::move(k));
      p = &constant;
    } else if (!(p = tensorInput(im, i))) {
      return false;
    }
    std::vector<int64_t> a = p->dims, b = first.dims;
    if (a.size() == b.size())
      a[axis] = b[axis] = 0;
    if (a != b)
      return im.fail("the parts " + shapeText(first.dims) + " and " +
                     shapeText(p->dims) + " differ outside axis " +
                     std::to_string(axis));
    n.inputs.push_back(im.inOrder(*p, first.perm).node);
    out.dims[axis] += p->dims[axis];
  }
  n.shape = out.memoryShape();
  n.name = im.layerName(im.node->name().empty() ? "concat" : im.node->name());
  out.node = im.add(std::move(n));
  im.define(0, std::move(out));
  return true;
}

/// Elements `indices` of x's `axis`, which the indices' dims `indexDims`
/// replace (a scalar index drops the axis).
bool takeAlong(Importer &im, const Value &x, int64_t axis,
               const std::vector<int64_t> &indices,
               const std::vector<int64_t> &indexDims) {
  if (im.acrossBatch(x, axis))
    return false;
  if (indices.empty())
    return im.fail("gathering no elements (empty indices) is not supported");
  if (indexDims.empty() && indices.size() == 1)
    if (auto last = im.lastStep(
            x, axis, indices[0] < 0 ? indices[0] + x.dims[axis] : indices[0])) {
      im.define(0, *last);
      return true;
    }
  Value v = im.withLast(x, axis);
  std::vector<int> slices;
  for (int64_t i : indices) {
    if (i < 0)
      i += x.dims[axis];
    if (i < 0 || i >= x.dims[axis])
      return im.fail("index " + std::to_string(i) + " is outside axis " +
                     std::to_string(axis) + " of " + shapeText(x.dims));
    Node s;
    s.kind = Node::Slice;
    s.inputs = {v.node};
    s.slice = {i, 1};
    s.shape = v.memoryShape();
    s.shape.back() = 1;
    s.name = im.layerName(im.node->name() + "_slice");
    slices.push_back(im.add(std::move(s)));
  }
  Value out = v;
  out.dims[axis] = int64_t(indices.size());
  if (slices.size() == 1) {
    out.node = slices[0];
  } else {
    Node c;
    c.kind = Node::Concat;
    c.inputs = slices;
    c.shape = out.memoryShape();
    c.name = im.layerName(im.node->name() + "_concat");
    out.node = im.add(std::move(c));
  }
  if (indexDims.size() == 1) {
    im.define(0, std::move(out));
    return true;
  }
  // The axis (last in memory) becomes the indices' dims, in their order.
  int64_t extra = int64_t(indexDims.size()) - 1;
  std::vector<int64_t> dims(out.dims.begin(), out.dims.begin() + axis), perm;
  dims.insert(dims.end(), indexDims.begin(), indexDims.end());
  dims.insert(dims.end(), out.dims.begin() + axis + 1, out.dims.end());
  for (int64_t a : out.perm)
    if (a != axis)
      perm.push_back(a > axis ? a + extra : a);
  for (int64_t j = 0; j <= extra; ++j)
    perm.push_back(axis + j);
  im.define(0, im.relayout(out, dims, perm));
  return true;
}

std::string weightLayerName(Importer &im, const std::string &weight);

// Gather: rows of a constant table by runtime ids (an embedding), elements
// of a tensor at constant indices, or shape arithmetic.
bool convertGather(Importer &im) {
  const Value *data = im.input(0), *indices = im.input(1);
  if (!data || !indices)
    return false;
  int64_t axis = im.attrInt("axis", 0);
  if (!im.normaliseAxis(axis, data->dims.size()))
    return false;
  if (indices->kind == Value::Ints) {
    if (data->kind == Value::Ints) {
      if (data->dims.size() != 1)
        return im.fail("gathering from an integer constant of rank " +
                       std::to_string(data->dims.size()));
      Value v;
      v.kind = Value::Ints;
      for (int64_t i : indices->ints) {
        int64_t n = int64_t(data->ints.size());
        if (i < -n || i >= n)
          return im.fail("index " + std::to_string(i) + " is outside " +
                         std::to_string(n) + " elements");
        v.ints.push_back(data->ints[i < 0 ? i + n : i]);
      }
      v.dims = indices->dims;
      im.define(0, std::move(v));
      return true;
    }
    if (data->constant())
      return im.fail("gathering from a constant by constant indices is not "
                     "folded yet");
    return takeAlong(im, *data, axis, indices->ints, indices->dims);
  }
  if (indices->constant())
    return im.fail("the indices must be constant or the model's ids");
  const Node &ids = im.result.model.nodes[indices->node];
  if (!ids.integer)
    return im.fail("the indices must be integer ids");
  const Value *table = floatsInput(im, 0, 2);
  if (!table)
    return false;
  if (axis != 0)
    return im.fail("looking up ids along axis " + std::to_string(axis) +
                   " of a table is not supported (only rows, axis 0)");
  Node n;
  n.kind = Node::Embedding;
  n.init = {dsl::Init::Normal, 1}; // the language's default (weights given)
  n.vocab = table->dims[0];
  n.units = table->dims[1];
  n.inputs = {indices->node};
  n.name = weightLayerName(im, im.node->input(0));
  Value out = *indices;
  out.dims.push_back(n.units);
  out.perm.push_back(int64_t(out.dims.size()) - 1);
  n.shape = out.memoryShape();
  im.addWeight(n.name + ".weight", table->dims, table->floats);
  out.node = im.add(std::move(n));
  im.define(0, std::move(out));
  return true;
}

// --- Layers ---------------------------------------------------------------

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

/// A dense layer over x's last axis: weight [units, inputs] (sora's
/// layout), a bias when `bias` is not empty.
Value dense(Importer &im, const Value &x, const std::string &weightName,
            std::vector<float> weight, int64_t units, std::vector<float> bias) {
  Value v = im.withLast(x, int64_t(x.dims.size()) - 1);
  Node n;
  n.kind = Node::Dense;
  n.units = units;
  n.inputs = {v.node};
  n.useBias = !bias.empty();
  n.name = weightLayerName(im, weightName);
  int64_t in = v.dims.back();
  im.addWeight(n.name + ".weight", {units, in}, std::move(weight));
  if (n.useBias)
    im.addWeight(n.name + ".bias", {units}, std::move(bias));
  Value out = v;
  out.dims.back() = units;
  n.shape = out.memoryShape();
  out.node = im.add(std::move(n));
  return out;
}

// Gemm: alpha A' B' + beta C, with A the layer's input (A' = A, or A
// transposed when A is one sample's matrix); C a bias per unit, or any
// constant that broadcasts to the result (added after the layer).
bool convertGemm(Importer &im) {
  const Value *a0 = tensorInput(im, 0), *b = floatsInput(im, 1, 2);
  if (!a0 || !b)
    return false;
  if (a0->dims.size() != 2)
    return im.fail("A must be a matrix, not " + shapeText(a0->dims));
  Value a = *a0;
  if (im.attrInt("transA", 0)) {
    if (a.batchAxis() >= 0)
      return im.fail("transA = 1 would move the batch dimension of A " +
                     shapeText(a.dims));
    std::swap(a.dims[0], a.dims[1]); // the same memory, its axes renamed
    for (int64_t &p : a.perm)
      p = 1 - p;
  }
  bool transB = im.attrInt("transB", 0);
  int64_t k = a.dims[1], units = b->dims[transB ? 0 : 1];
  if (b->dims[transB ? 1 : 0] != k)
    return im.fail("B " + shapeText(b->dims) + " does not match A " +
                   shapeText(a.dims));
  std::vector<float> w =
      transB ? b->floats : transposed(b->floats, b->dims[0], b->dims[1]);
  double alpha = im.attrFloat("alpha", 1), beta = im.attrFloat("beta", 1);
  for (float &f : w)
    f = float(f * alpha);
  const Value *c = nullptr;
  if (im.has(2) && !(c = floatsInput(im, 2)))
    return false;
  bool perUnit =
      c && (product(c->dims) == 1 || c->dims == std::vector<int64_t>{units} ||
            c->dims == std::vector<int64_t>{1, units});
  std::vector<float> bias;
  for (int64_t j = 0; perUnit && j < units; ++j)
    bias.push_back(float(beta * c->floats[c->floats.size() == 1 ? 0 : j]));
  Value y =
      dense(im, a, im.node->input(1), std::move(w), units, std::move(bias));
  if (!c || perUnit) {
    im.define(0, std::move(y));
    return true;
  }
  Value scaled = *c;
  for (float &f : scaled.floats)
    f = float(beta * f);
  return constantBinary(im, y, scaled, dsl::BinaryOp::Add, false);
}

// MatMul by a constant matrix: a dense layer without bias (an Add after it
// gives it one).
bool convertMatMul(Importer &im) {
  const Value *a = tensorInput(im, 0), *b = floatsInput(im, 1);
  if (!a || !b)
    return false;
  if (b->dims.size() != 2)
    return im.fail("the right operand must be a constant matrix, not " +
                   shapeText(b->dims));
  if (a->dims.empty() || a->dims.back() != b->dims[0])
    return im.fail(shapeText(a->dims) + " and " + shapeText(b->dims) +
                   " do not multiply");
  im.define(0, dense(im, *a, im.node->input(1),
                     transposed(b->floats, b->dims[0], b->dims[1]), b->dims[1],
                     {}));
  return true;
}

/// pads {begin..., end...} for an input of `spatial` dims, from `pads` or
/// `auto_pad`, kernel `k`, stride `s`.
bool padding(Importer &im, const std::vector<int64_t> &spatial, int64_t k,
             int64_t s, std::vector<int64_t> &pads) {
  std::string autoPad = im.attrString("auto_pad", "NOTSET");
  size_t d = spatial.size();
  pads.assign(2 * d, 0);
  if (autoPad == "NOTSET") {
    std::vector<int64_t> given = im.attrInts("pads");
    if (!given.empty() && given.size() != 2 * d)
      return im.fail("pads needs " + std::to_string(2 * d) + " values");
    if (!given.empty())
      pads = given;
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (size_t i = 0; i < d; ++i) {
      int64_t out = (spatial[i] + s - 1) / s;
      int64_t total = std::max<int64_t>((out - 1) * s + k - spatial[i], 0);
      int64_t small = total / 2;
      pads[i] = autoPad == "SAME_UPPER" ? small : total - small;
      pads[d + i] = total - pads[i];
    }
  } else if (autoPad != "VALID") {
    return im.fail("auto_pad " + autoPad + " is not known");
  }
  for (int64_t p : pads)
    if (p < 0 || p >= k)
      return im.fail("padding of " + std::to_string(p) + " for a kernel of " +
                     std::to_string(k) + " is not supported");
  return true;
}

/// The kernel size and stride of a 1-D or square 2-D window, and that the
/// node asks for nothing else (dilations 1, one group).
bool window(Importer &im, size_t d, int64_t &k, int64_t &s) {
  std::vector<int64_t> kernel = im.attrInts("kernel_shape"),
                       strides = im.attrInts("strides");
  for (int64_t dl : im.attrInts("dilations"))
    if (dl != 1)
      return im.fail("dilations other than 1 are not supported");
  if (im.attrInt("group", 1) != 1)
    return im.fail("grouped convolutions (group > 1) are not supported");
  if (im.attrInt("ceil_mode", 0))
    return im.fail("ceil_mode = 1 is not supported");
  if (im.attrInt("storage_order", 0))
    return im.fail("storage_order = 1 is not supported");
  if (kernel.size() != d || (d == 2 && kernel[0] != kernel[1]))
    return im.fail("sorac's windows are square (or 1-D); kernel_shape " +
                   shapeText(kernel) + " is not supported");
  if (!strides.empty() &&
      (strides.size() != d || (d == 2 && strides[0] != strides[1])))
    return im.fail("strides " + shapeText(strides) +
                   " differ between the dimensions");
  k = kernel[0];
  s = strides.empty() ? 1 : strides[0];
  return true;
}

/// An image input [N, C, H, W] (or [N, C, L]) in sora's memory order,
/// channels last; its spatial dims.
bool channelsLast(Importer &im, const Value &x, Value &v,
                  std::vector<int64_t> &spatial) {
  size_t rank = x.dims.size();
  if ((rank != 3 && rank != 4) || x.batchAxis() > 0 ||
      (x.batchAxis() < 0 && x.dims[0] != 1))
    return im.fail("sorac convolves [batch, C, H, W] or [batch, C, L] "
                   "images; not " +
                   shapeText(x.dims));
  std::vector<int64_t> perm;
  if (x.batchAxis() < 0)
    perm.push_back(0);
  for (size_t i = 2; i < rank; ++i) {
    perm.push_back(int64_t(i));
    spatial.push_back(x.dims[i]);
  }
  perm.push_back(1);
  v = im.inOrder(x, perm);
  // A static [1, C, ...] image: its leading 1 goes.
  if (x.batchAxis() < 0) {
    std::vector<int64_t> dims = v.dims, p;
    dims[0] = kBatch;
    for (size_t i = 1; i < perm.size(); ++i)
      p.push_back(perm[i]);
    Value inner = im.relayout(v, dims, p);
    v = inner;
  }
  return true;
}

/// The result of a layer over an image: [N, C', ...] with C' last in memory
/// (and a static input's leading 1 back).
Value imageResult(Importer &im, const Value &x, int id,
                  std::vector<int64_t> dims) {
  Value out = x;
  out.node = id;
  out.dims = dims;
  std::vector<int64_t> perm;
  for (size_t i = 2; i < dims.size(); ++i)
    perm.push_back(int64_t(i));
  perm.push_back(1);
  out.perm = perm;
  if (x.batchAxis() < 0) {
    out.dims[0] = kBatch;
    std::vector<int64_t> staticPerm{0};
    staticPerm.insert(staticPerm.end(), perm.begin(), perm.end());
    std::vector<int64_t> staticDims = dims;
    staticDims[0] = 1;
    return im.relayout(out, staticDims, staticPerm);
  }
  return out;
}

bool convertConv(Importer &im) {
  const Value *x = tensorInput(im, 0), *w = floatsInput(im, 1);
  if (!x || !w)
    return false;
  Value v;
  std::vector<int64_t> spatial, pads;
  int64_t k, s;
  if (!channelsLast(im, *x, v, spatial) || !window(im, spatial.size(), k, s) ||
      !padding(im, spatial, k, s, pads))
    return false;
  size_t d = spatial.size();
  int64_t filters = w->dims[0], c = x->dims[1];
  if (w->dims.size() != d + 2 || w->dims[1] != c)
    return im.fail("the weight " + shapeText(w->dims) +
                   " does not match the input " + shapeText(x->dims));
  Node n;
  n.kind = Node::Conv2D;
  n.units = filters;
  n.kernel = k;
  n.stride = s;
  n.inputs = {v.node};
  n.name = weightLayerName(im, im.node->input(1));
  // sora's padding: {top, left, bottom, right}; 1-D: left and right.
  n.pads = d == 2 ? std::vector<int64_t>{pads[0], pads[1], pads[2], pads[3]}
                  : std::vector<int64_t>{0, pads[0], 0, pads[1]};
  std::vector<int64_t> dims = {x->dims[0], filters};
  for (size_t i = 0; i < d; ++i) {
    int64_t out = (spatial[i] + pads[i] + pads[d + i] - k) / s + 1;
    if (out < 1)
      return im.fail("the kernel is larger than the padded input");
    dims.push_back(out);
    n.shape.push_back(out);
  }
  n.shape.push_back(filters);
  // Padding that is sora's "valid" or "same" is written so (the .sora form
  // of `sorac import` says `padding: same`).
  bool valid = true, same = true;
  for (size_t i = 0; i < d; ++i) {
    int64_t out = (spatial[i] + s - 1) / s;
    int64_t total = std::max<int64_t>((out - 1) * s + k - spatial[i], 0);
    valid = valid && pads[i] == 0 && pads[d + i] == 0;
    same = same && pads[i] == total / 2 && pads[d + i] == total - total / 2;
  }
  if (valid || same) {
    n.pads.clear();
    n.samePadding = same && !valid;
  }
  // ONNX's [F, C, kh, kw] to sora's [F, kh, kw, C] (1-D: [F, k, C]).
  std::vector<int64_t> perm{0};
  for (size_t i = 0; i < d; ++i)
    perm.push_back(int64_t(2 + i));
  perm.push_back(1);
  std::vector<int64_t> sora{filters};
  for (size_t i = 0; i < d; ++i)
    sora.push_back(k);
  sora.push_back(c);
  im.addWeight(n.name + ".weight", sora, permuted(w->floats, w->dims, perm));
  n.useBias = im.has(2);
  if (n.useBias) {
    const Value *b = floatsInput(im, 2, 1);
    if (!b)
      return false;
    im.addWeight(n.name + ".bias", {filters}, b->floats);
  }
  int id = im.add(std::move(n));
  im.define(0, imageResult(im, *x, id, dims));
  return true;
}

template <dsl::PoolKind Kind> bool convertPool(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  Value v;
  std::vector<int64_t> spatial, pads;
  int64_t k, s;
  if (!channelsLast(im, *x, v, spatial) || !window(im, spatial.size(), k, s) ||
      !padding(im, spatial, k, s, pads))
    return false;
  if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p; }))
    return im.fail("padded pooling is not supported");
  Node n;
  n.kind = Node::Pool2D;
  n.pool = Kind;
  n.kernel = k;
  n.stride = s;
  n.inputs = {v.node};
  n.name = im.layerName(im.node->name().empty() ? "pool" : im.node->name());
  std::vector<int64_t> dims = {x->dims[0], x->dims[1]};
  for (int64_t in : spatial) {
    if (in < k)
      return im.fail("the window is larger than the input");
    dims.push_back((in - k) / s + 1);
    n.shape.push_back(dims.back());
  }
  n.shape.push_back(x->dims[1]);
  int id = im.add(std::move(n));
  im.define(0, imageResult(im, *x, id, dims));
  return true;
}

template <dsl::PoolKind Kind> bool convertGlobalPool(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  Value v;
  std::vector<int64_t> spatial;
  if (!channelsLast(im, *x, v, spatial))
    return false;
  Node n;
  n.kind = Node::Pool2D;
  n.pool = Kind;
  n.inputs = {v.node};
  n.shape = {x->dims[1]};
  n.name = im.layerName(im.node->name().empty() ? "pool" : im.node->name());
  int id = im.add(std::move(n));
  // [C] is [1, 1, C] in memory: the result [N, C, 1, 1], channels last.
  std::vector<int64_t> dims = {x->dims[0], x->dims[1]};
  dims.resize(x->dims.size(), 1);
  Value flat = v;
  flat.node = id;
  flat.dims = {v.dims[0] == kBatch ? kBatch : 1, x->dims[1]};
  flat.perm = {1};
  if (v.dims[0] != kBatch)
    flat.dims[0] = kBatch;
  Value out = imageResult(im, *x, id, dims);
  out.node = im.relayout(flat, out.dims, out.perm).node;
  im.define(0, std::move(out));
  return true;
}

// BatchNormalization at inference: sora's batch_norm over the channels
// (axis 1), its running statistics the given mean and variance.
bool convertBatchNorm(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  if (im.attrInt("training_mode", 0) ||
      (im.opset < 7 && !im.attrInt("is_test", 0)))
    return im.fail("training mode (training_mode = 1, or is_test = 0 before "
                   "opset 7) is not supported (inference only)");
  if (!im.attrInt("spatial", 1))
    return im.fail("spatial = 0 is not supported");
  if (x->dims.size() < 2 || im.acrossBatch(*x, 1))
    return im.fail("the input must be [batch, C, ...]");
  int64_t c = x->dims[1];
  const char *names[] = {".weight", ".bias", ".running_mean", ".running_var"};
  Node n;
  n.kind = Node::BatchNorm;
  n.epsilon = im.attrFloat("epsilon", 1e-5);
  n.momentum = im.attrFloat("momentum", 0.9);
  n.name = weightLayerName(im, im.node->input(1));
  for (int i = 1; i <= 4; ++i) {
    const Value *p = floatsInput(im, i, 1);
    if (!p)
      return false;
    if (p->dims[0] != c)
      return im.fail("input " + std::to_string(i) + " has " +
                     std::to_string(p->dims[0]) + " values for " +
                     std::to_string(c) + " channels");
    im.addWeight(n.name + names[i - 1], {c}, p->floats);
  }
  Value v = im.withLast(*x, 1);
  n.inputs = {v.node};
  n.shape = v.memoryShape();
  v.node = im.add(std::move(n));
  im.define(0, std::move(v));
  return true;
}

/// ONNX's gate blocks to PyTorch's order (sora's): LSTM i,o,f,c -> i,f,g,o;
/// GRU z,r,h -> r,z,n.
std::vector<float> gatesReordered(const std::vector<float> &data,
                                  const std::vector<int> &order,
                                  int64_t block) {
  std::vector<float> out;
  out.reserve(data.size());
  for (int g : order)
    out.insert(out.end(), data.begin() + g * block,
               data.begin() + (g + 1) * block);
  return out;
}

/// An initial state that is absent or all zeros (sora's recurrent layers
/// start from zeros).
bool zeroState(Importer &im, int i) {
  if (!im.has(i))
    return true;
  const Value *v = im.input(i);
  if (!v)
    return false;
  bool zero = (v->kind == Value::Fill && v->fill == 0) ||
              (v->kind == Value::Floats &&
               std::all_of(v->floats.begin(), v->floats.end(),
                           [](float f) { return f == 0; }));
  return zero || im.fail("an initial state other than zeros is not "
                         "supported");
}

template <Node::Cell Cell> bool convertRecurrent(Importer &im) {
  const Value *x = tensorInput(im, 0), *w = floatsInput(im, 1, 3),
              *r = floatsInput(im, 2, 3);
  if (!x || !w || !r)
    return false;
  int gates = Cell == Node::Cell::LSTM ? 4 : Cell == Node::Cell::GRU ? 3 : 1;
  int64_t units = im.attrInt("hidden_size", 0);
  std::string direction = im.attrString("direction", "forward");
  if (direction == "bidirectional")
    return im.fail("bidirectional layers are not supported (two layers, one "
                   "with reverse: true, are)");
  if (im.attr("clip"))
    return im.fail("clip is not supported");
  if (im.attrInt("input_forget", 0))
    return im.fail("input_forget = 1 is not supported");
  if (Cell == Node::Cell::GRU && im.attrInt("linear_before_reset", 0) != 1)
    return im.fail("sorac's gru is PyTorch's: linear_before_reset must be 1");
  std::vector<std::string> defaults =
      Cell == Node::Cell::LSTM
          ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
      : Cell == Node::Cell::GRU ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                : std::vector<std::string>{"Tanh"};
  std::string rnnActivation = "tanh";
  if (const auto *a = im.attr("activations")) {
    std::vector<std::string> given(a->strings().begin(), a->strings().end());
    if (Cell == Node::Cell::RNN && given == std::vector<std::string>{"Relu"})
      rnnActivation = "relu";
    else if (given != defaults)
      return im.fail("activations other than the default ones are not "
                     "supported");
  }
  if (im.has(4))
    return im.fail("sequence_lens is not supported (mask_zero is sorac's "
                   "way to skip steps)");
  if (!zeroState(im, 5) || !zeroState(im, 6))
    return false;
  if (im.used(2))
    return im.fail("the last cell state output (Y_c) is not supported");
  if (im.used(0) && im.used(1))
    return im.fail("using both Y and Y_h is not supported");
  int64_t layout = im.attrInt("layout", 0);
  if (x->dims.size() != 3)
    return im.fail("X must be [seq, batch, features], not " +
                   shapeText(x->dims));
  int64_t timeAxis = layout ? 1 : 0, batchAxis = layout ? 0 : 1;
  if (x->batchAxis() != batchAxis && x->batchAxis() >= 0)
    return im.fail("X's batch is not at axis " + std::to_string(batchAxis));
  int64_t steps = x->dims[timeAxis], features = x->dims[2];
  if (w->dims != std::vector<int64_t>{1, gates * units, features} ||
      r->dims != std::vector<int64_t>{1, gates * units, units})
    return im.fail("W " + shapeText(w->dims) + " or R " + shapeText(r->dims) +
                   " does not match hidden_size " + std::to_string(units));
  if (x->batchAxis() < 0)
    return im.fail("a recurrent layer needs a dynamic batch dimension");
  Value v = im.inOrder(*x, {timeAxis, 2});
  Node n;
  n.kind = Node::Recurrent;
  n.cell = Cell;
  n.units = units;
  n.reverse = direction == "reverse";
  // The language's default initialiser (PyTorch's); the weights are given.
  n.init = {dsl::Init::Uniform, 1 / std::sqrt(double(units))};
  n.sequences = im.used(0);
  n.activation.name = rnnActivation;
  n.inputs = {v.node};
  n.name =
      im.layerName(im.node->name().empty() ? "recurrent" : im.node->name());
  std::vector<int> order = Cell == Node::Cell::LSTM
                               ? std::vector<int>{0, 2, 3, 1}
                           : Cell == Node::Cell::GRU ? std::vector<int>{1, 0, 2}
                                                     : std::vector<int>{0};
  int64_t g = gates * units;
  im.addWeight(n.name + ".weight_ih", {g, features},
               gatesReordered(w->floats, order, units * features));
  im.addWeight(n.name + ".weight_hh", {g, units},
               gatesReordered(r->floats, order, units * units));
  std::vector<float> bias(size_t(2 * g), 0);
  if (im.has(3)) {
    const Value *b = floatsInput(im, 3, 2);
    if (!b)
      return false;
    if (b->dims != std::vector<int64_t>{1, 2 * g})
      return im.fail("B must be [1, " + std::to_string(2 * g) + "]");
    bias = b->floats;
  }
  std::vector<float> bw(bias.begin(), bias.begin() + g),
      br(bias.begin() + g, bias.end());
  im.addWeight(n.name + ".bias_ih", {g}, gatesReordered(bw, order, units));
  im.addWeight(n.name + ".bias_hh", {g}, gatesReordered(br, order, units));
  n.shape = n.sequences ? std::vector<int64_t>{steps, units}
                        : std::vector<int64_t>{units};
  int id = im.add(std::move(n));
  Value out;
  out.node = id;
  if (n.sequences) { // Y: [seq, 1, batch, H] (layout 1: [batch, seq, 1, H])
    out.dims = layout ? std::vector<int64_t>{kBatch, steps, units}
                      : std::vector<int64_t>{steps, kBatch, units};
    out.perm = {timeAxis == 0 ? 0 : 1, 2};
    Value y = out;
    y.dims.insert(y.dims.begin() + (layout ? 2 : 1), 1);
    y.perm =
        layout ? std::vector<int64_t>{1, 2, 3} : std::vector<int64_t>{0, 1, 3};
    im.define(0, im.relayout(out, y.dims, y.perm));
  } else { // Y_h: [1, batch, H] (layout 1: [batch, 1, H])
    out.dims = {kBatch, units};
    out.perm = {1};
    std::vector<int64_t> dims = layout ? std::vector<int64_t>{kBatch, 1, units}
                                       : std::vector<int64_t>{1, kBatch, units};
    im.define(1, im.relayout(out, dims,
                             layout ? std::vector<int64_t>{1, 2}
                                    : std::vector<int64_t>{0, 2}));
  }
  return true;
}

const std::vector<OpConverter> &table() {
  using namespace dsl;
  static const std::vector<OpConverter> rows = {
      {"Constant",
       convertConstant,
       {"value", "value_float", "value_floats", "value_int", "value_ints"}},
      {"Shape", convertShape, {"start", "end"}},
      {"ConstantOfShape", convertConstantOfShape, {"value"}},
      {"Unsqueeze", convertUnsqueeze, {"axes"}},
      {"Squeeze", convertSqueeze, {"axes"}},
      {"Identity", convertIdentity, {}},
      {"Dropout", convertDropout, {"ratio", "seed", "is_test"}},
      {"Cast", convertCast, {"to"}},
      {"Relu", convertActivation<kRelu>, {}},
      {"Sigmoid", convertActivation<kSigmoid>, {}},
      {"Tanh", convertActivation<kTanh>, {}},
      {"Softplus", convertActivation<kSoftplus>, {}},
      {"LeakyRelu", convertLeakyRelu, {"alpha"}},
      {"Elu", convertElu, {"alpha"}},
      {"Selu", convertSelu, {"alpha", "gamma"}},
      {"Neg", convertNeg, {}},
      {"Reciprocal", convertReciprocal, {}},
      {"Softmax", convertSoftmax, {"axis"}},
      {"Add", convertBinary<BinaryOp::Add>, {"axis", "broadcast"}},
      {"Sub", convertBinary<BinaryOp::Sub>, {"axis", "broadcast"}},
      {"Mul", convertBinary<BinaryOp::Mul>, {"axis", "broadcast"}},
      {"Div", convertBinary<BinaryOp::Div>, {"axis", "broadcast"}},
      {"Transpose", convertTranspose, {"perm"}},
      {"Reshape", convertReshape, {"allowzero"}},
      {"Flatten", convertFlatten, {"axis"}},
      {"Concat", convertConcat, {"axis"}},
      {"Gather", convertGather, {"axis"}},
      {"Gemm", convertGemm, {"alpha", "beta", "broadcast", "transA", "transB"}},
      {"MatMul", convertMatMul, {}},
      {"Conv",
       convertConv,
       {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}},
      {"MaxPool",
       convertPool<PoolKind::Max>,
       {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
        "storage_order", "strides"}},
      {"AveragePool",
       convertPool<PoolKind::Average>,
       {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
        "strides"}},
      {"GlobalAveragePool", convertGlobalPool<PoolKind::Average>, {}},
      {"GlobalMaxPool", convertGlobalPool<PoolKind::Max>, {}},
      {"BatchNormalization",
       convertBatchNorm,
       {"epsilon", "is_test", "momentum", "spatial", "training_mode"}},
      {"LSTM",
       convertRecurrent<Node::Cell::LSTM>,
       {"activations", "activation_alpha", "activation_beta", "clip",
        "direction", "hidden_size", "input_forget", "layout"}},
      {"GRU",
       convertRecurrent<Node::Cell::GRU>,
       {"activations", "activation_alpha", "activation_beta", "clip",
        "direction", "hidden_size", "linear_before_reset", "layout"}},
      {"RNN",
       convertRecurrent<Node::Cell::RNN>,
       {"activations", "activation_alpha", "activation_beta", "clip",
        "direction", "hidden_size", "layout"}},
  };
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
