//===- DeadCodeElimination.cpp - Drop values nobody reads -----------------===//
#include "Transforms/Passes.h"

namespace sora::ir {

bool eliminateDeadCode(Graph &g) {
  const auto &nodes = g.nodes();
  std::vector<bool> live(nodes.size(), false);
  for (const Graph::Output &o : g.outputs())
    live[o.node->id] = true;
  // Walk backwards: a node is live if a live node or an update reads it.
  for (size_t i = nodes.size(); i-- > 0;) {
    Node *n = nodes[i].get();
    bool isLeaf = n->operands.empty() && n->op != OpKind::Const;
    if (n->type.none || isLeaf)
      live[i] = true;
    if (!live[i])
      continue;
    for (Node *o : n->operands)
      live[o->id] = true;
  }
  std::vector<bool> dead(nodes.size());
  bool changed = false;
  for (size_t i = 0; i < nodes.size(); ++i) {
    dead[i] = !live[i];
    changed |= dead[i];
  }
  if (changed)
    g.erase(dead);
  return changed;
}

} // namespace sora::ir
