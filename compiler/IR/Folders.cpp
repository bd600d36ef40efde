//===- Folders.cpp - One folding rule per op
//-------------------------------===//
//
// What constant folding evaluates at compile time: an elementwise op whose
// operands are all scalar constants. Computed in double and rounded to f32
// when the value is used, as the generated code would round it.
//
//===----------------------------------------------------------------------===//
#include "IR/Folders.h"

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
  return n.attr("scale") * v[0] + n.attr("shift");
}
R reciprocal(const Node &n, const V &v) {
  return v[0] == 0 ? R() : R(n.attr("scale") / v[0]);
}
R relu(const Node &, const V &v) { return v[0] > 0 ? v[0] : 0; }
R sigmoid(const Node &, const V &v) { return 1 / (1 + std::exp(-v[0])); }
R tanhFold(const Node &, const V &v) { return std::tanh(v[0]); }
R leakyRelu(const Node &n, const V &v) {
  return v[0] > 0 ? v[0] : n.attr("alpha") * v[0];
}

std::array<Folder, kNumOps> makeTable() {
  std::array<Folder, kNumOps> t;
  t.fill(never); // most ops take tensors or have effects
  t[int(K::Add)] = add;
  t[int(K::Sub)] = sub;
  t[int(K::Mul)] = mul;
  t[int(K::Div)] = div;
  t[int(K::Neg)] = neg;
  t[int(K::Affine)] = affine;
  t[int(K::Reciprocal)] = reciprocal;
  t[int(K::Relu)] = relu;
  t[int(K::Sigmoid)] = sigmoid;
  t[int(K::Tanh)] = tanhFold;
  t[int(K::LeakyRelu)] = leakyRelu;
  return t;
}
} // namespace

Folder folder(OpKind op) {
  static const std::array<Folder, kNumOps> table = makeTable();
  return table[int(op)];
}

} // namespace sora::ir
