//===- ModelWriterTest.cpp - Checked models written back as .sora ---------===//
//
// For every program of the examples, of docs/language.md and of the lit tests
// that checks: written, the text checks back to an equal Model (compared
// field by field), and writing that model again gives the same text.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/ModelWriter.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace sora;
using namespace sora::dsl;

namespace {

std::optional<Program> check(const std::string &text, std::string &diags) {
  SourceFile f("t.sora", text);
  std::ostringstream out;
  std::optional<Program> program;
  {
    DiagnosticEngine d(f, out);
    if (auto ast = parseFile(f, d))
      program = checkProgram(*ast, d);
  }
  diags = out.str();
  return program;
}

/// Appends "what: a != b" to `out` when the two differ.
template <typename T>
void field(std::string &out, const std::string &what, const T &a, const T &b) {
  if (!(a == b))
    out += fmt::format("{}: {} != {}\n", what, fmt::to_string(a),
                       fmt::to_string(b));
}
template <typename T>
void field(std::string &out, const std::string &what, const std::vector<T> &a,
           const std::vector<T> &b) {
  if (a != b)
    out += fmt::format("{}: [{}] != [{}]\n", what, fmt::join(a, ", "),
                       fmt::join(b, ", "));
}

void compareActivation(std::string &out, const std::string &at,
                       const Activation &a, const Activation &b) {
  field(out, at + ".activation", a.name, b.name);
  field(out, at + ".activation numbers", a.numbers.size(), b.numbers.size());
  for (size_t i = 0; i < std::min(a.numbers.size(), b.numbers.size()); ++i) {
    field(out, at + ".activation number", a.numbers[i].first,
          b.numbers[i].first);
    field(out, at + ".activation " + a.numbers[i].first, a.numbers[i].second,
          b.numbers[i].second);
  }
}

void compareSource(std::string &out, const std::string &at, const DataSource &a,
                   const DataSource &b) {
  field(out, at + ".kind", int(a.kind), int(b.kind));
  field(out, at + ".images", a.images, b.images);
  field(out, at + ".labels", a.labels, b.labels);
  field(out, at + ".path", a.path, b.path);
  field(out, at + ".labelColumn", a.labelColumn, b.labelColumn);
  field(out, at + ".labelColumns", a.labelColumns, b.labelColumns);
  field(out, at + ".scaling", int(a.scaling), int(b.scaling));
  field(out, at + ".scale", a.scale, b.scale);
  field(out, at + ".onehot", a.onehot, b.onehot);
  field(out, at + ".targetInput", a.targetInput, b.targetInput);
}

void compareSchedule(std::string &out, const Schedule &a, const Schedule &b) {
  field(out, "lr.kind", int(a.kind), int(b.kind));
  field(out, "lr.initial", a.initial, b.initial);
  field(out, "lr.rate", a.rate, b.rate);
  field(out, "lr.steps", a.steps, b.steps);
  field(out, "lr.factor", a.factor, b.factor);
  field(out, "lr.every", a.every, b.every);
  field(out, "lr.final", a.final, b.final);
  field(out, "lr.alpha", a.alpha, b.alpha);
  field(out, "lr.boundaries", a.boundaries, b.boundaries);
  field(out, "lr.values", a.values, b.values);
  field(out, "lr.warmup", a.warmup, b.warmup);
}

void compareTrain(std::string &out, const TrainConfig &a,
                  const TrainConfig &b) {
  field(out, "loss", int(a.loss), int(b.loss));
  const Optimizer &p = a.optimizer, &q = b.optimizer;
  field(out, "optimizer", int(p.kind), int(q.kind));
  compareSchedule(out, p.lr, q.lr);
  field(out, "beta1", p.beta1, q.beta1);
  field(out, "beta2", p.beta2, q.beta2);
  field(out, "epsilon", p.epsilon, q.epsilon);
  field(out, "momentum", p.momentum, q.momentum);
  field(out, "nesterov", p.nesterov, q.nesterov);
  field(out, "rho", p.rho, q.rho);
  field(out, "weightDecay", p.weightDecay, q.weightDecay);
  field(out, "decayBiases", p.decayBiases, q.decayBiases);
  field(out, "clipNorm", p.clipNorm, q.clipNorm);
  field(out, "clipValue", p.clipValue, q.clipValue);
  field(out, "batchSize", a.batchSize, b.batchSize);
  field(out, "epochs", a.epochs, b.epochs);
  field(out, "seed", a.seed, b.seed);
  field(out, "validationSplit", a.validationSplit, b.validationSplit);
  field(out, "shuffle", a.shuffle, b.shuffle);
  field(out, "metricLoss", a.metricLoss, b.metricLoss);
  field(out, "metricAccuracy", a.metricAccuracy, b.metricAccuracy);
  field(out, "metricMae", a.metricMae, b.metricMae);
  field(out, "metricRmse", a.metricRmse, b.metricRmse);
  field(out, "metricPrecision", a.metricPrecision, b.metricPrecision);
  field(out, "metricRecall", a.metricRecall, b.metricRecall);
  field(out, "metricAuc", a.metricAuc, b.metricAuc);
  field(out, "topK", a.topK, b.topK);
  field(out, "huberDelta", a.huberDelta, b.huberDelta);
  field(out, "labelSmoothing", a.labelSmoothing, b.labelSmoothing);
  field(out, "classWeights", a.classWeights, b.classWeights);
  field(out, "targetInput", a.targetInput, b.targetInput);
  compareSource(out, "data", a.data, b.data);
  compareSource(out, "test", a.test, b.test);
  compareSource(out, "validation", a.validation, b.validation);
}

/// Every field of the two models but the source ranges, one line per
/// difference; "" when they are equal.
std::string differences(const Model &a, const Model &b) {
  std::string out;
  field(out, "name", a.name, b.name);
  field(out, "inputs", a.inputs, b.inputs);
  field(out, "output", a.output, b.output);
  field(out, "nodes", a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < std::min(a.nodes.size(), b.nodes.size()); ++i) {
    const Node &n = a.nodes[i], &m = b.nodes[i];
    std::string at = fmt::format("node {}", i);
    field(out, at + ".kind", int(n.kind), int(m.kind));
    field(out, at + ".inputs", n.inputs, m.inputs);
    field(out, at + ".shape", n.shape, m.shape);
    field(out, at + ".name", n.name, m.name);
    field(out, at + ".integer", n.integer, m.integer);
    field(out, at + ".units", n.units, m.units);
    field(out, at + ".useBias", n.useBias, m.useBias);
    field(out, at + ".trainable", n.trainable, m.trainable);
    compareActivation(out, at, n.activation, m.activation);
    field(out, at + ".init", int(n.init.kind), int(m.init.kind));
    field(out, at + ".init.scale", n.init.scale, m.init.scale);
    field(out, at + ".vocab", n.vocab, m.vocab);
    field(out, at + ".cell", int(n.cell), int(m.cell));
    field(out, at + ".sequences", n.sequences, m.sequences);
    field(out, at + ".reverse", n.reverse, m.reverse);
    field(out, at + ".mask", n.mask, m.mask);
    field(out, at + ".kernel", n.kernel, m.kernel);
    field(out, at + ".stride", n.stride, m.stride);
    field(out, at + ".samePadding", n.samePadding, m.samePadding);
    field(out, at + ".pads", n.pads, m.pads);
    field(out, at + ".perm", n.perm, m.perm);
    field(out, at + ".slice", n.slice, m.slice);
    field(out, at + ".pool", int(n.pool), int(m.pool));
    field(out, at + ".rate", n.rate, m.rate);
    field(out, at + ".op", int(n.op), int(m.op));
    field(out, at + ".scale", n.scale, m.scale);
    field(out, at + ".shift", n.shift, m.shift);
    field(out, at + ".epsilon", n.epsilon, m.epsilon);
    field(out, at + ".momentum", n.momentum, m.momentum);
  }
  field(out, "has train", a.train.has_value(), b.train.has_value());
  if (a.train && b.train)
    compareTrain(out, *a.train, *b.train);
  return out;
}

/// Writes every model of `text`, checks the whole written program and
/// compares; then writes the re-read models and compares the texts.
void roundTrip(const std::string &what, const std::string &text) {
  SCOPED_TRACE(what);
  std::string diags;
  std::optional<Program> first = check(text, diags);
  ASSERT_TRUE(first) << diags;
  std::string written;
  for (const Model &m : first->models) {
    std::string error;
    std::string one = writeModel(m, error);
    ASSERT_FALSE(one.empty()) << error;
    written += one;
  }
  std::optional<Program> second = check(written, diags);
  ASSERT_TRUE(second) << written << "\n" << diags;
  ASSERT_EQ(first->models.size(), second->models.size());
  std::string again;
  for (size_t i = 0; i < first->models.size(); ++i) {
    EXPECT_EQ(differences(first->models[i], second->models[i]), "")
        << "written:\n"
        << written;
    std::string error;
    again += writeModel(second->models[i], error);
  }
  EXPECT_EQ(written, again);
}

std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST(ModelWriter, EveryExample) {
  int count = 0;
  for (const auto &dir :
       std::filesystem::directory_iterator(SORAC_SOURCE_DIR "/examples"))
    if (dir.is_directory())
      for (const auto &file : std::filesystem::directory_iterator(dir))
        if (file.path().extension() == ".sora") {
          roundTrip(file.path().string(), readFile(file.path()));
          ++count;
        }
  EXPECT_GE(count, 10);
}

TEST(ModelWriter, EveryProgramOfLanguageMd) {
  std::string text = readFile(SORAC_SOURCE_DIR "/docs/language.md");
  std::regex fence("```sora\n([\\s\\S]*?)```");
  int count = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), fence), end; it != end;
       ++it, ++count)
    roundTrip(fmt::format("language.md program {}", count + 1), (*it)[1]);
  EXPECT_GE(count, 3);
}

