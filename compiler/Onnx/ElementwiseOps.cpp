//===- ElementwiseOps.cpp - Activations, softmax, arithmetic
//----------------===//
//
// The converters of ONNX's elementwise operators: activations, softmax and
// the four arithmetic operators, a constant operand broadcast as numpy does.
//
//===----------------------------------------------------------------------===//
#include "Onnx/Converters.h"
#include "Onnx/Tensors.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sora::onnx {

namespace {

using dsl::Node;

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

} // namespace

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

namespace {

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

} // namespace

// Activations, softmax and arithmetic.
std::vector<OpConverter> elementwiseConverters() {
  using namespace dsl;
  return {
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
  };
}

} // namespace sora::onnx
