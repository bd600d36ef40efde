//===- Fusion.cpp - Ops that run as one loop nest -------------------------===//
//
// Three kinds of groups:
//  - Epilogue: an anchor (a matmul, a convolution, or any elementwise op)
//    followed by a chain of elementwise ops, each the only reader of the one
//    before. The chain runs inside the anchor's loop on the value in
//    registers, and only the last op's value is written to memory: dense or
//    conv2d + bias + activation, or a gradient mask after the backward
//    matmul, or a run of arithmetic, becomes one loop nest.
//  - UpdateEpilogue: a weight's gradient op (matmul_tn or bias_grad) whose
//    only reader is the weight's optimizer update: the update runs on each
//    gradient element as it is finished, so the gradient is never stored.
//  - OptimizerUpdate: the updates left, in one loop over the
//    parameter block (the memory plan lays the gradients out like the
//    parameters so that one index walks all four arrays).
// A group runs at the position of its last node, where every operand of
// every member is available.
//
//===----------------------------------------------------------------------===//
#include "IR/OpRules.h"
#include "Transforms/Passes.h"

#include <map>

namespace sora::ir {

namespace {

/// Ops whose result can be handed to an epilogue element by element (the
/// convolution's bias and activation run on its register tiles; a max
/// pool's gradient, written once per element where its windows tile the
/// image, hands on to the activation's derivative before the pool; a max
/// pool or a dropout mask hands on to a reshape or bf16 rounding).
bool canAnchor(const Node &n) {
  return isElementwise(n.op) || n.op == OpKind::MatMulNT ||
         n.op == OpKind::QMatMulNT || n.op == OpKind::MatMul ||
         n.op == OpKind::Conv2D || n.op == OpKind::MaxPool2D ||
         n.op == OpKind::Dropout || n.op == OpKind::DropoutGrad ||
         (n.op == OpKind::MaxPool2DGrad && poolWindowsTile(n));
}

} // namespace

bool fuseOps(Graph &g) {
  // Readers of each value; a graph output counts as a reader that is not an
  // op, so an output is never folded into a chain.
  std::map<const Node *, std::vector<Node *>> readers;
  std::map<const Node *, bool> isOutput;
  for (const auto &n : g.nodes())
    for (Node *o : n->operands)
      readers[o].push_back(n.get());
  for (const Graph::Output &o : g.outputs())
    isOutput[o.node] = true;

  bool changed = false;
  for (const auto &node : g.nodes()) {
    Node *anchor = node.get();
    if (anchor->group >= 0 || !anchor->hasResult() || !canAnchor(*anchor))
      continue;
    std::vector<Node *> chain;
    Node *last = anchor;
    while (!isOutput[last]) {
      const std::vector<Node *> &r = readers[last];
      Node *next = r.empty() ? nullptr : r[0];
      bool onlyReader = next != nullptr;
      for (Node *other : r)
        onlyReader &= other == next;
      if (!onlyReader || next->group >= 0 || !isElementwise(next->op) ||
          next->type.batched != last->type.batched ||
          next->type.elements() != last->type.elements())
        break;
      // bias_add reads its bias by column (channel_mul its scale,
      // normalize its statistics): the chain value must be its first
      // operand.
      if (next->operands[0] != last && readsByFeature(next->op, 1))
        break;
      // The anchor hands its chain the column of its own last dimension
      // (a matmul's, a convolution's): after a reshape that changes the
      // last dimension, a bias would be read at the wrong column.
      if (readsByFeature(next->op, 1) &&
          next->type.dims.back() != anchor->type.dims.back() &&
          !isElementwise(anchor->op))
        break;
      chain.push_back(next);
      last = next;
    }
    if (chain.empty())
      continue;
    int id = int(g.groups.size());
    g.groups.push_back({FusionGroup::Epilogue, anchor, chain, last});
    anchor->group = id;
    for (Node *c : chain)
      c->group = id;
    changed = true;
  }

  // Gradients finished element by element feed their update directly.
  std::vector<Node *> updates;
  for (const auto &node : g.nodes()) {
    Node *u = node.get();
    if (!isUpdate(u->op))
      continue;
    Node *grad = u->operands[1];
    bool fusable =
        (grad->op == OpKind::MatMulTN || grad->op == OpKind::BiasGrad) &&
        grad->group < 0 && !isOutput[grad] && readers[grad].size() == 1;
    if (!fusable) {
      updates.push_back(u);
      continue;
    }
    int id = int(g.groups.size());
    g.groups.push_back({FusionGroup::UpdateEpilogue, grad, {u}, u});
    grad->group = u->group = id;
    changed = true;
  }

  // The updates left, in one loop when every weight has one of them.
  // Every weight must have its update, or the loop would also walk the
  // slots of weights that receive no gradient.
  // Statistics (batch norm's running mean) and frozen weights lie among
  // the weights and have no gradient: their slots must not be walked
  // either.
  bool same = updates.size() > 1 &&
              updates.size() == g.params(ParamRole::Weight).size() &&
              g.params(ParamRole::Statistic).empty() &&
              g.params(ParamRole::Frozen).empty();
  // A weight decay of its own (decay_biases: false) is lowered as a loop
  // per update inside the group.
  auto decayApart = [](const AttrList &a) {
    std::vector<Attr> rest;
    for (const Attr &attr : a)
      if (attr.id != AttrId::WeightDecay)
        rest.push_back(attr);
    return rest;
  };
  for (Node *u : updates)
    same &= u->op == updates[0]->op &&
            decayApart(u->attrs) == decayApart(updates[0]->attrs);
  if (same) {
    int id = int(g.groups.size());
    g.groups.push_back(
        {FusionGroup::OptimizerUpdate, updates[0], updates, updates.back()});
    for (Node *u : updates)
      u->group = id;
    changed = true;
  }
  return changed;
}

} // namespace sora::ir
