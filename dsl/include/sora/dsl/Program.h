//===- Program.h - A checked .sora program ---------------------*- C++ -*-===//
//
// What the semantic checker (Sema*.cpp) hands to the compiler: every name
// resolved, every constant folded, every argument validated and every shape
// known. A model is a small DAG of layer-level nodes in definition order; the
// compiler's graph builder expands each into graph-IR ops.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Source.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sora::dsl {

/// An activation, by its name in Builtins.cpp's table ("relu", "elu", ...):
/// the graph builder maps the name to the graph op of that mnemonic, and
/// each number argument to the op's attribute of that name, so a new
/// activation needs no code here.
struct Activation {
  std::string name = "linear";
  /// Every number parameter of its row, given or defaulted, in row order.
  std::vector<std::pair<std::string, double>> numbers;

  bool is(const char *n) const { return name == n; }
};

/// How a layer's weight starts: `init:` (Builtins.cpp's initialisers).
struct Init {
  enum Kind { GlorotUniform, Zeros, Normal, Uniform } kind = GlorotUniform;
  double scale = 0; ///< Normal: the stddev; Uniform: the limit
};

enum class BinaryOp { Add, Sub, Mul, Div };
enum class PoolKind { Max, Average };

/// One layer-level operation of a model. Shapes are per sample: the batch
/// dimension is implicit; images are [height, width, channels].
struct Node {
  enum Kind {
    Input,      ///< integer: ids (i32), which only an embedding reads
    Dense,      ///< units, useBias, activation, init
    Conv2D,     ///< units (filters), kernel, stride, samePadding, activation;
                ///< conv1d too: over [time, channels], shape [time', units]
    Pool2D,     ///< pool, kernel (size), stride; 1-D over [time, channels]
                ///< (shape rank 2); global (shape [channels]) no kernel
    Reshape,    ///< to `shape` (flatten is a reshape to rank 1)
    Dropout,    ///< rate
    Activate,   ///< activation
    Binary,     ///< op, between two tensors of one shape
    Affine,     ///< scale * x + shift, a tensor with constants
    Reciprocal, ///< scale / x
    Embedding,  ///< units (dim), vocab, init: rows of a table, by id
    Dot,        ///< sum of the products of two tensors' last dimensions
    Concat,     ///< tensors joined along their last dimension
    Recurrent,  ///< cell, units, sequences, reverse, init (activation: RNN)
    LayerNorm,  ///< epsilon: each line of the last dimension normalised
    BatchNorm,  ///< momentum, epsilon: each feature over the batch
    Transpose,  ///< perm: result axis i is the input's axis perm[i]
    // Only imported models (ONNX) have these; the language has no form:
    Constant, ///< a fixed tensor of `shape`, stored with the weights as
              ///< "<name>.value" (not trained); a Binary's second input
              ///< when it repeats over x's leading dimensions (x op c)
    Slice     ///< elements [offset, offset + width) of the last dimension
  } kind = Input;
  std::vector<int> inputs; ///< indices of earlier nodes
  std::vector<int64_t> shape;
  SourceRange range;
  std::string name;     ///< Input: the input's name; layers: the layer name
  bool integer = false; ///< Input: i32 ids
  // Dense and Conv2D
  int64_t units = 0;      ///< units or filters
  SourceRange unitsRange; ///< Dense: where the units are written (for hints)
  bool useBias = true;
  /// Layers with weights: false freezes them (no gradient, no optimizer
  /// state; `trainable: false`).
  bool trainable = true;
  Activation activation;
  Init init;         ///< Dense, Conv2D and Embedding
  int64_t vocab = 0; ///< Embedding: the table's rows; ids are in [0, vocab)
  /// Recurrent: PyTorch's nn.LSTM, nn.GRU or nn.RNN over [time, features];
  /// every step's state ([time, units]) or the last ([units]); right to
  /// left when `reverse`.
  enum class Cell { LSTM, GRU, RNN } cell = Cell::LSTM;
  bool sequences = false, reverse = false;
  /// Keras' masking: the node of ids whose zeros mark padding steps, or -1.
  /// An embedding with mask_zero: true sets it to its ids; dropout,
  /// activations and recurrent layers with sequences pass it on; a
  /// recurrent layer reads its input's and skips the masked steps (its
  /// state carried over).
  int mask = -1;
  // Conv2D and Pool2D
  int64_t kernel = 0, stride = 1;
  bool samePadding = false;
  /// Conv2D, imported: explicit padding {top, left, bottom, right} (the
  /// result's shape says the rest); empty: samePadding decides.
  std::vector<int64_t> pads;
  /// Transpose: the axes' order; Slice: {offset, width}.
  std::vector<int64_t> perm, slice;
  PoolKind pool = PoolKind::Max;
  // Dropout
  double rate = 0;
  // Binary
  BinaryOp op = BinaryOp::Add;
  // Affine and Reciprocal
  double scale = 1, shift = 0;
  // LayerNorm and BatchNorm (momentum: BatchNorm's running statistics)
  double epsilon = 0, momentum = 0;

