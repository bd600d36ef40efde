//===- ConstantFolding.cpp - Constant expressions become constants --------===//
#include "IR/Folders.h"
#include "Transforms/Passes.h"

#include <cmath>

namespace sora::ir {

bool foldConstants(Graph &g) {
  bool changed = false;
  for (const auto &node : g.nodes()) {
    Node *n = node.get();
    if (n->operands.empty() || !n->hasResult())
      continue;
    std::vector<double> values;
    for (Node *o : n->operands) {
      if (o->op != OpKind::Const)
        break;
      values.push_back(o->attrs.value());
    }
    if (values.size() != n->operands.size())
      continue;
    std::optional<double> v = folder(n->op)(*n, values);
    if (!v || !std::isfinite(*v))
      continue;
    // The node becomes the constant, in place: readers need no update.
    n->op = OpKind::Const;
    n->operands.clear();
    n->attrs = {attr::value(double(float(*v)))};
    changed = true;
  }
  if (changed)
    eliminateDeadCode(g);
  return changed;
}

} // namespace sora::ir
