//===- Autodiff.cpp - Reverse-mode accumulation ---------------------------===//
//
// Classic reverse mode on an SSA graph: walk the nodes backwards from the
// objective, ask each node's gradient rule (GradRules.cpp) for its operands'
// gradients, and sum the contributions that meet at one operand. Only
// operands that depend on a parameter we differentiate for are asked for, so
// no gradient is built that nobody reads.
//
//===----------------------------------------------------------------------===//
#include "Autodiff/Autodiff.h"

#include "Autodiff/GradRules.h"
#include "IR/BuildGraph.h"
#include "Transforms/Passes.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace sora::ir {

namespace {

/// The parts of `parts` (pad_last ops) as one concat, when they tile their
/// common width exactly: the gradient of a value read slice by slice (an
/// LSTM's gates, a sequence's steps), with no padding written and summed.
Node *asConcat(Graph &g, std::vector<Node *> parts) {
  for (Node *p : parts)
    if (p->op != OpKind::PadLast ||
        p->attrs.width() != parts[0]->attrs.width() ||
        p->operands[0]->type.batched != parts[0]->operands[0]->type.batched)
      return nullptr;
  std::sort(parts.begin(), parts.end(), [](Node *a, Node *b) {
    return a->attrs.offset() < b->attrs.offset();
  });
  std::vector<Node *> pieces;
  int64_t covered = 0;
  for (Node *p : parts) {
    if (p->attrs.offset() != covered)
      return nullptr; // a gap or an overlap
    pieces.push_back(p->operands[0]);
    covered += p->operands[0]->type.dims.back();
  }
  if (covered != parts[0]->attrs.width())
    return nullptr;
  return g.create(OpKind::Concat, pieces);
}

/// The sum of a value's gradient contributions, in the order they came.
Node *sum(Graph &g, const std::vector<Node *> &parts) {
  if (parts.size() == 1)
    return parts[0];
  if (Node *whole = asConcat(g, parts))
    return whole;
  Node *total = parts[0];
  for (size_t i = 1; i < parts.size(); ++i)
    total = g.create(OpKind::Add, {total, parts[i]});
  return total;
}

} // namespace

std::map<Node *, Node *> differentiate(Graph &g, Node *objective,
                                       const std::vector<Node *> &wrt) {
  // Nodes on a path from one of `wrt` to the objective need a gradient.
  std::set<Node *> dependsOnWrt(wrt.begin(), wrt.end());
  std::vector<Node *> forward;
  for (auto &n : g.nodes()) {
    forward.push_back(n.get());
    for (Node *o : n->operands)
      if (dependsOnWrt.count(o))
        dependsOnWrt.insert(n.get());
  }

  // Each value's gradient contributions, summed when the walk reaches it
  // (every consumer comes later, so all of them are in by then).
  std::map<Node *, std::vector<Node *>> contributions;
  contributions[objective] = {g.constant(1.0)};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    Node *n = *it;
    auto found = contributions.find(n);
    if (found == contributions.end() || n->operands.empty())
      continue;
    std::vector<bool> need;
    bool any = false;
    for (Node *o : n->operands) {
      need.push_back(dependsOnWrt.count(o) != 0);
      any |= need.back();
    }
    if (!any)
      continue;
    size_t first = g.nodes().size();
    Node *dy = sum(g, found->second);
    std::vector<Node *> grads = gradRule(n->op)(g, n, dy, need);
    for (size_t i = 0; i < n->operands.size(); ++i)
      if (need[i] && grads[i])
        contributions[n->operands[i]].push_back(grads[i]);
    g.label(first, n->layer, "backward");
  }

  std::map<Node *, Node *> result;
  for (Node *w : wrt)
    if (auto it = contributions.find(w); it != contributions.end())
      result[w] = sum(g, it->second);
  return result;
}

