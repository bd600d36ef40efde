//===- AlgebraicSimplification.cpp - Rewrite rules as data ----------------===//
//
// A table of local rewrite rules, each with the identity it applies. A rule
// either rewrites its node in place (new operands or attributes) or returns
// the value the node is equal to; then every reader is redirected and DCE
// removes the node. In-place rewrites keep the graph in topological order.
//
//===----------------------------------------------------------------------===//
#include "Transforms/Passes.h"

#include <set>

namespace sora::ir {

namespace {

using Rule = Node *(*)(Node *n, bool &changed);

// affine{1, 0}(x) -> x   (x*1, x+0, x/1, x-0)
Node *affineIdentity(Node *n, bool &) {
  if (n->op == OpKind::Affine && n->attrs.scale() == 1 && n->attrs.shift() == 0)
    return n->operands[0];
  return nullptr;
}

// affine{a,b}(affine{c,d}(x)) -> affine{a*c, a*d + b}(x)
Node *affineOfAffine(Node *n, bool &changed) {
  if (n->op != OpKind::Affine || n->operands[0]->op != OpKind::Affine)
    return nullptr;
  Node *inner = n->operands[0];
  double a = n->attrs.scale(), b = n->attrs.shift();
  double c = inner->attrs.scale(), d = inner->attrs.shift();
  n->attrs = {attr::scale(a * c), attr::shift(a * d + b)};
  n->operands[0] = inner->operands[0];
  changed = true;
  return nullptr;
}

// -(-x) -> x
Node *negNeg(Node *n, bool &) {
  if (n->op == OpKind::Neg && n->operands[0]->op == OpKind::Neg)
    return n->operands[0]->operands[0];
  return nullptr;
}

// reshape(reshape(x)) -> reshape(x)
Node *reshapeOfReshape(Node *n, bool &changed) {
  if (n->op != OpKind::Reshape || n->operands[0]->op != OpKind::Reshape)
    return nullptr;
  n->operands[0] = n->operands[0]->operands[0];
  changed = true;
  return nullptr;
}

// reshape(x) to x's own shape -> x
Node *reshapeToItself(Node *n, bool &) {
  if (n->op == OpKind::Reshape && n->type == n->operands[0]->type)
    return n->operands[0];
  return nullptr;
}

// transpose(x) that moves only axes of size 1 -> reshape(x): the elements
// stay in the same order ([1, 28, 28] to [28, 28, 1])
Node *transposeOfUnitAxes(Node *n, bool &changed) {
  if (n->op != OpKind::Transpose)
    return nullptr;
  const Dims &perm = n->attrs.perm(), &in = n->operands[0]->type.dims;
  int64_t last = -1;
  for (int64_t axis : perm) {
    if (in[axis] == 1)
      continue;
    if (axis < last)
      return nullptr;
    last = axis;
  }
  n->op = OpKind::Reshape;
  n->attrs = {attr::shape(n->type.dims)};
  changed = true;
  return nullptr;
}

const Rule kRules[] = {affineIdentity,      affineOfAffine,  negNeg,
                       reshapeOfReshape,    reshapeToItself,
                       transposeOfUnitAxes};

} // namespace

bool simplifyAlgebra(Graph &g) {
  bool changed = false;
  // Rules may enable one another (x*2*0.5 -> x*1 -> x): iterate to a fixed
  // point; each rewrite removes an op or an operand link, so this ends.
  std::set<const Node *> replaced;
  for (bool again = true; again;) {
    again = false;
    for (const auto &node : g.nodes()) {
      for (Rule rule : kRules) {
        if (replaced.count(node.get()))
          break;
        bool rewritten = false;
        if (Node *same = rule(node.get(), rewritten)) {
          g.replaceAllUses(node.get(), same);
          replaced.insert(node.get());
          rewritten = true;
        }
        again |= rewritten;
        changed |= rewritten;
      }
    }
  }
  if (changed)
    eliminateDeadCode(g);
  return changed;
}

} // namespace sora::ir
