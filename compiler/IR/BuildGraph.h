//===- BuildGraph.h - From a checked model to graph IR ----------*- C++ -*-===//
//
// Expands each layer-level node of a checked model into graph-IR ops: a
// dense layer becomes its weight and bias params, matmul_nt, bias_add and
// its activation. The three kernels of a model (predict, evaluate, train
// step) are graphs built from the same forward expansion.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "IR/Graph.h"
#include "sora/dsl/Program.h"

#include <memory>

namespace sora::ir {

struct Forward {
  Node *output = nullptr;
  /// The value the output's final activation is applied to (the loss is
  /// fused with a softmax or a sigmoid), and that activation.
  Node *preActivation = nullptr;
  std::string outputActivation = "linear";
};

/// The loss and metrics of a train block, appended after the forward pass.
struct LossNodes {
  Node *labels = nullptr;
  Node *loss = nullptr;    ///< f32[], the batch mean
  Node *correct = nullptr; ///< f32[], right samples in the batch (or 0)
  /// f32[], batch means over every output element of |output - label| and
  /// (output - label)^2; null unless the metrics ask for mae or rmse.
  Node *mae = nullptr, *mse = nullptr;
  /// top_k_accuracy's rows right (f32[]), precision's and recall's
  /// binary_confusion (f32[3]) and auc's threshold_histogram (f32[2, 200]);
  /// null unless the metrics ask for them.
  Node *topK = nullptr, *confusion = nullptr, *aucHistogram = nullptr;
};
/// The loss and metrics; class weights apply only when `training` (the
/// train and grad kernels), as Keras' class_weight.
LossNodes buildLoss(Graph &g, const Forward &fwd, const dsl::TrainConfig &train,
                    bool training);
/// The results that a train, grad or evaluate kernel returns: "loss",
/// "correct", then "mae", "mse", "top_k", "confusion" and "auc_histogram"
/// where there are such nodes.
void addLossOutputs(Graph &g, const LossNodes &l);

/// Appends the model's forward computation to `g`. Dropout is applied only
/// when `training` (with `seed` for its masks); otherwise it is the
/// identity. Batch norm uses the batch's statistics (and updates its
/// running ones) only when `training`.
Forward buildForward(Graph &g, const dsl::Model &model, bool training = false,
                     int64_t seed = 0);

/// Where each input lies in a packed sample row, in declaration order: the
/// one layout the graph's unpack ops, the descriptor and the sizes use.
struct InputSlots {
  int64_t offset, size;
};
std::vector<InputSlots> packedInputs(const dsl::Model &model);

/// A trainable parameter initialised as `init` says (Glorot uses the fans).
Node *weightParam(Graph &g, const std::string &name, std::vector<int64_t> dims,
                  const dsl::Init &init, int64_t fanIn, int64_t fanOut);

/// An LSTM, GRU or RNN layer over x [?, T, F], unrolled over its steps
/// (BuildRecurrent.cpp); its parameters are PyTorch's.
/// `maskIds`: the ids whose zeros mark steps to skip (mask_zero), or null.
Node *buildRecurrent(Graph &g, const dsl::Node &n, Node *x, Node *maskIds);

/// A layer_norm or batch_norm layer over x's last dimension
/// (BuildNorm.cpp); batch statistics and their running update when
/// `training`, the running statistics otherwise.
Node *buildNorm(Graph &g, const dsl::Node &n, Node *x, bool training);

/// A reshape of `x` to per-sample `dims`.
Node *reshapeTo(Graph &g, Node *x, const std::vector<int64_t> &dims);

/// predict: input -> output.
std::unique_ptr<Graph> buildPredictGraph(const dsl::Model &model);
/// evaluate: input, labels -> loss (batch mean), correct (count), and mae
/// and mse where the metrics ask for them (addLossOutputs).
/// The runtime's accuracy kind for a train block (enum sora_metric_kind).
int accuracyKind(const dsl::Model &model, const dsl::TrainConfig &train);
std::unique_ptr<Graph> buildEvalGraph(const dsl::Model &model);

} // namespace sora::ir
