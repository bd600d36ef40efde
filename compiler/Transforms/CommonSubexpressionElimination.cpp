//===- CommonSubexpressionElimination.cpp - Each value once ---------------===//
#include "Transforms/Passes.h"

#include <map>
#include <tuple>

namespace sora::ir {

bool eliminateCommonSubexpressions(Graph &g) {
  // Key: op, operands and attributes. Leaves other than constants are
  // distinct by definition; updates have effects.
  using Key = std::tuple<int, std::vector<const Node *>, std::vector<Attr>>;
  std::map<Key, Node *> seen;
  bool changed = false;
  for (const auto &node : g.nodes()) {
    Node *n = node.get();
    if (n->op == OpKind::Input || n->op == OpKind::Param || !n->hasResult())
      continue;
    Key key{
        int(n->op), {n->operands.begin(), n->operands.end()}, n->attrs.list()};
    auto [it, inserted] = seen.emplace(key, n);
    if (!inserted) {
      g.replaceAllUses(n, it->second);
      changed = true;
    }
  }
  if (changed)
    eliminateDeadCode(g);
  return changed;
}

} // namespace sora::ir
