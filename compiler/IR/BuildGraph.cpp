//===- BuildGraph.cpp - Layer-level nodes to graph-IR ops
//------------------===//
#include "IR/BuildGraph.h"

#include <stdexcept>

namespace sora::ir {

namespace {

Node *applyActivation(Graph &g, Node *x, const dsl::Activation &act) {
  switch (act.kind) {
  case dsl::ActivationKind::Linear:
    return x;
  case dsl::ActivationKind::Relu:
    return g.create(OpKind::Relu, {x});
  case dsl::ActivationKind::Sigmoid:
    return g.create(OpKind::Sigmoid, {x});
  case dsl::ActivationKind::Tanh:
    return g.create(OpKind::Tanh, {x});
  case dsl::ActivationKind::LeakyRelu:
    return g.create(OpKind::LeakyRelu, {x}, {{"alpha", act.alpha}});
  case dsl::ActivationKind::Softmax:
    return g.create(OpKind::Softmax, {x});
  }
  return x;
}

Type batchedType(const std::vector<int64_t> &shape) {
  return Type{false, true, shape};
}

} // namespace

Forward buildForward(Graph &g, const dsl::Model &model) {
  if (model.inputs.size() != 1)
    throw std::logic_error("a model must have exactly one input");
  std::vector<Node *> values(model.nodes.size(), nullptr);
  Forward fwd;
  for (size_t i = 0; i < model.nodes.size(); ++i) {
    const dsl::Node &n = model.nodes[i];
    Node *value = nullptr;
    switch (n.kind) {
    case dsl::Node::Input:
      value = fwd.input = g.input(n.name, batchedType(n.shape));
      break;
    case dsl::Node::Dense: {
      Node *x = values[n.inputs[0]];
      int64_t in = x->type.dims[0];
      // Stored [units, inputs] like torch.nn.Linear, so checkpoints need no
      // transposition; y = x . W^T.
      Node *w =
          g.param(n.name + ".weight", Type{false, false, {n.units, in}},
                  ParamRole::Weight, InitKind::GlorotUniform, in, n.units);
      Node *y = g.create(OpKind::MatMulNT, {x, w});
      if (n.useBias) {
        Node *b = g.param(n.name + ".bias", Type{false, false, {n.units}},
                          ParamRole::Weight, InitKind::Zeros);
        y = g.create(OpKind::BiasAdd, {y, b});
      }
      if (int(i) == model.output &&
          n.activation.kind == dsl::ActivationKind::Softmax)
        fwd.logits = y;
      value = applyActivation(g, y, n.activation);
      break;
    }
    case dsl::Node::Activate:
      if (int(i) == model.output &&
          n.activation.kind == dsl::ActivationKind::Softmax)
        fwd.logits = values[n.inputs[0]];
      value = applyActivation(g, values[n.inputs[0]], n.activation);
      break;
    case dsl::Node::Binary: {
      static const OpKind ops[] = {OpKind::Add, OpKind::Sub, OpKind::Mul,
                                   OpKind::Div};
      value =
          g.create(ops[int(n.op)], {values[n.inputs[0]], values[n.inputs[1]]});
      break;
    }
    }
    value->loc = n.range;
    values[i] = value;
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

std::unique_ptr<Graph> buildEvalGraph(const dsl::Model &model) {
  auto g = std::make_unique<Graph>(model.name + ".evaluate");
  Forward fwd = buildForward(*g, model);
  if (!fwd.logits)
    throw std::logic_error("evaluation needs a softmax output");
  Node *labels = g->input("labels", fwd.logits->type);
  g->addOutput("loss", g->create(OpKind::SoftmaxXent, {fwd.logits, labels}));
  g->addOutput("correct",
               g->create(OpKind::CountCorrect, {fwd.logits, labels}));
  return g;
}

} // namespace sora::ir
