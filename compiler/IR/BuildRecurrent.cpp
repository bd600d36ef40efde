//===- BuildRecurrent.cpp - LSTM, GRU and RNN layers as graph-IR ops ------===//
//
// A recurrent layer over x [?, T, F], unrolled over its T steps (T is a
// constant of the model, so the "loop" has a constant trip count and
// autodiff takes the gradient back through time in the same kernel). Each
// step of an LSTM or RNN is one matmul, [x_t, h] [W_ih, W_hh]^T (a GRU's
// reset gate needs h W_hh^T apart, so it takes two), and gates that are
// elementwise ops and fuse. The gradients of the slices (the steps, the
// gates) meet as one concat (Autodiff.cpp), not as padded sums.
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

Node *buildRecurrent(Graph &g, const dsl::Node &n, Node *x, Node *maskIds) {
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
  // LSTM and RNN gates are [x_t, h] [W_ih, W_hh]^T + b_ih + b_hh: one
  // matmul per step (two thin ones would each load and store the gates).
  // The first step's h is zero, so it needs only W_ih.
  Node *wCat = g.create(OpKind::Concat, {wIh, wHh});
  Node *bias = add(g, bIh, bHh);

  // Keras' masking: a step whose id is 0 keeps the state as it was,
  // m * new + (1 - m) * old (exact for m = 0 or 1, unlike old + m (new -
  // old)).
  Node *keep = maskIds ? g.create(OpKind::NonZeroMask, {maskIds}) : nullptr;

  Node *h = g.create(OpKind::ZerosLike, {x}, {attr::shape({U})});
  Node *c = h; // the LSTM's cell state
  std::vector<Node *> states(T);
  for (int64_t s = 0; s < T; ++s) {
    int64_t t = n.reverse ? T - 1 - s : s;
    Node *hBefore = h, *cBefore = c;
    Node *xt = g.create(OpKind::SliceLast, {steps},
                        {attr::offset(t * F), attr::width(F)});
    Node *gates = nullptr;             // LSTM and RNN
    Node *xs = nullptr, *hw = nullptr; // GRU: kept apart for its reset gate
    if (n.cell == Cell::GRU) {
      xs = g.create(OpKind::BiasAdd,
                    {g.create(OpKind::MatMulNT, {xt, wIh}), bIh});
      hw = g.create(OpKind::BiasAdd,
                    {g.create(OpKind::MatMulNT, {h, wHh}), bHh});
    } else {
      Node *product = s == 0
                          ? g.create(OpKind::MatMulNT, {xt, wIh})
                          : g.create(OpKind::MatMulNT,
                                     {g.create(OpKind::Concat, {xt, h}), wCat});
      gates = g.create(OpKind::BiasAdd, {product, bias});
    }
    switch (n.cell) {
    case Cell::LSTM: {
      Node *i = sigmoid(g, gate(g, gates, 0, U));
      Node *f = sigmoid(g, gate(g, gates, 1, U));
      Node *cand = tanhOf(g, gate(g, gates, 2, U));
      Node *o = sigmoid(g, gate(g, gates, 3, U));
      c = add(g, mul(g, f, c), mul(g, i, cand));
      h = mul(g, o, tanhOf(g, c));
      break;
    }
    case Cell::GRU: {
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
                   {gates});
      break;
    }
    if (maskIds) {
      Node *m = g.create(OpKind::BroadcastLast,
                         {g.create(OpKind::SliceLast, {keep},
                                   {attr::offset(t), attr::width(1)})},
                         {attr::width(U)});
      Node *notM =
          g.create(OpKind::Affine, {m}, {attr::scale(-1.0), attr::shift(1.0)});
      auto select = [&](Node *now, Node *before) {
        return add(g, mul(g, m, now), mul(g, notM, before));
      };
      h = select(h, hBefore);
      if (n.cell == Cell::LSTM)
        c = select(c, cBefore);
    }
    states[t] = h;
  }
  if (!n.sequences)
    return h;
  // Every step's state, in the input's order (right to left or not).
  Node *all = T == 1 ? states[0] : g.create(OpKind::Concat, states);
  return g.create(OpKind::Reshape, {all}, {attr::shape({T, U})});
}

} // namespace sora::ir
