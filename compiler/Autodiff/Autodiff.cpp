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
#include "IR/PhaseTimer.h"
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
  case dsl::Schedule::Cosine:
    return LrSchedule::Cosine;
  case dsl::Schedule::Piecewise:
    return LrSchedule::Piecewise;
  case dsl::Schedule::Constant:
    break;
  }
  return LrSchedule::Constant;
}

/// The learning rate's schedule and the gradient's regularisation as
/// attributes of an update op (weight decay `decay` for this weight).
AttrList scheduleAttrs(const dsl::Optimizer &opt, double decay) {
  const dsl::Schedule &s = opt.lr;
  return {attr::lr(s.initial),
          attr::schedule(scheduleKind(s.kind)),
          attr::decayRate(s.rate),
          attr::decaySteps(s.steps),
          attr::decayFactor(s.factor),
          attr::decayEvery(s.every),
          attr::finalLr(s.final),
          attr::cosineAlpha(s.alpha),
          attr::boundaries(s.boundaries),
          attr::values(s.values),
          attr::warmupSteps(s.warmup),
          attr::clipValue(opt.clipValue),
          attr::weightDecay(decay)};
}

/// Appends the optimizer's update of weight `w` by gradient `grad`, with
/// the optimizer state it needs ("optimizer.<w>.<slot>"), reading the clip
/// scale `clip` last when there is one.
void addUpdate(Graph &g, Node *w, Node *grad, const dsl::Optimizer &opt,
               double decay, Node *clip) {
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
  auto operands = [&](std::vector<Node *> list) {
    if (clip)
      list.push_back(clip);
    return list;
  };
  AttrList schedule = scheduleAttrs(opt, decay);
  switch (opt.kind) {
  case dsl::OptimizerKind::Adam:
  case dsl::OptimizerKind::AdamW: {
    // Kingma & Ba, with PyTorch's placement of epsilon; AdamW decays the
    // weight apart from the gradient (Loshchilov & Hutter).
    Node *m = state("m"), *v = state("v");
    g.create(OpKind::AdamUpdate, operands({w, grad, m, v}),
             schedule.plus(
                 {attr::beta1(opt.beta1), attr::beta2(opt.beta2),
                  attr::epsilon(opt.epsilon),
                  attr::decoupled(opt.kind == dsl::OptimizerKind::AdamW)}));
    break;
  }
  case dsl::OptimizerKind::SGD:
    if (opt.momentum == 0) {
      g.create(OpKind::SgdUpdate, operands({w, grad}), schedule);
      break;
    }
    g.create(OpKind::MomentumUpdate, operands({w, grad, state("momentum")}),
             schedule.plus(
                 {attr::momentum(opt.momentum), attr::nesterov(opt.nesterov)}));
    break;
  case dsl::OptimizerKind::RMSprop:
    g.create(OpKind::RmspropUpdate, operands({w, grad, state("square_avg")}),
             schedule.plus({attr::rho(opt.rho), attr::epsilon(opt.epsilon)}));
    break;
  }
}

/// Whether `decay_biases: false` spares weight `w`: a bias (a layer's
/// `.bias`, a recurrent layer's `.bias_ih` and `.bias_hh`) or a parameter
/// of a normalisation layer (its scale and shift).
bool isBiasOrNorm(const dsl::Model &model, const Node *w) {
  size_t dot = w->name.rfind('.');
  if (w->name.compare(dot + 1, 4, "bias") == 0)
    return true;
  std::string layer = w->name.substr(0, dot);
  for (const dsl::Node &n : model.nodes)
    if (n.name == layer)
      return n.kind == dsl::Node::LayerNorm || n.kind == dsl::Node::BatchNorm;
  return false;
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
  std::map<Node *, Node *> grads;
  {
    PhaseTimer timer("autodiff");
    grads = differentiate(*g, l.loss, weights);
  }
  // reduce_on_plateau's count of reductions, which fit makes between
  // epochs and the updates read: optimizer state, so that checkpoints keep
  // it and a fresh instance starts at 0.
  if (train.optimizer.lr.kind == dsl::Schedule::Plateau)
    g->param(kLrReductions, Type{false, false, {1}}, ParamRole::OptimizerState,
             InitKind::Zeros);

  // Clipping by global norm needs every gradient before any update: the
  // gradients are then stored (two readers: no update epilogue), one op
  // reduces them to the clip scale, and each update reads it. In
  // data-parallel training it runs in apply_update, on the summed gradients.
  const dsl::Optimizer &opt = train.optimizer;
  Node *clip = nullptr;
  if (opt.clipNorm > 0) {
    std::vector<Node *> all;
    for (Node *w : weights)
      if (grads.count(w))
        all.push_back(grads[w]);
    if (!all.empty())
      clip =
          g->create(OpKind::GradNormScale, all, {attr::clipNorm(opt.clipNorm)});
  }
  // Every update after every gradient: updates write in place.
  for (Node *w : weights) {
    // A weight that does not reach the loss (an unused layer) keeps its
    // initial value: its gradient is zero.
    if (!grads.count(w))
      continue;
    bool spared = !opt.decayBiases && isBiasOrNorm(model, w);
    addUpdate(*g, w, grads[w], opt, spared ? 0 : opt.weightDecay, clip);
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
