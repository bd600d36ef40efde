//===- ShapeOps.cpp - Constants, shape arithmetic, shapes
//-------------------===//
//
// The converters of ONNX's constants and shape arithmetic (folded at import:
// PyTorch computes a recurrent layer's zero state from Shape, Gather, Concat
// and ConstantOfShape) and of the ops that move elements about: Transpose,
// Reshape, Flatten, Concat, Gather.
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
    // The fill: "a one-element tensor"
    size_t count = c.kind == Value::Floats ? c.floats.size() : c.ints.size();
    if (count != 1)
      return im.fail("its value holds " + std::to_string(count) +
                     " elements, not one");
    v.fill = c.kind == Value::Floats ? c.floats[0] : double(c.ints[0]);
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

} // namespace

// Constants, shape arithmetic and shapes.
std::vector<OpConverter> shapeConverters() {
  using namespace dsl;
  return {
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
      {"Transpose", convertTranspose, {"perm"}},
      {"Reshape", convertReshape, {"allowzero"}},
      {"Flatten", convertFlatten, {"axis"}},
      {"Concat", convertConcat, {"axis"}},
      {"Gather", convertGather, {"axis"}},
  };
}

} // namespace sora::onnx
