//===- Autodiff.h - Reverse-mode differentiation of a graph ----*- C++ -*-===//
#pragma once

#include "IR/Graph.h"
#include "sora/dsl/Program.h"

#include <map>
#include <memory>

namespace sora::ir {

/// Appends to `g` the gradient of the scalar `objective` with respect to
/// each of `wrt`, by reverse-mode accumulation over the nodes that lie
/// between them. Returns the gradient node of each of `wrt` that reaches
/// the objective (the others have a zero gradient).
std::map<Node *, Node *> differentiate(Graph &g, Node *objective,
                                       const std::vector<Node *> &wrt);

/// The train-step graph: forward, the fused loss, the accuracy count, the
/// gradients and the optimizer update of every weight. Outputs: loss (batch
/// mean, before the update), correct, and mae and mse where the metrics ask
/// for them (addLossOutputs). With `gradientOutputs`, also each
/// weight's gradient as "grad.<weight>" (the graph of data-parallel
/// training's grad_step and apply_update kernels).
std::unique_ptr<Graph> buildTrainGraph(const dsl::Model &model,
                                       const dsl::TrainConfig &train,
                                       bool gradientOutputs = false);

} // namespace sora::ir