// The lit programs that check (the others show diagnostics).
TEST(ModelWriter, EveryLitProgramThatChecks) {
  int count = 0;
  for (const auto &file : std::filesystem::recursive_directory_iterator(
           SORAC_SOURCE_DIR "/tests/lit")) {
    if (file.path().extension() != ".sora")
      continue;
    std::string text = readFile(file.path()), diags;
    if (!check(text, diags))
      continue;
    roundTrip(file.path().string(), text);
    ++count;
  }
  EXPECT_GE(count, 40);
}

// Every kind of node, argument and train key away from its default.
TEST(ModelWriter, EveryArgument) {
  roundTrip("every argument", R"(
model everything {
    input image : f32[12, 12, 3]
    input seq : f32[10, 4]
    input ids : i32[6]
    c = image -> conv2d(8, kernel: 3, stride: 2, padding: same,
                        activation: leaky_relu(alpha: 0.2), init: zeros)
    p = c -> maxpool2d(2, stride: 1) -> avgpool2d(2) -> global_maxpool
    q = c -> reshape([36, 8]) -> conv1d(4, kernel: 2, activation: elu(alpha: 2))
        -> maxpool1d(3, stride: 2) -> avgpool1d(2) -> global_avgpool
    d = p -> dense(5, use_bias: false, init: normal(stddev: 0.05),
                   activation: sigmoid, name: "custom", trainable: false)
    e = ids -> embedding(50, 4, init: uniform(limit: 0.1), mask_zero: true)
    r1 = e -> lstm(3, sequences: true, reverse: true, init: uniform)
    r2 = r1 -> gru(3, init: glorot_uniform)
    r3 = seq -> simple_rnn(2, activation: relu, sequences: true)
           -> layer_norm(epsilon: 0.001) -> batch_norm(momentum: 0.9,
           epsilon: 0.0001, trainable: false) -> flatten -> dropout(0.3) -> swish
    t3 = c -> transpose(perm: [2, 0, 1]) -> flatten
    s = concat(d, q, r2, r3, t3) -> dense(4) -> selu
    t = s * 2
    u = s + 0.1
    v = 3 - s
    w = -s
    x = 1 / s
    y = s / 3
    z = (t + u) * (v - w) / x + y - s * s
    a = t -> dot(u)
    b = s - 1
    output out = concat(z, a, b) -> dense(3, activation: softmax)
}

model small {
    input x : f32[3]
    output y = x -> dense(3)
}

train small {
    data = csv(path: "train.csv", label_columns: [3, 4, 5], scale: 0.5)
    loss = mse
    optimizer = sgd(lr: exponential_decay(initial: 0.1, rate: 0.5,
                                          steps: 100), momentum: 0.9,
                    nesterov: true)
    batch_size = 7
    epochs = 3
    seed = 9
    validation_split = 0.25
    shuffle = false
    metrics = [mae, rmse, loss]
}
)");
}

