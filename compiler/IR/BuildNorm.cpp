//===- BuildNorm.cpp - layer_norm and batch_norm as graph-IR ops ----------===//
//
// Both normalise over the last dimension's C features, then scale and shift
// each feature by learned `<layer>.weight` (ones) and `<layer>.bias`
// (zeros), PyTorch's names:
//   layer_norm: each line on its own (layer_normalize).
//   batch_norm: each feature over the batch and every other index. A train
//     step normalises with the batch's mean and biased variance and moves
//     `<layer>.running_mean` (zeros) and `<layer>.running_var` (ones)
//     towards them (Keras' running = momentum running + (1 - momentum)
//     batch); every other kernel normalises with the running statistics.
//
//===----------------------------------------------------------------------===//
#include "IR/BuildGraph.h"

namespace sora::ir {

Node *buildNorm(Graph &g, const dsl::Node &n, Node *x, bool training) {
  Type features{false, false, {x->type.dims.back()}};
  Node *gamma =
      g.param(n.name + ".weight", features, ParamRole::Weight, InitKind::Ones);
  Node *beta =
      g.param(n.name + ".bias", features, ParamRole::Weight, InitKind::Zeros);
  Node *xh;
  AttrList eps{attr::epsilon(n.epsilon)};
  if (n.kind == dsl::Node::LayerNorm) {
    xh = g.create(OpKind::LayerNormalize, {x}, eps);
  } else {
    Node *mean = g.param(n.name + ".running_mean", features,
                         ParamRole::Statistic, InitKind::Zeros);
    Node *var = g.param(n.name + ".running_var", features, ParamRole::Statistic,
                        InitKind::Ones);
    if (training) {
      Node *batchMean = g.create(OpKind::FeatureMean, {x});
      Node *batchVar = g.create(OpKind::FeatureVar, {x, batchMean});
      AttrList momentum{attr::momentum(n.momentum)};
      g.create(OpKind::RunningUpdate, {mean, batchMean}, momentum);
      g.create(OpKind::RunningUpdate, {var, batchVar}, momentum);
      mean = batchMean;
      var = batchVar;
    }
    xh = g.create(OpKind::Normalize,
                  {x, mean, g.create(OpKind::InvStd, {var}, eps)});
  }
  return g.create(OpKind::BiasAdd,
                  {g.create(OpKind::ChannelMul, {xh, gamma}), beta});
}

} // namespace sora::ir
