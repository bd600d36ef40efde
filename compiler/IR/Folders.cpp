//===- Folders.cpp - One folding rule per op ------------------------------===//
//
// What constant folding evaluates at compile time: an elementwise op whose
// operands are all scalar constants. Computed in double and rounded to f32
// when the value is used, as the generated code would round it.
//
//===----------------------------------------------------------------------===//
#include "IR/Folders.h"

#include "IR/OpTable.h"

#include <cmath>

namespace sora::ir {

namespace {
using V = std::vector<double>;
using R = std::optional<double>;
using K = OpKind;

R never(const Node &, const V &) { return std::nullopt; }
R add(const Node &, const V &v) { return v[0] + v[1]; }
R sub(const Node &, const V &v) { return v[0] - v[1]; }
R mul(const Node &, const V &v) { return v[0] * v[1]; }
R div(const Node &, const V &v) { return v[1] == 0 ? R() : R(v[0] / v[1]); }
R neg(const Node &, const V &v) { return -v[0]; }
R affine(const Node &n, const V &v) {
  return n.attrs.scale() * v[0] + n.attrs.shift();
}
R reciprocal(const Node &n, const V &v) {
  return v[0] == 0 ? R() : R(n.attrs.scale() / v[0]);
}
R relu(const Node &, const V &v) { return v[0] > 0 ? v[0] : 0; }
R sigmoid(const Node &, const V &v) { return 1 / (1 + std::exp(-v[0])); }
R tanhFold(const Node &, const V &v) { return std::tanh(v[0]); }
R leakyRelu(const Node &n, const V &v) {
  return v[0] > 0 ? v[0] : n.attrs.alpha() * v[0];
}

OpTable<Folder> makeTable() {
  OpTable<Folder> t;
  t.set(K::Add, add);
  t.set(K::Sub, sub);
  t.set(K::Mul, mul);
  t.set(K::Div, div);
  t.set(K::Neg, neg);
  t.set(K::Affine, affine);
  t.set(K::Reciprocal, reciprocal);
  t.set(K::Relu, relu);
  t.set(K::Sigmoid, sigmoid);
  t.set(K::Tanh, tanhFold);
  t.set(K::LeakyRelu, leakyRelu);
  // Optional: the other ops take tensors, have effects, or are rare enough
  // on constants that folding them buys nothing.
  t.fillRest(never);
  return t;
}
} // namespace

Folder folder(OpKind op) {
  static const OpTable<Folder> table = makeTable();
  return table[op];
}

} // namespace sora::ir
