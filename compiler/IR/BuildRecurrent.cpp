//===- BuildRecurrent.cpp - LSTM, GRU and RNN layers as graph-IR ops ------===//
//
// A recurrent layer over x [?, T, F], unrolled over its T steps (T is a
// constant of the model, so the "loop" has a constant trip count and
// autodiff takes the gradient back through time in the same kernel). Each
// step is two matmuls, its input x_t W_ih^T and its state h W_hh^T, and
// gates that are elementwise ops and fuse. (Projecting every step's input
// with one matmul would be faster forward, but its gradient is then T
// slices of a [?, T, G] value, each padded back to full size and summed.)
// Formulas, parameter names, shapes and gate order are PyTorch's (nn.LSTM: i,
// f, g, o; nn.GRU: r, z, n with the reset gate applied after the recurrent
// matmul; nn.RNN), so PyTorch's weights load as they are.
//
//===----------------------------------------------------------------------===//
#include "IR/BuildGraph.h"

#include <cmath>

namespace sora::ir {

namespace {

using Cell = dsl::Node::Cell;

int64_t gatesOf(Cell cell) {
  return cell == Cell::LSTM ? 4 : cell == Cell::GRU ? 3 : 1;
}

/// Columns [part * U, (part + 1) * U) of a [?, G * U] value.
Node *gate(Graph &g, Node *x, int64_t part, int64_t U) {
  return g.create(OpKind::SliceLast, {x},
                  {attr::offset(part * U), attr::width(U)});
}

Node *sigmoid(Graph &g, Node *x) { return g.create(OpKind::Sigmoid, {x}); }
Node *tanhOf(Graph &g, Node *x) { return g.create(OpKind::Tanh, {x}); }
Node *add(Graph &g, Node *a, Node *b) { return g.create(OpKind::Add, {a, b}); }
Node *mul(Graph &g, Node *a, Node *b) { return g.create(OpKind::Mul, {a, b}); }

} // namespace

Node *buildRecurrent(Graph &g, const dsl::Node &n, Node *x) {
  const int64_t T = x->type.dims[0], F = x->type.dims[1], U = n.units;
  const int64_t G = gatesOf(n.cell) * U;
  auto param = [&](const char *suffix, std::vector<int64_t> dims,
                   int64_t fanIn) {
    return weightParam(g, n.name + suffix, std::move(dims), n.init, fanIn, G);
  };
  Node *wIh = param(".weight_ih", {G, F}, F);
  Node *wHh = param(".weight_hh", {G, U}, U);
  Node *bIh = param(".bias_ih", {G}, F);
  Node *bHh = param(".bias_hh", {G}, U);

  Node *steps = g.create(OpKind::Reshape, {x}, {attr::shape({T * F})});

  Node *h = g.create(OpKind::ZerosLike, {x}, {attr::shape({U})});
  Node *c = h; // the LSTM's cell state
  std::vector<Node *> states(T);
  for (int64_t s = 0; s < T; ++s) {
    int64_t t = n.reverse ? T - 1 - s : s;
    // The step's input projection; the LSTM's and RNN's recurrent bias is
    // added here too (a GRU's is inside its reset gate).
    Node *xt = g.create(OpKind::SliceLast, {steps},
                        {attr::offset(t * F), attr::width(F)});
    Node *xs =
        g.create(OpKind::BiasAdd, {g.create(OpKind::MatMulNT, {xt, wIh}), bIh});
    if (n.cell != Cell::GRU)
      xs = g.create(OpKind::BiasAdd, {xs, bHh});
    Node *hw = g.create(OpKind::MatMulNT, {h, wHh});
    switch (n.cell) {
    case Cell::LSTM: {
      Node *gates = add(g, xs, hw);
      Node *i = sigmoid(g, gate(g, gates, 0, U));
      Node *f = sigmoid(g, gate(g, gates, 1, U));
      Node *cand = tanhOf(g, gate(g, gates, 2, U));
      Node *o = sigmoid(g, gate(g, gates, 3, U));
      c = add(g, mul(g, f, c), mul(g, i, cand));
      h = mul(g, o, tanhOf(g, c));
      break;
    }
    case Cell::GRU: {
      hw = g.create(OpKind::BiasAdd, {hw, bHh});
      Node *r = sigmoid(g, add(g, gate(g, xs, 0, U), gate(g, hw, 0, U)));
      Node *z = sigmoid(g, add(g, gate(g, xs, 1, U), gate(g, hw, 1, U)));
      Node *cand =
          tanhOf(g, add(g, gate(g, xs, 2, U), mul(g, r, gate(g, hw, 2, U))));
      // (1 - z) n + z h = n + z (h - n)
      h = add(g, cand, mul(g, z, g.create(OpKind::Sub, {h, cand})));
      break;
    }
    case Cell::RNN:
      h = g.create(n.activation.is("relu") ? OpKind::Relu : OpKind::Tanh,
                   {add(g, xs, hw)});
      break;
    }
    states[t] = h;
  }
  if (!n.sequences)
    return h;
  // Every step's state, in the input's order (right to left or not).
  Node *all = states[0];
  for (int64_t t = 1; t < T; ++t)
    all = g.create(OpKind::Concat, {all, states[t]});
  return g.create(OpKind::Reshape, {all}, {attr::shape({T, U})});
}

} // namespace sora::ir