  bool hasWeights() const {
    return kind == Dense || kind == Conv2D || kind == Embedding ||
           kind == Recurrent || kind == LayerNorm || kind == BatchNorm;
  }
};

enum class LossKind {
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy,
  BinaryCrossentropy,
  MeanSquaredError,
  MeanAbsoluteError,
  Huber
};
const char *lossName(LossKind kind);
/// mse, mae and huber: a mean over every output element of a function of
/// (output - label), the output taken as it is (a regression's losses).
inline bool elementwiseLoss(LossKind kind) {
  return kind == LossKind::MeanSquaredError ||
         kind == LossKind::MeanAbsoluteError || kind == LossKind::Huber;
}

/// A learning-rate schedule over optimizer steps t = 0, 1, ...
struct Schedule {
  enum Kind {
    Constant,
    Exponential,
    Step,
    Linear,
    Cosine,
    Piecewise,
    Plateau
  } kind = Constant;
  double initial = 1e-3;
  double rate = 1, steps = 1;   ///< exponential: initial * rate^(t / steps)
  double factor = 1, every = 1; ///< step: initial * factor^floor(t / every)
  double final = 0; ///< linear: initial + (final - initial) * min(t/steps, 1)
  /// cosine (Keras' CosineDecay): initial * ((1 - alpha) * 0.5 *
  /// (1 + cos(pi * min(t, steps) / steps)) + alpha)
  double alpha = 0;
  /// piecewise (Keras' PiecewiseConstantDecay): values[i] for
  /// boundaries[i-1] < t <= boundaries[i]; values has one more element.
  std::vector<int64_t> boundaries;
  std::vector<double> values;
  /// warmup(steps:, then: <this schedule>): for t < warmup the rate is
  /// this schedule's rate at 0 times (t + 1) / warmup; then this schedule
  /// at t - warmup. 0: no warmup.
  int64_t warmup = 0;
  /// plateau: initial * factor^r, at least final (min_lr), r the reductions
  /// Keras' ReduceLROnPlateau rule makes after epochs where `monitor` has
  /// not improved by minDelta for `patience` epochs (then `cooldown`
  /// epochs without counting).
  std::string monitor;
  int64_t patience = 10, cooldown = 0;
  double minDelta = 1e-4;
  SourceRange monitorAt;
};

enum class OptimizerKind { Adam, SGD, RMSprop, AdamW };

struct Optimizer {
  OptimizerKind kind = OptimizerKind::Adam;
  Schedule lr;                                       ///< a number is Constant
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7; // Adam (Keras defaults)
  double momentum = 0;                               // SGD
  bool nesterov = false;                             // SGD
  double rho = 0.9;                                  // RMSprop (and epsilon)
  /// L2 added to the gradient (torch.optim's weight_decay); AdamW's is
  /// decoupled: w -= lr * weight_decay * w before the Adam step.
  double weightDecay = 0;
  bool decayBiases = true; ///< false: biases and norm parameters keep 0
  /// Gradient clipping before the step (0: none): each element to
  /// [-clipValue, clipValue], or every gradient scaled by
  /// min(1, clipNorm / (global L2 norm + 1e-6)).
  double clipValue = 0, clipNorm = 0;
};