TEST(ModelWriter, TrainBlocks) {
  roundTrip("autoencoder", R"(
model ae {
    input x : f32[4]
    output y = x -> dense(2) -> dense(4, activation: sigmoid)
}
train ae {
    data = idx(images: "a \"b\" \\c", scale: 1/255)
    test = idx(images: "t")
    target = x
    loss = binary_crossentropy
    optimizer = rmsprop(lr: step_decay(initial: 0.01, factor: 0.5, every: 7),
                        rho: 0.8, epsilon: 0.001)
}
model cls {
    input x : f32[4]
    output y = x -> dense(3, activation: softmax)
}
train cls {
    data = csv(path: "d.csv", label_column: 4, onehot: 3)
    loss = categorical_crossentropy
    optimizer = adam(lr: linear_decay(initial: 0.01, final: 0.001,
                                      steps: 50), beta1: 0.8, beta2: 0.99,
                     epsilon: 1e-8)
    metrics = [accuracy]
}
model scaled {
    input x : f32[3]
    output y = x -> dense(1)
}
train scaled {
    data = csv(path: "d.csv", label_column: 3, standardize: true)
    validation = csv(path: "v.csv", label_column: 3, scale: 2)
    loss = mse
}
model normalized {
    input x : f32[3]
    output y = x -> dense(1)
}
train normalized {
    data = csv(path: "d.csv", label_column: 3, normalize: true)
    loss = mse
}
model losses {
    input x : f32[4]
    output y = x -> dense(3, activation: softmax)
}
train losses {
    loss = sparse_categorical_crossentropy(label_smoothing: 0.15,
                                           class_weights: [1, 0.25, 3])
    metrics = [top_k_accuracy(k: 2), accuracy]
}
model binary {
    input x : f32[4]
    output y = x -> dense(1, activation: sigmoid)
}
train binary {
    loss = binary_crossentropy(class_weights: [0.5, 2])
    metrics = [auc, precision, recall]
}
model robust {
    input x : f32[4]
    output y = x -> dense(2)
}
train robust { loss = huber(delta: 0.25) }
model l1 {
    input x : f32[4]
    output y = x -> dense(2)
}
train l1 { loss = mae }
)");
}

