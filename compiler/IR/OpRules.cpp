//===- OpRules.cpp - One shape rule per op --------------------------------===//
#include "IR/OpRules.h"

#include "IR/OpTable.h"

#include <algorithm>

namespace sora::ir {

namespace {

Type batched(std::vector<int64_t> dims) {
  return {false, true, std::move(dims)};
}
Type fixed(std::vector<int64_t> dims) {
  return {false, false, std::move(dims)};
}
Type scalar() { return fixed({}); }

bool isMatrixBatch(const Node *n) {
  return n->type.batched && n->type.dims.size() == 1;
}
/// [?, ..., K]: rows of K, any number per sample (a sequence's steps).
bool isRowsBatch(const Node *n) {
  return n->type.batched && !n->type.dims.empty();
}
/// `x`'s type with the last dimension `last`.
Type lastReplaced(const Type &x, int64_t last) {
  Type t = x;
  t.dims.back() = last;
  return t;
}
bool isMatrix(const Node *n) {
  return !n->type.batched && n->type.dims.size() == 2;
}

Type fail(std::string &error, const std::string &message) {
  error = message;
  return Type::noneType();
}

// A leaf's type is set by its creator.
Type leafRule(const std::vector<Node *> &, const AttrList &,
              std::string &error) {
  return fail(error, "leaf types are set when the leaf is created");
}

// The matmuls treat every index but the last as a row: [?,...,K] is the
// batch's rows of K (a sequence's steps included).

// [?,...,K] x [K,M] -> [?,...,M]
Type matMulRule(const std::vector<Node *> &o, const AttrList &,
                std::string &error) {
  if (!isRowsBatch(o[0]) || o[0]->type.integer || !isMatrix(o[1]) ||
      o[0]->type.dims.back() != o[1]->type.dims[0])
    return fail(error, "matmul expects [?,...,K] and [K,M]");
  return lastReplaced(o[0]->type, o[1]->type.dims[1]);
}

// [?,...,K] x [M,K] -> [?,...,M]
Type matMulNTRule(const std::vector<Node *> &o, const AttrList &,
                  std::string &error) {
  if (!isRowsBatch(o[0]) || o[0]->type.integer || !isMatrix(o[1]) ||
      o[0]->type.dims.back() != o[1]->type.dims[1])
    return fail(error, "matmul_nt expects [?,...,K] and [M,K]");
  return lastReplaced(o[0]->type, o[1]->type.dims[0]);
}

// [?,...,K] x [?,...,M] -> [K,M], the same rows
Type matMulTNRule(const std::vector<Node *> &o, const AttrList &,
                  std::string &error) {
  const Type &a = o[0]->type, &b = o[1]->type;
  if (!isRowsBatch(o[0]) || !isRowsBatch(o[1]) ||
      a.dims.size() != b.dims.size() ||
      !std::equal(a.dims.begin(), a.dims.end() - 1, b.dims.begin()))
    return fail(error, "matmul_tn expects [?,...,K] and [?,...,M]");
  return fixed({a.dims.back(), b.dims.back()});
}

// [?,...,M] + [M] -> [?,...,M]
Type biasAddRule(const std::vector<Node *> &o, const AttrList &,
                 std::string &error) {
  const Type &x = o[0]->type, &b = o[1]->type;
  if (!x.batched || x.dims.empty() || b.batched || b.dims.size() != 1 ||
      b.dims[0] != x.dims.back())
    return fail(error, "bias_add expects [?,...,M] and [M]");
  return x;
}

// [?,...,M] -> [M]
Type biasGradRule(const std::vector<Node *> &o, const AttrList &,
                  std::string &error) {
  if (!o[0]->type.batched || o[0]->type.dims.empty())
    return fail(error, "bias_grad expects [?,...,M]");
  return fixed({o[0]->type.dims.back()});
}

// (x [?,...,C], then per operand [C] or like x) -> like x: channel_mul,
// normalize, normalize_grad
Type perFeatureRule(const std::vector<Node *> &o, const AttrList &,
                    std::string &error) {
  const Type &x = o[0]->type;
  bool ok = x.batched && !x.dims.empty();
  for (size_t i = 1; ok && i < o.size(); ++i)
    ok = o[i]->type == x || o[i]->type == fixed({x.dims.back()});
  return ok ? x : fail(error, "expects [?,...,C] and operands [C] or like it");
}

// (x [?,...,C], mean [C] for feature_var) -> [C]
Type featureStatsRule(const std::vector<Node *> &o, const AttrList &,
                      std::string &error) {
  const Type &x = o[0]->type;
  if (!x.batched || x.dims.empty() ||
      (o.size() > 1 && o[1]->type != fixed({x.dims.back()})))
    return fail(error, "expects [?,...,C] (and its mean [C])");
  return fixed({x.dims.back()});
}

bool isImageBatch(const Type &t) { return t.batched && t.dims.size() == 3; }

/// Output size of a window of `k` sliding by `stride` over `in` values with
/// `padBefore` zeros in front (and as many after as the size needs).
int64_t windows(int64_t in, int64_t k, int64_t stride, int64_t padTotal) {
  return (in + padTotal - k) / stride + 1;
}

// (x [?,H,W,C], w [F,kh,kw,C]) {stride, pad_top, pad_left, out_h, out_w}
Type conv2dRule(const std::vector<Node *> &o, const AttrList &a,
                std::string &error) {
  const Type &x = o[0]->type, &w = o[1]->type;
  if (!isImageBatch(x) || w.batched || w.dims.size() != 4 ||
      w.dims[3] != x.dims[2])
    return fail(error, "conv2d expects [?,H,W,C] and [F,kh,kw,C]");
  int64_t oh = a.outH(), ow = a.outW();
  if (oh < 1 || ow < 1)
    return fail(error, "conv2d needs out_h and out_w");
  return batched({oh, ow, w.dims[0]});
}

// (dy [?,OH,OW,F], w [F,kh,kw,C]) {..., in_h, in_w} -> [?,H,W,C]
Type conv2dGradInputRule(const std::vector<Node *> &o, const AttrList &a,
                         std::string &error) {
  const Type &dy = o[0]->type, &w = o[1]->type;
  if (!isImageBatch(dy) || w.dims.size() != 4 || dy.dims[2] != w.dims[0])
    return fail(error, "conv2d_grad_input expects [?,OH,OW,F] and [F,kh,kw,C]");
  return batched({a.inH(), a.inW(), w.dims[3]});
}

// (dy [?,OH,OW,F], x [?,H,W,C]) {..., kernel, kernel_w} -> [F,kh,kw,C]
Type conv2dGradFilterRule(const std::vector<Node *> &o, const AttrList &a,
                          std::string &error) {
  const Type &dy = o[0]->type, &x = o[1]->type;
  if (!isImageBatch(dy) || !isImageBatch(x))
    return fail(error, "conv2d_grad_filter expects [?,OH,OW,F] and [?,H,W,C]");
  return fixed({dy.dims[2], a.kernel(), a.kernelW(), x.dims[2]});
}

// x [?,H,W,C] {size, stride, width} -> [?,OH,OW,C]
Type poolRule(const std::vector<Node *> &o, const AttrList &a,
              std::string &error) {
  const Type &x = o[0]->type;
  int64_t size = a.size(), stride = a.stride(), width = a.width();
  if (!isImageBatch(x) || size < 1 || width < 1 || stride < 1 ||
      size > x.dims[0] || width > x.dims[1])
    return fail(error, "pooling expects [?,H,W,C] and a window that fits");
  return batched({windows(x.dims[0], size, stride, 0),
                  windows(x.dims[1], width, stride, 0), x.dims[2]});
}

// (dy, x) -> like x
Type maxPoolGradRule(const std::vector<Node *> &o, const AttrList &,
                     std::string &error) {
  if (!isImageBatch(o[0]->type) || !isImageBatch(o[1]->type))
    return fail(error, "maxpool2d_grad expects [?,OH,OW,C] and [?,H,W,C]");
  return o[1]->type;
}

// dy [?,OH,OW,C] {size, stride, width, in_h, in_w} -> [?,H,W,C]
Type avgPoolGradRule(const std::vector<Node *> &o, const AttrList &a,
                     std::string &error) {
  if (!isImageBatch(o[0]->type))
    return fail(error, "avgpool2d_grad expects [?,OH,OW,C]");
  return batched({a.inH(), a.inW(), o[0]->type.dims[2]});
}

// x {shape = [d0, d1, ...]} -> [?, d0, d1, ...], as many elements per sample
// (or [d0, d1, ...] from a value without batch: conv1d's kernel)
Type reshapeRule(const std::vector<Node *> &o, const AttrList &a,
                 std::string &error) {
  Type t = o[0]->type;
  t.dims = a.shape();
  if (t.dims.empty() || t.elements() != o[0]->type.elements())
    return fail(error, "reshape must keep the number of elements");
  return t;
}

// Elementwise: every operand has the first operand's type.
Type sameTypeRule(const std::vector<Node *> &o, const AttrList &,
                  std::string &error) {
  for (Node *n : o)
    if (n->type != o[0]->type || n->type.none)
      return fail(error, "operands must have the same type");
  return o[0]->type;
}

// (logits [?,M], labels [?,M]) -> f32[]
Type lossRule(const std::vector<Node *> &o, const AttrList &,
              std::string &error) {
  if (!isMatrixBatch(o[0]) || o[1]->type != o[0]->type)
    return fail(error, "expects logits and labels of the same type [?,M]");
  return scalar();
}

// (logits [?,M], classes [?,1]) -> f32[]
Type sparseLossRule(const std::vector<Node *> &o, const AttrList &,
                    std::string &error) {
  if (!isMatrixBatch(o[0]) || !isMatrixBatch(o[1]) || o[1]->type.dims[0] != 1)
    return fail(error, "expects logits [?,M] and class indices [?,1]");
  return scalar();
}

// (logits [?,M], classes [?,1], dloss f32[]) -> [?,M]
Type sparseLossGradRule(const std::vector<Node *> &o, const AttrList &,
                        std::string &error) {
  if (!isMatrixBatch(o[0]) || !isMatrixBatch(o[1]) || o[1]->type.dims[0] != 1 ||
      o[2]->type != scalar())
    return fail(error, "expects logits [?,M], class indices [?,1] and f32[]");
  return o[0]->type;
}

// (prediction, labels of the same type) -> f32[]
Type elementLossRule(const std::vector<Node *> &o, const AttrList &,
                     std::string &error) {
  if (!o[0]->type.batched || o[1]->type != o[0]->type)
    return fail(error, "expects a prediction and labels of the same type");
  return scalar();
}

// (prediction, labels, dloss f32[]) -> like prediction
Type elementLossGradRule(const std::vector<Node *> &o, const AttrList &,
                         std::string &error) {
  if (!o[0]->type.batched || o[1]->type != o[0]->type || o[2]->type != scalar())
    return fail(error, "expects a prediction, labels and f32[]");
  return o[0]->type;
}

// (probabilities, labels) -> f32[3] (binary_confusion) or f32[2, 200]
// (threshold_histogram): counts over the batch
Type binaryConfusionRule(const std::vector<Node *> &o, const AttrList &,
                         std::string &error) {
  if (!o[0]->type.batched || o[1]->type != o[0]->type)
    return fail(error, "expects probabilities and labels of the same type");
  return fixed({3});
}
Type thresholdHistogramRule(const std::vector<Node *> &o, const AttrList &,
                            std::string &error) {
  if (!o[0]->type.batched || o[1]->type != o[0]->type)
    return fail(error, "expects probabilities and labels of the same type");
  return fixed({2, 200});
}

// (w, g, state...), all of one unbatched type -> none
Type updateRule(const std::vector<Node *> &o, const AttrList &,
                std::string &error) {
  // An update's clip scale (grad_norm_scale's f32[]) comes last.
  size_t tensors =
      o.back()->op == OpKind::GradNormScale ? o.size() - 1 : o.size();
  for (size_t i = 0; i < tensors; ++i)
    if (o[i]->type != o[0]->type || o[i]->type.batched || o[i]->type.none)
      return fail(error, "expects parameter, gradient and state of one type");
  return Type::noneType();
}

// (g1, g2, ...) unbatched -> f32[]
Type gradNormScaleRule(const std::vector<Node *> &o, const AttrList &,
                       std::string &error) {
  for (Node *n : o)
    if (n->type.batched || n->type.none || n->type.integer)
      return fail(error, "expects gradients of weights");
  return scalar();
}

// (logits, labels, dloss f32[]) -> [?,M]
Type lossGradRule(const std::vector<Node *> &o, const AttrList &,
                  std::string &error) {
  if (!isMatrixBatch(o[0]) || o[1]->type != o[0]->type ||
      o[2]->type != scalar())
    return fail(error, "expects logits [?,M], labels [?,M] and f32[]");
  return o[0]->type;
}

/// `t` with its last dimension replaced by `last` (f32).
Type withLast(const Type &t, int64_t last) {
  Type out = t;
  out.integer = false;
  out.dims.back() = last;
  return out;
}
bool hasLastDim(const Node *n) {
  return n->type.batched && !n->type.dims.empty();
}

// (ids i32[?,...], table [V,D]) -> f32[?,...,D]
Type embeddingRule(const std::vector<Node *> &o, const AttrList &,
                   std::string &error) {
  const Type &ids = o[0]->type, &table = o[1]->type;
  if (!ids.integer || !ids.batched || table.integer || table.batched ||
      table.dims.size() != 2)
    return fail(error, "embedding expects ids i32[?,...] and a table [V,D]");
  Type out{false, true, ids.dims};
  out.dims.push_back(table.dims[1]);
  return out;
}

// (dy [?,...,D], ids i32[?,...]) -> [vocab, D]
Type embeddingGradRule(const std::vector<Node *> &o, const AttrList &a,
                       std::string &error) {
  const Type &dy = o[0]->type, &ids = o[1]->type;
  std::vector<int64_t> rows(dy.dims.begin(), dy.dims.end() - 1);
  if (dy.integer || !ids.integer || !dy.batched || dy.dims.empty() ||
      rows != ids.dims)
    return fail(error, "embedding_grad expects dy [?,...,D] and ids [?,...]");
  return fixed({a.vocab(), dy.dims.back()});
}

// [?,...,D] -> [?,...,1]
Type sumLastRule(const std::vector<Node *> &o, const AttrList &,
                 std::string &error) {
  if (!hasLastDim(o[0]))
    return fail(error, "sum_last expects [?,...,D]");
  return withLast(o[0]->type, 1);
}

// [?,...,1] -> [?,...,width]
Type broadcastLastRule(const std::vector<Node *> &o, const AttrList &a,
                       std::string &error) {
  if (!hasLastDim(o[0]) || o[0]->type.dims.back() != 1 || a.width() < 1)
    return fail(error, "broadcast_last expects [?,...,1]");
  return withLast(o[0]->type, a.width());
}

// [?,...,A], [?,...,B], ... -> [?,...,A+B+...]; or parameters [...,A], ...
Type concatRule(const std::vector<Node *> &o, const AttrList &,
                std::string &error) {
  const Type &x = o[0]->type;
  int64_t width = 0;
  bool batched = false;
  for (const Node *operand : o) {
    const Type &y = operand->type;
    if (x.dims.empty() || x.dims.size() != y.dims.size() ||
        !std::equal(x.dims.begin(), x.dims.end() - 1, y.dims.begin()))
      return fail(error, "concat expects [?,...,A], [?,...,B], ... (or "
                         "parameters [...,A], [...,B], ...)");
    width += y.dims.back();
    batched |= y.batched;
  }
  // A parameter among batched parts (an imported constant) repeats in
  // every sample.
  Type t = withLast(x, width);
  t.batched = batched;
  return t;
}

// [?,...,D] -> [?,...,width] (or unbatched, as concat)
Type sliceLastRule(const std::vector<Node *> &o, const AttrList &a,
                   std::string &error) {
  if (o[0]->type.dims.empty() || a.offset() < 0 || a.width() < 1 ||
      a.offset() + a.width() > o[0]->type.dims.back())
    return fail(error, "slice_last expects [?,...,D] and a slice within D");
  return withLast(o[0]->type, a.width());
}

// [?,...,D] -> [?,...,width], x at offset
Type padLastRule(const std::vector<Node *> &o, const AttrList &a,
                 std::string &error) {
  if (o[0]->type.dims.empty() || a.offset() < 0 ||
      a.offset() + o[0]->type.dims.back() > a.width())
    return fail(error, "pad_last expects [?,...,D] that fits at offset");
  return withLast(o[0]->type, a.width());
}

// i32[?,...] -> f32[?,...]
Type nonZeroMaskRule(const std::vector<Node *> &o, const AttrList &,
                     std::string &error) {
  if (!o[0]->type.integer)
    return fail(error, "nonzero_mask expects ids (i32)");
  Type out = o[0]->type;
  out.integer = false;
  return out;
}

// [?, d0, d1, ...] -> [?, d_perm[0], d_perm[1], ...]
Type transposeRule(const std::vector<Node *> &o, const AttrList &a,
                   std::string &error) {
  Type t = o[0]->type;
  const Dims &perm = a.perm();
  std::vector<bool> seen(t.dims.size());
  if (perm.size() != t.dims.size())
    return fail(error, "transpose needs one perm entry per dimension");
  t.dims.clear();
  for (int64_t axis : perm) {
    if (axis < 0 || axis >= int64_t(seen.size()) || seen[axis])
      return fail(error, "transpose's perm must order every axis once");
    seen[axis] = true;
    t.dims.push_back(o[0]->type.dims[axis]);
  }
  return t;
}

// [?,...] -> [?, shape...]
Type zerosLikeRule(const std::vector<Node *> &o, const AttrList &a,
                   std::string &error) {
  if (!o[0]->type.batched)
    return fail(error, "zeros_like expects a batched value");
  return {false, true, a.shape()};
}

// [?, slots] -> [?, shape...], i32 when `integer`
Type unpackRule(const std::vector<Node *> &o, const AttrList &a,
                std::string &error) {
  const Type &rows = o[0]->type;
  Type out{false, true, a.shape(), a.integer()};
  if (!rows.batched || rows.integer || rows.dims.size() != 1 ||
      a.offset() < 0 || a.offset() + out.elements() > rows.dims[0])
    return fail(error, "unpack expects [?, slots] and a range within them");
  return out;
}

OpTable<ShapeRule> makeTable() {
  using K = OpKind;
  OpTable<ShapeRule> t;
  t.setWhere(Leaf, leafRule);
  t.setWhere(SameType, sameTypeRule);
  t.setWhere(Update, updateRule);
  t.setWhere(Assign, updateRule);
  t.set(K::GradNormScale, gradNormScaleRule);
  t.set(K::FeatureMean, featureStatsRule);
  t.set(K::FeatureVar, featureStatsRule);
  t.set(K::Normalize, perFeatureRule);
  t.set(K::NormalizeGrad, perFeatureRule);
  t.set(K::ChannelMul, perFeatureRule);
  t.set(K::Embedding, embeddingRule);
  t.set(K::EmbeddingGrad, embeddingGradRule);
  t.set(K::SumLast, sumLastRule);
  t.set(K::BroadcastLast, broadcastLastRule);
  t.set(K::Concat, concatRule);
  t.set(K::SliceLast, sliceLastRule);
  t.set(K::Unpack, unpackRule);
  t.set(K::PadLast, padLastRule);
  t.set(K::ZerosLike, zerosLikeRule);
  t.set(K::Transpose, transposeRule);
  t.set(K::NonZeroMask, nonZeroMaskRule);
  t.set(K::MatMul, matMulRule);
  t.set(K::MatMulNT, matMulNTRule);
  t.set(K::QMatMulNT, matMulNTRule);
  t.set(K::MatMulTN, matMulTNRule);
  t.set(K::BiasAdd, biasAddRule);
  t.set(K::BiasGrad, biasGradRule);
  t.set(K::Conv2D, conv2dRule);
  t.set(K::Conv2DGradInput, conv2dGradInputRule);
  t.set(K::Conv2DGradFilter, conv2dGradFilterRule);
  t.set(K::MaxPool2D, poolRule);
  t.set(K::AvgPool2D, poolRule);
  t.set(K::MaxPool2DGrad, maxPoolGradRule);
  t.set(K::AvgPool2DGrad, avgPoolGradRule);
  t.set(K::Reshape, reshapeRule);
  t.set(K::SoftmaxXent, lossRule);
  t.set(K::CountCorrect, lossRule);
  t.set(K::SoftmaxXentGrad, lossGradRule);
  t.set(K::SparseSoftmaxXent, sparseLossRule);
  t.set(K::SparseCountCorrect, sparseLossRule);
  t.set(K::SparseSoftmaxXentGrad, sparseLossGradRule);
  t.set(K::SigmoidBinaryXent, elementLossRule);
  t.set(K::MeanSquaredError, elementLossRule);
  t.set(K::MeanAbsoluteError, elementLossRule);
  t.set(K::BinaryCountCorrect, elementLossRule);
  t.set(K::SigmoidBinaryXentGrad, elementLossGradRule);
  t.set(K::MeanSquaredErrorGrad, elementLossGradRule);
  t.set(K::MeanAbsoluteErrorGrad, elementLossGradRule);
  t.set(K::Huber, elementLossRule);
  t.set(K::HuberGrad, elementLossGradRule);
  t.set(K::TopKCorrect, lossRule);
  t.set(K::SparseTopKCorrect, sparseLossRule);
  t.set(K::BinaryConfusion, binaryConfusionRule);
  t.set(K::ThresholdHistogram, thresholdHistogramRule);
  return t;
}

} // namespace

bool isElementwise(OpKind op) { return hasTrait(op, Elementwise); }

bool isUpdate(OpKind op) { return hasTrait(op, Update); }

bool readsByFeature(OpKind op, size_t operand) {
  return ((op == OpKind::BiasAdd || op == OpKind::ChannelMul) &&
          operand == 1) ||
         (op == OpKind::Normalize && operand >= 1);
}

bool poolWindowsTile(const Node &n) {
  // The input image: a gradient's result, a pool's operand.
  const Type &in = n.operands.size() == 2 ? n.type : n.operands[0]->type;
  const Type &out = n.operands.size() == 2 ? n.operands[0]->type : n.type;
  int64_t s = n.attrs.stride(), rows = n.attrs.size(), cols = n.attrs.width();
  auto along = [&](int64_t window, int64_t outSize, int64_t inSize) {
    return (outSize == 1 || s == window) &&
           (outSize - 1) * s + window == inSize;
  };
  size_t d = in.dims.size();
  return d >= 3 && along(rows, out.dims[d - 3], in.dims[d - 3]) &&
         along(cols, out.dims[d - 2], in.dims[d - 2]);
}

ShapeRule shapeRule(OpKind op) {
  static const OpTable<ShapeRule> table = makeTable();
  return table[op];
}

} // namespace sora::ir