namespace {

LrSchedule scheduleKind(dsl::Schedule::Kind kind) {
  switch (kind) {
  case dsl::Schedule::Exponential:
    return LrSchedule::Exponential;
  case dsl::Schedule::Step:
    return LrSchedule::Step;
  case dsl::Schedule::Linear:
    return LrSchedule::Linear;
  case dsl::Schedule::Plateau:
    return LrSchedule::Plateau;
  case dsl::Schedule::Constant:
    break;
  }
  return LrSchedule::Constant;
}

/// The learning rate's schedule as attributes of an update op.
AttrList scheduleAttrs(const dsl::Schedule &s) {
  return {attr::lr(s.initial),         attr::schedule(scheduleKind(s.kind)),
          attr::decayRate(s.rate),     attr::decaySteps(s.steps),
          attr::decayFactor(s.factor), attr::decayEvery(s.every),
          attr::finalLr(s.final)};
}

/// Appends the optimizer's update of weight `w` by gradient `grad`, with
/// the optimizer state it needs ("optimizer.<w>.<slot>").
void addUpdate(Graph &g, Node *w, Node *grad, const dsl::Optimizer &opt) {
  size_t first = g.nodes().size();
  std::string layer = w->name.substr(0, w->name.rfind('.'));
  struct Label {
    Graph &g;
    size_t first;
    std::string layer;
    ~Label() { g.label(first, layer, "update"); }
  } label{g, first, layer};
  auto state = [&](const char *slot) {
    return g.param("optimizer." + w->name + "." + slot, w->type,
                   ParamRole::OptimizerState, InitKind::Zeros);
  };
  AttrList schedule = scheduleAttrs(opt.lr);
  switch (opt.kind) {
  case dsl::OptimizerKind::Adam: {
    // Kingma & Ba, with PyTorch's placement of epsilon.
    Node *m = state("m"), *v = state("v");
    g.create(OpKind::AdamUpdate, {w, grad, m, v},
             schedule.plus({attr::beta1(opt.beta1), attr::beta2(opt.beta2),
                            attr::epsilon(opt.epsilon)}));
    break;
  }
  case dsl::OptimizerKind::SGD:
    if (opt.momentum == 0) {
      g.create(OpKind::SgdUpdate, {w, grad}, schedule);
      break;
    }
    g.create(OpKind::MomentumUpdate, {w, grad, state("momentum")},
             schedule.plus(
                 {attr::momentum(opt.momentum), attr::nesterov(opt.nesterov)}));
    break;
  case dsl::OptimizerKind::RMSprop:
    g.create(OpKind::RmspropUpdate, {w, grad, state("square_avg")},
             schedule.plus({attr::rho(opt.rho), attr::epsilon(opt.epsilon)}));
    break;
  }
}

} // namespace

std::unique_ptr<Graph> buildTrainGraph(const dsl::Model &model,
                                       const dsl::TrainConfig &train,
                                       bool gradientOutputs) {
  auto g = std::make_unique<Graph>(
      model.name + (gradientOutputs ? ".grad_step" : ".train_step"));
  Forward fwd = buildForward(*g, model, /*training=*/true, train.seed);
  LossNodes l = buildLoss(*g, fwd, train, true);

  std::vector<Node *> weights = g->params(ParamRole::Weight);
  std::map<Node *, Node *> grads = differentiate(*g, l.loss, weights);
  // reduce_on_plateau's count of reductions, which fit makes between
  // epochs and the updates read: optimizer state, so that checkpoints keep
  // it and a fresh instance starts at 0.
  if (train.optimizer.lr.kind == dsl::Schedule::Plateau)
    g->param(kLrReductions, Type{false, false, {1}}, ParamRole::OptimizerState,
             InitKind::Zeros);

  // Every update after every gradient: updates write in place.
  for (Node *w : weights) {
    // A weight that does not reach the loss (an unused layer) keeps its
    // initial value: its gradient is zero.
    if (grads.count(w))
      addUpdate(*g, w, grads[w], train.optimizer);
  }
  addLossOutputs(*g, l);
  // Data-parallel training reads the gradients between the backward pass
  // and the update: as outputs they are stored, never fused into their
  // update, so the fuse pass puts every update into one OptimizerUpdate
  // loop and the plan pins the gradients at the start of scratch.
  if (gradientOutputs)
    for (Node *w : weights)
      if (grads.count(w))
        g->addOutput("grad." + w->name, grads[w]);
  return g;
}

} // namespace sora::ir