TEST(ModelWriter, OptimizerControlsAndSchedules) {
  roundTrip("controls", R"(
model a {
    input x : f32[4]
    output y = x -> dense(3, activation: softmax)
}
train a {
    loss = categorical_crossentropy
    optimizer = adamw(lr: warmup(steps: 10, then: cosine_decay(initial: 0.01,
                      steps: 100, alpha: 0.1)), weight_decay: 0.05,
                      decay_biases: false, clip_norm: 2)
}
model b {
    input x : f32[4]
    output y = x -> dense(1)
}
train b {
    loss = mse
    optimizer = sgd(lr: piecewise(boundaries: [5, 50], values: [0.1, 0.01,
                    0.001]), momentum: 0.9, weight_decay: 1e-4,
                    clip_value: 0.5)
}
model c {
    input x : f32[4]
    output y = x -> dense(1)
}
train c {
    loss = mse
    optimizer = rmsprop(lr: warmup(steps: 3, then: 0.002), weight_decay: 0.1)
}
model d {
    input x : f32[4]
    output y = x -> dense(1)
}
train d {
    loss = mse
    optimizer = adam(lr: warmup(steps: 2, then: piecewise(boundaries: [7],
                     values: [0.01, 0.002])), clip_norm: 0.5)
}
)");
}

TEST(ModelWriter, NamesAndNumbers) {
  // One binding for a chain whose layers the checker names as they are
  // (h_1, h_2); a number written so that it reads back as the same double;
  // the output an input.
  std::string diags;
  auto program = check(R"(
model m {
    input x : f32[4]
    h = x -> dense(3) -> relu -> dense(4) -> dropout(0.1)
    output y = h * 0.1 + 0.3
}
model id {
    input x : f32[4]
    output y = x
}
)",
                       diags);
  ASSERT_TRUE(program) << diags;
  std::string error;
  std::string text = writeModel(program->models[0], error);
  EXPECT_EQ(text, R"(model m {
    input x : f32[4]
    h = x -> dense(3) -> relu -> dense(4) -> dropout(0.1)
    scaled = h * 0.1
    output y = scaled + 0.3
}
)") << error;
  roundTrip("names", text);
  text = writeModel(program->models[1], error);
  EXPECT_EQ(text, "model id {\n    input x : f32[4]\n    output x_1 = x\n}\n");
}

