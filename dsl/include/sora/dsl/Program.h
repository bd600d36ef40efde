//===- Program.h - A checked .sora program ---------------------*- C++ -*-===//
//
// What the semantic checker (Sema.cpp) hands to the compiler: every name
// resolved, every constant folded, every argument validated and every shape
// known. A model is a small DAG of layer-level nodes in definition order; the
// compiler's graph builder expands each into graph-IR ops.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Source.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sora::dsl {

enum class ActivationKind { Linear, Relu, Sigmoid, Tanh, LeakyRelu, Softmax };

struct Activation {
  ActivationKind kind = ActivationKind::Linear;
  double alpha = 0.01; ///< leaky_relu's negative slope
};

const char *activationName(ActivationKind kind);

enum class BinaryOp { Add, Sub, Mul, Div };

/// One layer-level operation of a model. Shapes are per sample: the batch
/// dimension is implicit.
struct Node {
  enum Kind { Input, Dense, Activate, Binary } kind = Input;
  std::vector<int> inputs; ///< indices of earlier nodes
  std::vector<int64_t> shape;
  SourceRange range;
  std::string name; ///< Input: the input's name; Dense: the layer name
  // Dense
  int64_t units = 0;
  bool useBias = true;
  // Dense (its fused activation) and Activate
  Activation activation;
  // Binary
  BinaryOp op = BinaryOp::Add;
};

enum class LossKind {
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy,
  BinaryCrossentropy,
  MeanSquaredError
};

enum class OptimizerKind { Adam, SGD, RMSprop };

struct Optimizer {
  OptimizerKind kind = OptimizerKind::Adam;
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7; // Adam (Keras defaults)
};

/// `idx(images:, labels:, scale:, onehot:)`.
struct DataSource {
  bool present = false;
  std::string images, labels;
  double scale = 1;
  int64_t onehot = 0; ///< 0: labels stay integers
  SourceRange range;
};

struct TrainConfig {
  SourceRange range;
  LossKind loss = LossKind::CategoricalCrossentropy;
  Optimizer optimizer;
  int64_t batchSize = 32;
  int64_t epochs = 1;
  int64_t seed = 0;
  double validationSplit = 0;
  bool shuffle = true;
  bool metricLoss = true;
  bool metricAccuracy = false;
  DataSource data, test;
};

struct Model {
  std::string name;
  SourceRange range;
  std::vector<Node> nodes;
  std::vector<int> inputs; ///< node indices, in declaration order
  int output = -1;         ///< node index
  std::optional<TrainConfig> train;
};

struct Program {
  std::string sourcePath;
  std::vector<Model> models;
};

} // namespace sora::dsl