/// `idx(images:, labels:, scale:, onehot:)` or
/// `csv(path:, label_column: | label_columns:, scale:, onehot:,
/// standardize: | normalize:)`.
struct DataSource {
  enum Kind { None, Idx, Csv } kind = None;
  /// csv, on `data` only: each f32 feature column scaled by statistics of
  /// the training part, applied by the model itself (IR/BuildGraph.cpp).
  enum Scaling { NoScaling, Standardize, Normalize } scaling = NoScaling;
  SourceRange scalingAt{0, 0}; ///< the standardize: or normalize: given
  bool present() const { return kind != None; }
  std::string images, labels; ///< idx (labels empty with targetInput)
  std::string path;           ///< csv
  int64_t labelColumn = 0;    ///< csv: labelColumns[0], or 0 when none
  /// csv: the label columns, in order (one for `label_column:`, none with
  /// targetInput).
  std::vector<int64_t> labelColumns;
  double scale = 1;
  int64_t onehot = 0; ///< 0: labels stay integers (or numbers)
  /// `target = <input>`: the sample's own features are its label (the
  /// train block's key, copied into each source).
  bool targetInput = false;
  SourceRange range;
  SourceRange labelsAt{0, 0}; ///< the first label argument given, if any
  /// Floats per label: the one-hot width, the label columns, or 1.
  int64_t labelWidth() const {
    return onehot ? onehot : std::max<int64_t>(1, int64_t(labelColumns.size()));
  }
};

/// `early_stopping(monitor:, patience:, min_delta:, restore_best:)`: Keras'
/// EarlyStopping rule, checked after each epoch.
struct EarlyStopping {
  bool enabled = false;
  std::string monitor = "val_loss"; ///< a reported metric: val_loss, accuracy
  int64_t patience = 1;     ///< epochs without improvement before stopping
  double minDelta = 0;      ///< a smaller change is no improvement
  bool restoreBest = false; ///< end with the best epoch's weights
  SourceRange range;
};

/// A train block, with docs/language.md's defaults for every key not given.
struct TrainConfig {
  SourceRange range;
  LossKind loss = LossKind::CategoricalCrossentropy;
  Optimizer optimizer;
  int64_t batchSize = 32;
  int64_t epochs = 1;
  int64_t seed = 0;
  double validationSplit = 0;
  bool shuffle = true;
  /// `precision = bf16`: mixed precision, as PyTorch's autocast on CPU:
  /// the multiplicands of every matmul and convolution (forward and
  /// backward) rounded to bfloat16, their sums, the weights and the
  /// optimizer state in f32.
  bool bf16 = false;
  bool metricLoss = true;
  bool metricAccuracy = false;
  bool metricMae = false;  ///< mean absolute error, as Keras' "mae"
  bool metricRmse = false; ///< root mean squared error, as Keras' "rmse"
  /// Keras' Precision, Recall and AUC (ROC) of a sigmoid output.
  bool metricPrecision = false, metricRecall = false, metricAuc = false;
  int64_t topK = 0; ///< top_k_accuracy(k:); 0: not asked for
  /// The loss's arguments: huber(delta:), and the cross-entropies'
  /// label_smoothing: and class_weights: (empty: every class weighs 1).
  double huberDelta = 1;
  double labelSmoothing = 0;
  std::vector<double> classWeights;
  SourceRange classWeightsAt{0, 0};
  bool targetInput = false; ///< `target = <input>`: an autoencoder
  DataSource data, test;
  EarlyStopping earlyStopping;
  /// `validation = idx(...) | csv(...)`: evaluated after each epoch instead
  /// of a validation_split of `data`.
  DataSource validation;
};

struct Model {
  std::string name;
  SourceRange range;
  std::vector<Node> nodes;
  std::vector<int> inputs; ///< node indices, in declaration order
  int output = -1;         ///< node index
  std::optional<TrainConfig> train;
  /// Whether the model scales its f32 inputs (`standardize:` or
  /// `normalize:` on its data): `<input>.scale` and `<input>.shift`.
  bool scalesInputs() const {
    return train && train->data.scaling != DataSource::NoScaling;
  }
};

struct Program {
  std::string sourcePath;
  std::vector<Model> models;
};

} // namespace sora::dsl
