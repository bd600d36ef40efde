//===- Autodiff.cpp - Reverse-mode accumulation
//----------------------------===//
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

#include <set>
#include <stdexcept>

namespace sora::ir {

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

  std::map<Node *, Node *> adjoint;
  adjoint[objective] = g.constant(1.0);
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    Node *n = *it;
    auto adj = adjoint.find(n);
    if (adj == adjoint.end() || n->operands.empty())
      continue;
    std::vector<bool> need;
    bool any = false;
    for (Node *o : n->operands) {
      need.push_back(dependsOnWrt.count(o) != 0);
      any |= need.back();
    }
    if (!any)
      continue;
    std::vector<Node *> grads = gradRule(n->op)(g, n, adj->second, need);
    for (size_t i = 0; i < n->operands.size(); ++i) {
      if (!need[i] || !grads[i])
        continue;
      Node *&slot = adjoint[n->operands[i]];
      slot = slot ? g.create(OpKind::Add, {slot, grads[i]}) : grads[i];
    }
  }

  std::map<Node *, Node *> result;
  for (Node *w : wrt)
    if (auto it = adjoint.find(w); it != adjoint.end())
      result[w] = it->second;
  return result;
}

std::unique_ptr<Graph> buildTrainGraph(const dsl::Model &model,
                                       const dsl::TrainConfig &train) {
  auto g = std::make_unique<Graph>(model.name + ".train_step");
  Forward fwd = buildForward(*g, model, /*training=*/true, train.seed);
  if (!fwd.logits)
    throw std::logic_error("training needs a softmax output");
  Node *labels = g->input("labels", fwd.logits->type);
  Node *loss = g->create(OpKind::SoftmaxXent, {fwd.logits, labels});
  Node *correct = g->create(OpKind::CountCorrect, {fwd.logits, labels});

  std::vector<Node *> weights = g->params(ParamRole::Weight);
  std::map<Node *, Node *> grads = differentiate(*g, loss, weights);

  // Adam (Kingma & Ba, with PyTorch's placement of epsilon), over every
  // weight after all gradients are computed: the update writes in place.
  const dsl::Optimizer &opt = train.optimizer;
  std::vector<Attr> attrs = {{"lr", opt.lr.initial},
                             {"beta1", opt.beta1},
                             {"beta2", opt.beta2},
                             {"epsilon", opt.epsilon}};
  for (Node *w : weights) {
    // A weight that does not reach the loss (an unused layer) keeps its
    // initial value: its gradient is zero.
    if (!grads.count(w))
      continue;
    Node *m = g->param("optimizer." + w->name + ".m", w->type,
                       ParamRole::OptimizerState, InitKind::Zeros);
    Node *v = g->param("optimizer." + w->name + ".v", w->type,
                       ParamRole::OptimizerState, InitKind::Zeros);
    g->create(OpKind::AdamUpdate, {w, grads[w], m, v}, attrs);
  }
  g->addOutput("loss", loss);
  g->addOutput("correct", correct);
  return g;
}

} // namespace sora::ir
