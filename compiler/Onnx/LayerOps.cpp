//===- LayerOps.cpp - Layers with weights
//-----------------------------------===//
//
// The converters of ONNX's operators that become sora layers with weights:
// Gemm and MatMul (dense), Conv, the pools, BatchNormalization and the
// recurrent layers; each puts its weights into sora's layout.
//
//===----------------------------------------------------------------------===//
#include "Onnx/Converters.h"
#include "Onnx/Tensors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace sora::onnx {

namespace {

using dsl::Node;

// --- Layers ---------------------------------------------------------------

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

/// x with `before` and `after` elements of `fill` around its logical
/// `axis`: constant borders concatenated (a pool's padding; sora's pools
/// have none of their own). False after failing.
bool padded(Importer &im, Value &x, int64_t axis, int64_t before, int64_t after,
            float fill) {
  if (!before && !after)
    return true;
  Value v = im.withLast(x, axis);
  Node c;
  c.kind = Node::Concat;
  for (int64_t width : {before, -1l, after}) {
    if (width < 0) {
      c.inputs.push_back(v.node);
      continue;
    }
    if (!width)
      continue;
    Node k;
    k.kind = Node::Constant;
    k.shape = v.memoryShape();
    k.shape.back() = width;
    if (product(k.shape) > kMaxConstant)
      return im.fail("the padding would take more than " +
                     std::to_string(kMaxConstant) + " elements a sample");
    k.name = im.layerName(im.node->name() + "_pad");
    im.addWeight(k.name + ".value", k.shape,
                 std::vector<float>(size_t(product(k.shape)), fill));
    c.inputs.push_back(im.add(std::move(k)));
  }
  Value out = v;
  out.dims[axis] += before + after;
  c.shape = out.memoryShape();
  c.name = im.layerName(im.node->name() + "_padded");
  out.node = im.add(std::move(c));
  x = std::move(out);
  return true;
}

// MaxPool and AveragePool. Padding (explicit, auto_pad, or the end that
// ceil_mode adds) is concatenated around the input: -inf for a max, zeros
// for an average, whose divisor is then corrected by a constant factor
// where a window covers fewer than its k x k counted elements
// (count_include_pad = 0: the input's; 1: the explicitly padded input's).
template <dsl::PoolKind Kind> bool convertPool(Importer &im) {
  const Value *x = tensorInput(im, 0);
  if (!x)
    return false;
  if (x->dims.size() != 3 && x->dims.size() != 4)
    return im.fail("sorac pools [batch, C, H, W] or [batch, C, L] images, "
                   "not " +
                   shapeText(x->dims));
  size_t d = x->dims.size() - 2;
  std::vector<int64_t> spatial(x->dims.begin() + 2, x->dims.end()), pads;
  int64_t k, s;
  if (!window(im, d, k, s) || !padding(im, spatial, k, s, pads))
    return false;
  bool max = Kind == dsl::PoolKind::Max;
  bool ceil = im.attrInt("ceil_mode", 0);
  bool countPads = im.attrInt("count_include_pad", 0);
  Value v = *x;
  std::vector<int64_t> out(d), ends(d);
  for (size_t i = 0; i < d; ++i) {
    int64_t span = spatial[i] + pads[i] + pads[d + i] - k;
    if (span < 0)
      return im.fail("the window is larger than the padded input");
    out[i] = (ceil ? (span + s - 1) / s : span / s) + 1;
    // ceil_mode's last window may start inside and reach past the end.
    if (ceil && (out[i] - 1) * s >= spatial[i] + pads[i])
      --out[i];
    // Padded to a length whose windows are exactly out[i]: as given where
    // that fits, else as far as the last window reaches.
    int64_t base = spatial[i] + pads[i];
    ends[i] = std::clamp(pads[d + i], (out[i] - 1) * s + k - base,
                         out[i] * s + k - 1 - base);
    if (ends[i] < 0)
      return im.fail("ceil_mode's windows end inside the input here; not "
                     "supported");
    if (!padded(im, v, int64_t(2 + i), pads[i], ends[i],
                max ? -std::numeric_limits<float>::infinity() : 0.0f))
      return false;
  }
  Value image;
  std::vector<int64_t> inner;
  if (!channelsLast(im, v, image, inner))
    return false;
  Node n;
  n.kind = Node::Pool2D;
  n.pool = Kind;
  n.kernel = k;
  n.stride = s;
  n.inputs = {image.node};
  n.name = im.layerName(im.node->name().empty() ? "pool" : im.node->name());
  std::vector<int64_t> dims = {x->dims[0], x->dims[1]};
  for (size_t i = 0; i < d; ++i) {
    dims.push_back(out[i]);
    n.shape.push_back(out[i]);
  }
  n.shape.push_back(x->dims[1]);
  int id = im.add(std::move(n));
  Value y = imageResult(im, *x, id, dims);
  if (max) {
    im.define(0, std::move(y));
    return true;
  }
  // An average over fewer counted elements than k x k: y * k^d / count.
  Value factor;
  factor.kind = Value::Floats;
  factor.dims.assign(2, 1);
  factor.dims.insert(factor.dims.end(), out.begin(), out.end());
  if (product(out) > kMaxConstant)
    return im.fail("the pooled image is too large for sorac's average "
                   "divisor constant");
  bool corrected = false;
  for (int64_t o = 0; o < product(out); ++o) {
    int64_t count = 1, rest = o;
    for (size_t i = d; i-- > 0;) {
      int64_t at = rest % out[i] * s - pads[i];
      rest /= out[i];
      int64_t lo = countPads ? -pads[i] : 0;
      int64_t hi = spatial[i] + (countPads ? pads[d + i] : 0);
      count *= std::min(at + k, hi) - std::max(at, lo);
    }
    double taps = d == 2 ? double(k * k) : double(k);
    factor.floats.push_back(float(taps / double(std::max<int64_t>(count, 1))));
    corrected = corrected || count != int64_t(taps);
  }
  if (corrected)
    return constantBinary(im, y, factor, dsl::BinaryOp::Mul, false);
  im.define(0, std::move(y));
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

} // namespace

// Layers.
std::vector<OpConverter> layerConverters() {
  using namespace dsl;
  return {
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
}

} // namespace sora::onnx