TEST(ModelWriter, CanBind) {
  EXPECT_TRUE(canBind("x_1"));
  EXPECT_TRUE(canBind("_h"));
  EXPECT_FALSE(canBind("input")); // a keyword
  EXPECT_FALSE(canBind("relu"));  // a built-in
  EXPECT_FALSE(canBind("input.1"));
  EXPECT_FALSE(canBind("1x"));
  EXPECT_FALSE(canBind(""));
}

TEST(ModelWriter, WhatHasNoSpelling) {
  Model m;
  m.name = "m";
  Node in;
  in.name = "input.1";
  in.shape = {4};
  m.nodes.push_back(in);
  m.inputs = {0};
  Node dense;
  dense.kind = Node::Dense;
  dense.inputs = {0};
  dense.units = 2;
  dense.shape = {2};
  dense.name = "fc";
  m.nodes.push_back(dense);
  m.output = 1;
  std::string error;
  EXPECT_EQ(writeModel(m, error), "");
  EXPECT_NE(error.find("input.1"), std::string::npos) << error;

  m.nodes[0].name = "x";
  m.nodes[1].activation.name = "mish";
  error.clear();
  EXPECT_EQ(writeModel(m, error), "");
  EXPECT_NE(error.find("mish"), std::string::npos) << error;

  // A layer name that is no identifier is written with name:.
  m.nodes[1].activation.name = "relu";
  m.nodes[1].name = "/fc/Gemm";
  error.clear();
  std::string text = writeModel(m, error);
  EXPECT_NE(text.find("name: \"/fc/Gemm\""), std::string::npos) << text;
  roundTrip("a layer named with name:", text);
}

// An imported convolution's explicit padding is written as the language's
// `padding:` when it is valid or same; otherwise the model has no .sora
// form, nor has one with a constant tensor.
TEST(ModelWriter, ExplicitPadding) {
  std::string diags;
  auto program = check(R"(
model m {
    input image : f32[8, 8, 1]
    c = image -> conv2d(4, kernel: 3, stride: 2)
    output y = c -> flatten -> dense(2)
}
)",
                       diags);
  ASSERT_TRUE(program) << diags;
  Model m = program->models[0];
  Node &conv = m.nodes[1];
  std::string error;
  conv.pads = {0, 0, 0, 0}; // valid: 3x3 out of 8x8 with stride 2
  EXPECT_EQ(writeModel(m, error).find("padding"), std::string::npos) << error;
  // same: 4x4, one row and column after (TensorFlow's way)
  conv.shape = {4, 4, 4};
  m.nodes[2].shape = {64};
  conv.pads = {0, 0, 1, 1};
  std::string text = writeModel(m, error);
  EXPECT_NE(text.find("conv2d(4, kernel: 3, stride: 2, padding: same)"),
            std::string::npos)
      << text << error;
  auto again = check(text, diags);
  ASSERT_TRUE(again) << text << diags;
  EXPECT_EQ(again->models[0].nodes[1].shape, conv.shape);
  // PyTorch's padding=1 pads before: neither
  conv.pads = {1, 1, 1, 1};
  error.clear();
  EXPECT_EQ(writeModel(m, error), "");
  EXPECT_NE(error.find("pads [1, 1, 1, 1]"), std::string::npos) << error;

  Model k = program->models[0];
  Node constant;
  constant.kind = Node::Constant;
  constant.name = "bias_c";
  constant.shape = {2};
  k.nodes.push_back(constant);
  Node add;
  add.kind = Node::Binary;
  add.inputs = {3, 4};
  add.shape = {2};
  k.nodes.push_back(add);
  k.output = 5;
  error.clear();
  EXPECT_EQ(writeModel(k, error), "");
  EXPECT_NE(error.find("'bias_c' is a constant tensor"), std::string::npos)
      << error;
}
