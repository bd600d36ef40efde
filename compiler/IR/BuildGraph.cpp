//===- BuildGraph.cpp - Layer-level nodes to graph-IR ops -----------------===//
#include "IR/BuildGraph.h"

#include <algorithm>
#include <stdexcept>

namespace sora::ir {

namespace {

/// The op whose mnemonic is the activation's name, each attribute of its
/// Ops.def row taken from the activation's number of that name: a new
/// activation needs no code here.
Node *applyActivation(Graph &g, Node *x, const dsl::Activation &act) {
  if (act.is("linear"))
    return x;
  std::optional<OpKind> op = opByMnemonic(act.name);
  if (!op || !hasTrait(*op, Activation))
    throw std::logic_error("no activation op '" + act.name + "' in Ops.def");
  std::vector<Attr> attrs;
  for (AttrId id : attrIds(*op)) {
    auto given = std::find_if(
        act.numbers.begin(), act.numbers.end(),
        [&](const auto &number) { return number.first == attrName(id); });
    if (given == act.numbers.end())
      throw std::logic_error("activation '" + act.name + "' has no '" +
                             attrName(id) + "' in Builtins.cpp");
    attrs.push_back({id, AttrValue(given->second)});
  }
  return g.create(*op, {x}, AttrList(std::move(attrs)));
}

Type batchedType(const std::vector<int64_t> &shape) {
  return Type{false, true, shape};
}

} // namespace

namespace {

/// A layer's weight, initialised as its `init:` says (Glorot with the
/// fans given).
Node *weight(Graph &g, const dsl::Node &n, std::vector<int64_t> dims,
             int64_t fanIn, int64_t fanOut) {
  return weightParam(g, n.name + ".weight", std::move(dims), n.init, fanIn,
                     fanOut);
}

/// "same" pads like TensorFlow: the output is ceil(in / stride) and the
/// odd step of padding goes after; the padding before the input.
int64_t padBefore(const dsl::Node &n, int64_t in, int64_t out) {
  return n.samePadding
             ? std::max<int64_t>((out - 1) * n.stride + n.kernel - in, 0) / 2
             : 0;
}

Node *bias(Graph &g, const dsl::Node &n, Node *y) {
  Node *b = g.param(n.name + ".bias", Type{false, false, {n.units}},
                    ParamRole::Weight, InitKind::Zeros);
  return g.create(OpKind::BiasAdd, {y, b});
}

/// conv1d: the convolution of a one-row image [?, 1, T, C] by a one-row
/// kernel, stored [F, k, C] (Keras' fans: k*C in, k*F out) and viewed as
/// [F, 1, k, C]; then the bias, and back to [?, T', F].
Node *buildConv1D(Graph &g, const dsl::Node &n, Node *x) {
  int64_t t = x->type.dims[0], c = x->type.dims[1], k = n.kernel;
  int64_t out = n.shape[0];
  Node *w = weight(g, n, {n.units, k, c}, k * c, k * n.units);
  Node *y = g.create(
      OpKind::Conv2D,
      {reshapeTo(g, x, {1, t, c}), reshapeTo(g, w, {n.units, 1, k, c})},
      {attr::stride(n.stride), attr::padTop(0),
       attr::padLeft(n.pads.empty() ? padBefore(n, t, out) : n.pads[1]),
       attr::outH(1), attr::outW(out)});
  return reshapeTo(g, bias(g, n, y), n.shape);
}

/// maxpool2d and avgpool2d; the 1-D pools over [?, T, C] as one-row
/// images [?, 1, T, C] with a 1 x size window; global pooling (shape [C])
/// as one window over the whole input, 1-D or 2-D.
Node *buildPool(Graph &g, const dsl::Node &n, Node *x) {
  OpKind op =
      n.pool == dsl::PoolKind::Max ? OpKind::MaxPool2D : OpKind::AvgPool2D;
  bool oneD = x->type.dims.size() == 2, global = n.shape.size() == 1;
  if (oneD)
    x = reshapeTo(g, x, {1, x->type.dims[0], x->type.dims[1]});
  int64_t h = x->type.dims[0], w = x->type.dims[1];
  int64_t rows = global ? h : oneD ? 1 : n.kernel;
  int64_t cols = global ? w : n.kernel;
  Node *y = g.create(op, {x},
                     {attr::size(rows), attr::stride(global ? 1 : n.stride),
                      attr::width(cols)});
  return oneD || global ? reshapeTo(g, y, n.shape) : y;
}

/// A weighted layer's linear part: dense (x . W^T) or conv2d, plus bias.
Node *buildLayer(Graph &g, const dsl::Node &n, Node *x) {
  Node *y;
  if (n.kind == dsl::Node::Dense) {
    // Over the last dimension (the language's dense reads vectors; an
    // imported MatMul may read [?, T, K]).
    int64_t in = x->type.dims.back();
    // Stored [units, inputs] like torch.nn.Linear, so checkpoints need no
    // transposition; y = x . W^T.
    Node *w = weight(g, n, {n.units, in}, in, n.units);
    y = g.create(OpKind::MatMulNT, {x, w});
  } else if (n.shape.size() == 2) {
    return buildConv1D(g, n, x);
  } else {
    int64_t h = x->type.dims[0], wd = x->type.dims[1], c = x->type.dims[2];
    int64_t k = n.kernel, s = n.stride;
    // Keras' receptive-field fans for Glorot: k*k*C in, k*k*F out.
    Node *w = weight(g, n, {n.units, k, k, c}, k * k * c, k * k * n.units);
    int64_t oh = n.shape[0], ow = n.shape[1];
    int64_t top = n.pads.empty() ? padBefore(n, h, oh) : n.pads[0];
    int64_t left = n.pads.empty() ? padBefore(n, wd, ow) : n.pads[1];
    y = g.create(OpKind::Conv2D, {x, w},
                 {attr::stride(s), attr::padTop(top), attr::padLeft(left),
                  attr::outH(oh), attr::outW(ow)});
  }
  return n.useBias ? bias(g, n, y) : y;
}

/// x + c or x * c for a constant c of x's trailing dimensions, repeated
/// over the others: x viewed as lines of c's elements, c added as a bias or
/// multiplied per channel, and back to x's shape.
Node *withConstant(Graph &g, const dsl::Node &n, Node *x, Node *c) {
  int64_t width = c->type.elements();
  Node *lines = reshapeTo(g, x, {x->type.elements() / width, width});
  Node *flat = reshapeTo(g, c, {width});
  OpKind op = n.op == dsl::BinaryOp::Add ? OpKind::BiasAdd : OpKind::ChannelMul;
  if (n.op != dsl::BinaryOp::Add && n.op != dsl::BinaryOp::Mul)
    throw std::logic_error("only x + c and x * c take a constant");
  return reshapeTo(g, g.create(op, {lines, flat}), n.shape);
}

/// `standardize:` and `normalize:`: x * scale + shift per feature, by
/// statistics of the training data that sora_model_fit writes into these
/// parameters (ones and zeros until then: the identity). As Statistics they
/// are checkpointed and baked like batch norm's running means, and take no
/// gradient.
Node *scaleInput(Graph &g, const dsl::Node &n, Node *x) {
  Type type{false, false, n.shape};
  Node *scale =
      g.param(n.name + ".scale", type, ParamRole::Statistic, InitKind::Ones);
  Node *shift =
      g.param(n.name + ".shift", type, ParamRole::Statistic, InitKind::Zeros);
  int64_t features = type.elements();
  bool flat = n.shape.size() == 1;
  Node *lines = flat ? x : reshapeTo(g, x, {features});
  Node *y = g.create(
      OpKind::BiasAdd,
      {g.create(OpKind::ChannelMul,
                {lines, flat ? scale : reshapeTo(g, scale, {features})}),
       flat ? shift : reshapeTo(g, shift, {features})});
  return flat ? y : reshapeTo(g, y, n.shape);
}

} // namespace

std::vector<InputSlots> packedInputs(const dsl::Model &model) {
  std::vector<InputSlots> slots;
  int64_t offset = 0;
  for (int id : model.inputs) {
    int64_t size = Type{false, true, model.nodes[id].shape}.elements();
    slots.push_back({offset, size});
    offset += size;
  }
  return slots;
}

Node *weightParam(Graph &g, const std::string &name, std::vector<int64_t> dims,
                  const dsl::Init &init, int64_t fanIn, int64_t fanOut) {
  static const InitKind kinds[] = {InitKind::GlorotUniform, InitKind::Zeros,
                                   InitKind::Normal, InitKind::Uniform};
  Node *w = g.param(name, Type{false, false, std::move(dims)},
                    ParamRole::Weight, kinds[init.kind], fanIn, fanOut);
  w->initScale = init.scale;
  return w;
}

Node *reshapeTo(Graph &g, Node *x, const std::vector<int64_t> &dims) {
  return g.create(OpKind::Reshape, {x}, {attr::shape(dims)});
}

/// The model's inputs: one is the kernels' input itself; several are
/// packed into one row of slots per sample (sora_input_desc), in
/// declaration order, and unpacked here.
std::vector<Node *> buildInputs(Graph &g, const dsl::Model &model) {
  std::vector<Node *> inputs;
  if (model.inputs.size() == 1) {
    const dsl::Node &n = model.nodes[model.inputs[0]];
    Type type = batchedType(n.shape);
    type.integer = n.integer;
    inputs.push_back(g.input(n.name, type));
    return inputs;
  }
  std::vector<InputSlots> slots = packedInputs(model);
  Node *rows =
      g.input("inputs", batchedType({slots.back().offset + slots.back().size}));
  for (size_t k = 0; k < slots.size(); ++k) {
    const dsl::Node &n = model.nodes[model.inputs[k]];
    inputs.push_back(
        g.create(OpKind::Unpack, {rows},
                 {attr::offset(slots[k].offset), attr::shape(n.shape),
                  attr::integer(n.integer)}));
  }
  return inputs;
}

Forward buildForward(Graph &g, const dsl::Model &model, bool training,
                     int64_t seed) {
  std::vector<Node *> values(model.nodes.size(), nullptr);
  Forward fwd;
  std::vector<Node *> inputs = buildInputs(g, model);
  for (size_t i = 0; i < model.nodes.size(); ++i) {
    const dsl::Node &n = model.nodes[i];
    bool isOutput = int(i) == model.output;
    size_t first = g.nodes().size();
    Node *value = nullptr;
    Node *x = n.inputs.empty() ? nullptr : values[n.inputs[0]];
    switch (n.kind) {
    case dsl::Node::Input: {
      size_t k = std::find(model.inputs.begin(), model.inputs.end(), int(i)) -
                 model.inputs.begin();
      value = inputs.at(k);
      if (model.scalesInputs() && !n.integer)
        value = scaleInput(g, n, value);
      break;
    }
    case dsl::Node::Embedding:
      value = g.create(OpKind::Embedding,
                       {x, weight(g, n, {n.vocab, n.units}, n.vocab, n.units)});
      break;
    case dsl::Node::Dot:
      value = g.create(OpKind::SumLast,
                       {g.create(OpKind::Mul, {x, values[n.inputs[1]]})});
      break;
    case dsl::Node::Concat: {
      std::vector<Node *> parts;
      for (int input : n.inputs)
        parts.push_back(values[input]);
      value = g.create(OpKind::Concat, parts);
      break;
    }
    case dsl::Node::Recurrent:
      value = buildRecurrent(g, n, x, n.mask >= 0 ? values[n.mask] : nullptr);
      break;
    case dsl::Node::LayerNorm:
    case dsl::Node::BatchNorm:
      value = buildNorm(g, n, x, training);
      break;
    case dsl::Node::Dense:
    case dsl::Node::Conv2D:
    case dsl::Node::Activate: {
      Node *y = n.kind == dsl::Node::Activate ? x : buildLayer(g, n, x);
      if (isOutput) {
        fwd.preActivation = y;
        fwd.outputActivation = n.activation.name;
      }
      value = applyActivation(g, y, n.activation);
      break;
    }
    case dsl::Node::Pool2D:
      value = buildPool(g, n, x);
      break;
    case dsl::Node::Reshape:
      value = reshapeTo(g, x, n.shape);
      break;
    case dsl::Node::Dropout:
      // Each dropout layer draws its own masks: the salt tells them apart.
      value = training && n.rate > 0
                  ? g.create(OpKind::Dropout, {x},
                             {attr::rate(n.rate), attr::seed(seed),
                              attr::salt(int64_t(i))})
                  : x;
      break;
    case dsl::Node::Binary: {
      static const OpKind ops[] = {OpKind::Add, OpKind::Sub, OpKind::Mul,
                                   OpKind::Div};
      value = model.nodes[n.inputs[1]].kind == dsl::Node::Constant
                  ? withConstant(g, n, x, values[n.inputs[1]])
                  : g.create(ops[int(n.op)], {x, values[n.inputs[1]]});
      break;
    }
    case dsl::Node::Transpose:
      value = g.create(OpKind::Transpose, {x}, {attr::perm(n.perm)});
      break;
    case dsl::Node::Constant:
      value = g.param(n.name + ".value", Type{false, false, n.shape},
                      ParamRole::Statistic, InitKind::Zeros);
      break;
    case dsl::Node::Slice:
      value = g.create(OpKind::SliceLast, {x},
                       {attr::offset(n.slice[0]), attr::width(n.slice[1])});
      break;
    case dsl::Node::Affine:
      value = g.create(OpKind::Affine, {x},
                       {attr::scale(n.scale), attr::shift(n.shift)});
      break;
    case dsl::Node::Reciprocal:
      value = g.create(OpKind::Reciprocal, {x}, {attr::scale(n.scale)});
      break;
    }
    if (value != x)
      value->loc = n.range;
    values[i] = value;
    // trainable: false freezes the layer's weights (its statistics run on).
    if (!n.trainable)
      for (size_t j = first; j < g.nodes().size(); ++j)
        if (g.nodes()[j]->op == OpKind::Param &&
            g.nodes()[j]->role == ParamRole::Weight)
          g.nodes()[j]->role = ParamRole::Frozen;
    // Weighted layers by name; the others by what they do.
    g.label(first,
            n.hasWeights() ? n.name
                           : (value != x ? mnemonic(value->op) : "identity"),
            "forward");
  }
  fwd.output = values[model.output];
  return fwd;
}

std::unique_ptr<Graph> buildPredictGraph(const dsl::Model &model) {
  auto g = std::make_unique<Graph>(model.name + ".predict");
  Forward fwd = buildForward(*g, model);
  g->addOutput("output", fwd.output);
  return g;
}

int accuracyKind(const dsl::Model &model, const dsl::TrainConfig &train) {
  if (!train.metricAccuracy)
    return 0;
  int64_t width = 1;
  for (int64_t d : model.nodes[model.output].shape)
    width *= d;
  switch (train.loss) {
  case dsl::LossKind::CategoricalCrossentropy:
  case dsl::LossKind::SparseCategoricalCrossentropy:
    return 1;
  case dsl::LossKind::BinaryCrossentropy:
    return 2;
  case dsl::LossKind::MeanSquaredError:
  case dsl::LossKind::MeanAbsoluteError:
  case dsl::LossKind::Huber:
    return width > 1 ? 1 : 2;
  }
  return 0;
}

LossNodes buildLoss(Graph &g, const Forward &fwd, const dsl::TrainConfig &train,
                    bool training) {
  auto require = [&](const char *what) {
    if (fwd.outputActivation != what || !fwd.preActivation)
      throw std::logic_error(std::string("the loss needs a ") + what +
                             " output");
    return fwd.preActivation;
  };
  LossNodes l;
  Node *scores = fwd.output;
  size_t first = g.nodes().size();
  struct Label {
    Graph &g;
    size_t first;
    ~Label() { g.label(first, "loss", "forward"); }
  } label{g, first};
  // Keras weighs the training batches by class_weight, never the
  // validation or test data; label smoothing is the loss's own.
  AttrList xent{attr::labelSmoothing(train.labelSmoothing),
                attr::classWeights(training ? train.classWeights
                                            : std::vector<double>{})};
  switch (train.loss) {
  case dsl::LossKind::CategoricalCrossentropy:
    scores = require("softmax");
    l.labels = g.input("labels", scores->type);
    l.loss = g.create(OpKind::SoftmaxXent, {scores, l.labels}, xent);
    if (train.metricAccuracy)
      l.correct = g.create(OpKind::CountCorrect, {scores, l.labels});
    break;
  case dsl::LossKind::SparseCategoricalCrossentropy:
    scores = require("softmax");
    l.labels = g.input("labels", Type{false, true, {1}});
    l.loss = g.create(OpKind::SparseSoftmaxXent, {scores, l.labels}, xent);
    if (train.metricAccuracy)
      l.correct = g.create(OpKind::SparseCountCorrect, {scores, l.labels});
    break;
  case dsl::LossKind::BinaryCrossentropy:
    scores = require("sigmoid");
    l.labels = g.input("labels", scores->type);
    l.loss = g.create(OpKind::SigmoidBinaryXent, {scores, l.labels}, xent);
    if (train.metricAccuracy) // logits: sigmoid(z) > 0.5 when z > 0
      l.correct = g.create(OpKind::BinaryCountCorrect, {scores, l.labels},
                           {attr::threshold(0)});
    break;
  case dsl::LossKind::MeanSquaredError:
  case dsl::LossKind::MeanAbsoluteError:
  case dsl::LossKind::Huber:
    l.labels = g.input("labels", scores->type);
    if (train.loss == dsl::LossKind::MeanSquaredError)
      l.loss = g.create(OpKind::MeanSquaredError, {scores, l.labels});
    else if (train.loss == dsl::LossKind::MeanAbsoluteError)
      l.loss = g.create(OpKind::MeanAbsoluteError, {scores, l.labels});
    else
      l.loss = g.create(OpKind::Huber, {scores, l.labels},
                        {attr::delta(train.huberDelta)});
    if (train.metricAccuracy)
      l.correct = scores->type.elements() > 1
                      ? g.create(OpKind::CountCorrect, {scores, l.labels})
                      : g.create(OpKind::BinaryCountCorrect, {scores, l.labels},
                                 {attr::threshold(0.5)});
    break;
  }
  if (!l.correct)
    l.correct = g.constant(0);
  // The regression metrics compare what the model outputs (after its
  // sigmoid or softmax) with the labels, as Keras does.
  if (train.metricMae)
    l.mae = g.create(OpKind::MeanAbsoluteError, {fwd.output, l.labels});
  if (train.metricRmse)
    l.mse = g.create(OpKind::MeanSquaredError, {fwd.output, l.labels});
  if (train.topK) {
    bool sparse = train.loss == dsl::LossKind::SparseCategoricalCrossentropy;
    l.topK = g.create(sparse ? OpKind::SparseTopKCorrect : OpKind::TopKCorrect,
                      {fwd.output, l.labels}, {attr::topK(train.topK)});
  }
  if (train.metricPrecision || train.metricRecall)
    l.confusion = g.create(OpKind::BinaryConfusion, {fwd.output, l.labels});
  if (train.metricAuc)
    l.aucHistogram =
        g.create(OpKind::ThresholdHistogram, {fwd.output, l.labels});
  return l;
}

void addLossOutputs(Graph &g, const LossNodes &l) {
  g.addOutput("loss", l.loss);
  g.addOutput("correct", l.correct);
  if (l.mae)
    g.addOutput("mae", l.mae);
  if (l.mse)
    g.addOutput("mse", l.mse);
  if (l.topK)
    g.addOutput("top_k", l.topK);
  if (l.confusion)
    g.addOutput("confusion", l.confusion);
  if (l.aucHistogram)
    g.addOutput("auc_histogram", l.aucHistogram);
}

std::unique_ptr<Graph> buildEvalGraph(const dsl::Model &model) {
  auto g = std::make_unique<Graph>(model.name + ".evaluate");
  Forward fwd = buildForward(*g, model);
  addLossOutputs(*g, buildLoss(*g, fwd, *model.train, false));
  return g;
}

} // namespace sora::ir
