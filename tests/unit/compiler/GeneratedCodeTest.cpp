//===- GeneratedCodeTest.cpp - Generated kernels, run by the JIT ----------===//
//
// Compiles .sora sources in-process with the same pipeline as the driver,
// runs the generated kernels with LLVM's ORC JIT, and checks them against
// independent references:
//  - gradients: against central finite differences of the generated
//    evaluate kernel's loss. The train-step kernel's gradient is read back
//    from Adam's first moment after one step from zero state, where
//    m = (1 - beta1) g exactly as Adam defines it;
//  - the forward pass: against a plain C++ loop nest written here;
//  - the metrics mae and rmse: against the predictions.
//
//===----------------------------------------------------------------------===//
#include "JitModel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace sora;

namespace {

using jit::Batch;
using jit::compile;
using jit::JitModel;
using jit::randomBatch;

/// Mean loss of the batch, from the generated evaluate kernel.
double evalLoss(const JitModel &jm, std::vector<float> &params,
                std::vector<char> &scratch, Batch &b) {
  double stats[SORA_NUM_STATS];
  jm.desc->evaluate(params.data(), nullptr, scratch.data(), b.x.data(),
                    b.y.data(), b.n, 0, stats);
  return stats[0] / double(b.n);
}

// Elementwise ops between tensors and with constants (affine maps, a
// reciprocal, unary minus), every activation, a softmax in the middle, a
// value used twice (its gradients add up) and the fused softmax +
// cross-entropy loss. Tolerance: float rounding of the loss over 2h plus
// the O(h^2) truncation of central differences (h = 3e-3).
const char *kEveryOp = R"(
model every_op {
  input x : f32[6]
  a = dense(x, 5, activation: tanh)
  b = dense(a, 5, activation: sigmoid)
  c = dense(a, 5, activation: leaky_relu(alpha: 0.2))
  d = a * b + c - a / (b + b)
  f = -(d * 2 + 1) + 0.5 / (b + 1)
  e = f -> dense(4, activation: relu) -> softmax
  output p = dense(e, 3, activation: softmax)
}
train every_op { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

// The activations of PyTorch's that sorac has beyond Keras' classic five,
// each on pre-activations of both signs, elu with its default and with
// another alpha.
const char *kMoreActivations = R"(
model more_activations {
  input x : f32[6]
  a = dense(x, 4, activation: gelu)
  b = dense(x, 4, activation: elu(alpha: 0.5))
  c = dense(x, 4, activation: selu)
  d = dense(x, 4, activation: softplus)
  e = dense(x, 4, activation: swish)
  f = (a * b + c - d * e) * 3
  output p = f -> elu -> dense(3, activation: softmax)
}
train more_activations { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

// Ids through an embedding, several inputs (packed rows), concat and dot.
const char *kIdsAndInputs = R"(
model ids_and_inputs {
  input word : i32[3]
  input x : f32[4]
  f = word -> embedding(7, 2, init: uniform(limit: 0.5)) -> flatten
  h = concat(f, x) -> dense(5, activation: tanh)
  k = dense(x, 5, activation: sigmoid)
  output p = concat(h, dot(h, k), x) -> dense(3, activation: softmax)
}
train ids_and_inputs { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

// The recurrent layers: an LSTM's last state, a GRU right to left with
// every step's state, an RNN's sequence into an LSTM, over embeddings.
const char *kRecurrent = R"(
model recurrent {
  input word : i32[4]
  e = word -> embedding(6, 3)
  a = e -> lstm(4)
  b = e -> gru(3, sequences: true, reverse: true) -> flatten
  c = e -> simple_rnn(2, sequences: true) -> lstm(2, reverse: true)
  output p = concat(a, b, c) -> dense(3, activation: softmax)
}
train recurrent { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

// layer_norm and batch_norm (the train step's batch statistics) over
// features [C], lines [t, c] and images [h, w, c].
const char *kNorms = R"(
model norms {
  input x : f32[12]
  a = x -> dense(6) -> layer_norm() -> tanh
  b = x -> reshape([4, 3]) -> layer_norm(epsilon: 0.01) -> flatten
  c = x -> dense(5) -> batch_norm() -> tanh
  d = x -> dense(8) -> reshape([2, 2, 2]) -> batch_norm(momentum: 0.9) -> flatten
  output p = concat(concat(a, b), concat(c, d)) -> dense(3, activation: softmax)
}
train norms { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

/// Mean loss of the batch as a train step computes it (batch norm with the
/// batch's statistics), from copies of the weights and state.
double trainLoss(const JitModel &jm, std::vector<float> &params,
                 std::vector<char> &scratch, Batch &b) {
  std::vector<float> p = params, state(jm.desc->opt_state_floats, 0.0f);
  double stats[SORA_NUM_STATS];
  jm.desc->train_step(p.data(), state.data(), scratch.data(), b.x.data(),
                      b.y.data(), b.n, 1, stats);
  return stats[0] / double(b.n);
}
// conv1d: same and valid padding, strides 1 and 2 (a one-row conv2d).
const char *kConv1D = R"(
model conv1d {
  input x : f32[9, 3]
  a = x -> conv1d(4, 3, padding: same, activation: tanh)
  b = a -> conv1d(3, 2, stride: 2, activation: tanh)
  c = a -> conv1d(2, 3, stride: 2, padding: same)
  output p = concat(flatten(b), flatten(c)) -> dense(3, activation: softmax)
}
train conv1d { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

// The 1-D pools (windows apart with gaps, and overlapping) and global
// pooling over [time, channels] and [h, w, channels]. (maxpool1d(2) over
// `a` would put two nearly equal values in one window: a kink that central
// differences cannot follow; the parity fixture checks it exactly.)
const char *kPooling = R"(
model pooling {
  input x : f32[8, 3]
  input image : f32[4, 5, 2]
  a = x -> conv1d(4, 3, padding: same, activation: tanh)
  m = a -> maxpool1d(2, stride: 3) -> flatten
  n = a -> maxpool1d(3, stride: 2) -> flatten
  v = a -> avgpool1d(3, stride: 2) -> flatten
  g = concat(global_avgpool(a), global_maxpool(a))
  c = image -> conv2d(3, 2, activation: tanh)
  h = concat(global_avgpool(c), global_maxpool(c))
  q = concat(concat(concat(m, n), concat(v, g)), h)
  output p = q -> dense(3, activation: softmax)
}
train pooling { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

/// The train kernel's gradient of every weight element against central
/// differences of the evaluate kernel's loss; `expected` elements. The
/// kernels are compiled at `optLevel` (the maths is sorac's either way).
/// `mostPerWeight` > 0 checks at most about that many elements of each
/// weight, evenly spread (for wide layers).
void expectGradientsMatchFiniteDifferences(const char *source, int expected,
                                           int optLevel = 2,
                                           bool trainMode = false,
                                           int64_t mostPerWeight = 0) {
  auto loss = trainMode ? trainLoss : evalLoss;
  auto jm = compile(source, ir::PipelineOptions::standard(), optLevel);
  ASSERT_TRUE(jm);
  const sora_model_desc &d = *jm->desc;
  sora_model *model;
  ASSERT_EQ(sora_model_create(&d, &model), SORA_OK) << sora_last_error();
  std::vector<float> params(sora_model_params(model),
                            sora_model_params(model) + d.params_floats);
  sora_model_destroy(model);
  // Glorot init leaves biases at zero; perturb them too so every path
  // carries signal.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  for (float &p : params)
    p += u(rng);

  std::vector<char> scratch(d.scratch_bytes + 64);
  Batch batch = randomBatch(d, 8, 11);

  // Analytic gradient: one train step from zero optimizer state.
  std::vector<float> stepped = params;
  std::vector<float> state(d.opt_state_floats, 0.0f);
  double stats[SORA_NUM_STATS];
  d.train_step(stepped.data(), state.data(), scratch.data(), batch.x.data(),
               batch.y.data(), batch.n, 1, stats);
  const double beta1 = 0.9;

  // Central differences in float; h balances rounding and truncation.
  const double h = 3e-3;
  int checked = 0;
  for (const ir::ParamSlot &w : jm->cm.layout.weights) {
    const ir::ParamSlot *m = jm->cm.layout.find("optimizer." + w.name + ".m");
    if (!m && w.name.find(".running_") != std::string::npos)
      continue; // a batch norm's statistic: not trained
    ASSERT_TRUE(m);
    int64_t stride =
        mostPerWeight > 0
            ? std::max<int64_t>(1, w.type.elements() / mostPerWeight)
            : 1;
    for (int64_t i = 0; i < w.type.elements(); i += stride) {
      float saved = params[w.offset + i];
      params[w.offset + i] = saved + float(h);
      double up = loss(*jm, params, scratch, batch);
      params[w.offset + i] = saved - float(h);
      double down = loss(*jm, params, scratch, batch);
      params[w.offset + i] = saved;
      double numeric = (up - down) / (2 * h);
      double analytic = state[m->offset + i] / (1 - beta1);
      // Tolerance: float rounding of the loss over 2h, plus O(h^2).
      EXPECT_NEAR(analytic, numeric, 5e-4 + 2e-2 * std::fabs(numeric))
          << w.name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_EQ(checked, expected); // every weight and bias element asked for
}

TEST(GeneratedCode, GradientsMatchFiniteDifferences) {
  expectGradientsMatchFiniteDifferences(kEveryOp, 134);
}

// The output layer's input gradient is a matmul whose B, the layer's
// 1100 x 65 weights (286 KB), would not stay in cache from one band of rows
// to the next: each thread takes B a panel of 64 columns at a time through
// all its bands (lowerMatMul), then the last column. Every element of the
// hidden layer, whose gradient comes through it, is checked.
TEST(GeneratedCode, PanelledInputGradientMatchesFiniteDifferences) {
  expectGradientsMatchFiniteDifferences(R"(
model panels {
  input x : f32[3]
  hidden = dense(x, 65, activation: tanh)
  output y = dense(hidden, 1100)
}
train panels { loss = mse batch_size = 8 }
)",
                                        3 * 65 + 65 + 301 + 367, 2, false, 300);
}

TEST(GeneratedCode, EmbeddingConcatAndDotGradientsMatchFiniteDifferences) {
  expectGradientsMatchFiniteDifferences(
      kIdsAndInputs, 7 * 2 + 10 * 5 + 5 + 4 * 5 + 5 + 10 * 3 + 3);
}

TEST(GeneratedCode, RecurrentGradientsMatchFiniteDifferences) {
  // -O0: LLVM's -O2 takes seconds over the unrolled steps.
  expectGradientsMatchFiniteDifferences(kRecurrent, 353, 0);
}

// Keras' masking: ids of 0 (a fifth of the random ids here) are steps
// that each layer skips, through a sequence into a second layer.
const char *kMasked = R"(
model masked {
  input word : i32[4]
  e = word -> embedding(5, 3, mask_zero: true)
  s = e -> gru(3, sequences: true) -> lstm(2, reverse: true)
  output p = concat(s, e -> simple_rnn(2)) -> dense(3, activation: softmax)
}
train masked { loss = categorical_crossentropy batch_size = 8 seed = 7 }
)";

TEST(GeneratedCode, MaskedRecurrentGradientsMatchFiniteDifferences) {
  expectGradientsMatchFiniteDifferences(
      kMasked,
      5 * 3 + (9 * 3 + 9 * 3 + 2 * 9) + (8 * 3 + 8 * 2 + 2 * 8) +
          (2 * 3 + 2 * 2 + 2 * 2) + (3 * 4 + 3),
      0);
}

// With mask_zero, the padded ids [0, a, 0, b] give the state of [a, b]: an
// LSTM of 4 steps and one of 2 steps with the same weights agree.
TEST(GeneratedCode, MaskedStepsAreSkipped) {
  auto model = [](int steps) {
    return "model masked { input word : i32[" + std::to_string(steps) +
           "]\n output p = word -> embedding(5, 3, mask_zero: true) -> "
           "lstm(4) }";
  };
  auto padded = compile(model(4)), plain = compile(model(2));
  ASSERT_TRUE(padded && plain);
  const sora_model_desc &d = *padded->desc;
  ASSERT_EQ(d.params_floats, plain->desc->params_floats);
  sora_model *created;
  ASSERT_EQ(sora_model_create(&d, &created), SORA_OK);
  std::vector<float> params(sora_model_params(created),
                            sora_model_params(created) + d.params_floats);
  sora_model_destroy(created);

  auto predict = [&](const sora_model_desc &m, std::vector<int32_t> ids) {
    std::vector<float> x(ids.size()), out(m.output_size);
    std::memcpy(x.data(), ids.data(), ids.size() * sizeof(int32_t));
    std::vector<char> scratch(m.scratch_bytes + 64);
    m.predict(params.data(), nullptr, scratch.data(), x.data(), nullptr, 1, 0,
              out.data());
    return out;
  };
  std::vector<float> want = predict(*plain->desc, {3, 1});
  EXPECT_EQ(predict(d, {0, 3, 0, 1}), want);
  EXPECT_EQ(predict(d, {3, 1, 0, 0}), want);
  EXPECT_NE(predict(d, {2, 3, 0, 1}), want); // a real step is not skipped
}

TEST(GeneratedCode, NewActivationGradientsMatchFiniteDifferences) {
  expectGradientsMatchFiniteDifferences(kMoreActivations, 5 * 28 + 4 * 3 + 3);
}

TEST(GeneratedCode, NormGradientsMatchFiniteDifferences) {
  expectGradientsMatchFiniteDifferences(kNorms, 375, 2, /*trainMode=*/true);
}

// Predict normalises with the running statistics inside the producer's loop
// (a conv2d's or a matmul's epilogue reads them by channel): the same
// outputs as without the graph passes.
TEST(GeneratedCode, FusedNormsPredictAsUnfused) {
  const char *source = R"(
model fused_norms {
  input x : f32[5, 5, 2]
  c = conv2d(x, 3, 2) -> batch_norm() -> relu -> flatten
  output p = dense(c, 4) -> layer_norm() -> batch_norm() -> tanh
}
)";
  auto fused = compile(source);
  auto plain = compile(source, ir::PipelineOptions());
  ASSERT_TRUE(fused && plain);
  const sora_model_desc &d = *fused->desc;
  std::vector<float> params(d.params_floats);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (float &v : params)
    v = u(rng);
  for (const ir::ParamSlot &w : fused->cm.layout.weights)
    if (w.name.find("running_var") != std::string::npos)
      for (int64_t i = 0; i < w.type.elements(); ++i)
        params[w.offset + i] += 1; // a variance
  Batch b = randomBatch(d, 6, 2);
  auto predict = [&](const sora_model_desc &m) {
    std::vector<char> scratch(m.scratch_bytes + 64);
    std::vector<float> out(b.n * m.output_size);
    m.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, b.n,
              0, out.data());
    return out;
  };
  std::vector<float> a = predict(d), c = predict(*plain->desc);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], c[i], 1e-5) << "output " << i;
}

TEST(GeneratedCode, Conv1DGradientsMatchFiniteDifferences) {
  // a: 4*3*3 + 4, b: 3*2*4 + 3, c: 2*3*4 + 2, p: 22*3 + 3
  expectGradientsMatchFiniteDifferences(kConv1D, 40 + 27 + 26 + 69);
}

TEST(GeneratedCode, PoolingGradientsMatchFiniteDifferences) {
  // a: 4*3*3 + 4, c: 3*2*2*2 + 3, p: (12 + 12 + 12 + 8 + 6)*3 + 3
  expectGradientsMatchFiniteDifferences(kPooling, 40 + 27 + 153);
}

/// The parameters after `steps` train steps of `d` on `batch` from `start`
/// (fresh optimizer state).
std::vector<float> trainSteps(const sora_model_desc &d,
                              const std::vector<float> &start, Batch &batch,
                              int steps) {
  std::vector<float> params = start;
  std::vector<float> state(d.opt_state_floats, 0.0f);
  std::vector<char> scratch(d.scratch_bytes + 64);
  double stats[SORA_NUM_STATS];
  for (int t = 1; t <= steps; ++t)
    d.train_step(params.data(), state.data(), scratch.data(), batch.x.data(),
                 batch.y.data(), batch.n, t, stats);
  return params;
}

// The graph passes (fusion, the memory plan, the fused optimizer update)
// must not change the numbers: one train step from the same weights, with
// and without them.
TEST(GeneratedCode, GraphPassesDoNotChangeATrainStep) {
  ir::PipelineOptions none;
  auto fused = compile(kEveryOp);
  auto plain = compile(kEveryOp, none);
  ASSERT_TRUE(fused && plain);
  const sora_model_desc &f = *fused->desc, &p = *plain->desc;
  ASSERT_EQ(f.params_floats, p.params_floats);
  EXPECT_LT(f.scratch_bytes, p.scratch_bytes);
  sora_model *model;
  ASSERT_EQ(sora_model_create(&f, &model), SORA_OK);
  std::vector<float> start(sora_model_params(model),
                           sora_model_params(model) + f.params_floats);
  sora_model_destroy(model);
  Batch batch = randomBatch(f, 8, 21);
  for (int steps : {1, 3}) {
    std::vector<float> a = trainSteps(f, start, batch, steps),
                       b = trainSteps(p, start, batch, steps);
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i], b[i], 1e-5 * std::max(1.0f, std::fabs(b[i])))
          << "parameter float " << i << " after " << steps << " steps";
  }
}

// Weight gradients run in blocks of 4 rows x 64 columns, shared among
// threads a panel of columns at a time: fused with their Adam update, a's
// 13 x 150 weights make 2 panels of 3 bands, a row, a vector and 6 columns
// left; unfused (without the graph passes), b's 16 x 160 make 2 panels of
// 4 bands and 2 vectors left. The fused steps must match the unfused, and
// both be the same bits at every thread count.
TEST(GeneratedCode, WeightGradientBlocksMatchAtEveryThreadCount) {
  const char *source = R"(
model wide_update {
  input x : f32[150]
  input z : f32[160]
  a = dense(x, 13, activation: tanh)
  b = dense(z, 16, activation: tanh)
  output y = dense(a, 3) + dense(b, 3)
}
train wide_update { loss = mse  optimizer = adam(lr: 0.01)  batch_size = 20 }
)";
  ir::PipelineOptions none;
  auto fused = compile(source);
  auto plain = compile(source, none);
  ASSERT_TRUE(fused && plain);
  const sora_model_desc &f = *fused->desc, &p = *plain->desc;
  std::vector<float> start(f.params_floats);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  for (float &w : start)
    w = u(rng);
  Batch batch = randomBatch(f, 20, 12);
  auto atThreads = [&](const sora_model_desc &d, int threads, int steps) {
    EXPECT_EQ(sora_set_threads(threads), SORA_OK);
    std::vector<float> params = trainSteps(d, start, batch, steps);
    EXPECT_EQ(sora_set_threads(1), SORA_OK);
    return params;
  };
  auto sameBits = [](const std::vector<float> &a, const std::vector<float> &b) {
    return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (int steps : {1, 3}) {
    std::vector<float> one = atThreads(f, 1, steps),
                       unfused = atThreads(p, 1, steps);
    EXPECT_TRUE(sameBits(one, atThreads(f, 2, steps)));
    EXPECT_TRUE(sameBits(unfused, atThreads(p, 2, steps)));
    size_t moved = 0;
    for (size_t i = 0; i < one.size(); ++i) {
      ASSERT_NEAR(one[i], unfused[i], 1e-5 * std::max(1.0f, std::fabs(one[i])))
          << "parameter float " << i << " after " << steps << " steps";
      moved += one[i] != start[i];
    }
    EXPECT_GT(moved, one.size() * 9 / 10);
  }
}

TEST(GeneratedCode, ForwardPassMatchesAPlainLoopNest) {
  auto jm = compile(R"(
model mlp {
  input image : f32[20]
  hidden = dense(image, 16, activation: relu)
  output probs = dense(hidden, 5, activation: softmax)
}
)");
  ASSERT_TRUE(jm);
  const sora_model_desc &d = *jm->desc;
  std::vector<float> params(d.params_floats);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (float &p : params)
    p = u(rng);
  const int64_t n = 37; // not a multiple of any vector width
  Batch b = randomBatch(d, n, 9);
  std::vector<char> scratch(d.scratch_bytes + 64);
  std::vector<float> out(n * 5);
  ASSERT_LE(n, d.max_batch);
  d.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, n, 0,
            out.data());

  auto slot = [&](const char *name) {
    return params.data() + jm->cm.layout.find(name)->offset;
  };
  const float *w1 = slot("hidden.weight"), *b1 = slot("hidden.bias");
  const float *w2 = slot("probs.weight"), *b2 = slot("probs.bias");
  for (int64_t r = 0; r < n; ++r) {
    double h[16], z[5], sum = 0, mx = -1e30;
    for (int j = 0; j < 16; ++j) {
      double acc = b1[j];
      for (int k = 0; k < 20; ++k)
        acc += double(b.x[r * 20 + k]) * w1[j * 20 + k];
      h[j] = acc > 0 ? acc : 0;
    }
    for (int j = 0; j < 5; ++j) {
      z[j] = b2[j];
      for (int k = 0; k < 16; ++k)
        z[j] += h[k] * w2[j * 16 + k];
      mx = std::max(mx, z[j]);
    }
    for (int j = 0; j < 5; ++j)
      sum += std::exp(z[j] - mx);
    for (int j = 0; j < 5; ++j)
      EXPECT_NEAR(out[r * 5 + j], std::exp(z[j] - mx) / sum, 1e-5)
          << "row " << r << " class " << j;
  }
}

/// The outputs of a model's dense layer y (`units` of `inputs`, before its
/// activation) for the `n` rows of x, computed here in double.
std::vector<double> denseInDouble(const JitModel &jm,
                                  std::vector<float> &params,
                                  const std::vector<float> &x, int64_t n,
                                  int64_t inputs, int64_t units) {
  const float *w = jm.slot(params, "y.weight"),
              *bias = jm.slot(params, "y.bias");
  std::vector<double> y(n * units);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < units; ++j) {
      double acc = bias[j];
      for (int64_t k = 0; k < inputs; ++k)
        acc += double(x[r * inputs + k]) * w[j * inputs + k];
      y[r * units + j] = acc;
    }
  return y;
}

// A dense layer whose weights outgrow the L2 cache is computed in blocks of
// its inputs, each thread's bands of rows in groups whose sums so far wait
// in a stack tile (lowerMatMulNT): 130 units of 3000 inputs make three
// blocks, and 137 rows more than one group of bands plus rows left over.
// Every thread count gives the same bits, and a plain loop nest the same
// numbers.
TEST(GeneratedCode, ABlockedDenseLayerMatchesAPlainLoopNestAtEveryThreadCount) {
  auto jm = compile(R"(
model wide {
  input x : f32[3000]
  output y = dense(x, 130, activation: relu)
}
train wide { loss = mse
             batch_size = 140 }
)");
  ASSERT_TRUE(jm);
  const sora_model_desc &d = *jm->desc;
  const int64_t n = std::min<int64_t>(137, d.max_batch);
  ASSERT_GT(n, 130);
  std::vector<float> params(d.params_floats);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (float &p : params)
    p = u(rng);
  Batch b = randomBatch(d, n, 4);
  std::vector<char> scratch(d.scratch_bytes + 64);
  auto predict = [&](int64_t threads) {
    EXPECT_EQ(sora_set_threads(threads), SORA_OK);
    std::vector<float> out(n * 130);
    d.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, n, 0,
              out.data());
    return out;
  };
  std::vector<float> one = predict(1), two = predict(2);
  ASSERT_EQ(sora_set_threads(1), SORA_OK);
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
  std::vector<double> want = denseInDouble(*jm, params, b.x, n, 3000, 130);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(one[i], std::max(want[i], 0.0), 1e-4)
        << "row " << i / 130 << " unit " << i % 130;
}

// matmul_nt's tiles sum along k in vectors of the target's width, the last
// one partly used, and close four columns' sums together (sumsOfFour):
// 37 inputs are 2 vectors and 5 floats of 16, 4 and 5 of 8, 9 and 1 of 4;
// 10 units a tile of 4, another and 2 columns; 13 rows two bands of 6 and
// one left. At each width (the host runs 4, 8 and 16), the predictions
// match a plain loop nest.
TEST(GeneratedCode, DotProductsMatchAPlainLoopNestAtEveryVectorWidth) {
  for (int width : {4, 8, 16}) {
    auto jm = compile(R"(
model narrow {
  input x : f32[37]
  output y = dense(x, 10)
}
train narrow { loss = mse
               batch_size = 13 }
)",
                      ir::PipelineOptions::standard(), 2,
                      [&](ir::CompiledModel &cm) { cm.vectorWidth = width; });
    ASSERT_TRUE(jm);
    const sora_model_desc &d = *jm->desc;
    const int64_t n = 13;
    std::vector<float> params(d.params_floats);
    std::mt19937 rng(width);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float &p : params)
      p = u(rng);
    Batch b = randomBatch(d, n, 5);
    std::vector<char> scratch(d.scratch_bytes + 64);
    std::vector<float> out(n * 10);
    d.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, n, 0,
              out.data());
    std::vector<double> want = denseInDouble(*jm, params, b.x, n, 37, 10);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(out[i], want[i], 1e-4)
          << "width " << width << ", row " << i / 10 << ", unit " << i % 10;
  }
}

/// mae and rmse of `n` rows of predictions against labels, over every
/// element, computed here in double.
std::pair<double, double> errors(const std::vector<float> &p,
                                 const std::vector<float> &t) {
  double abs = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double e = double(p[i]) - double(t[i]);
    abs += std::fabs(e);
    sq += e * e;
  }
  return {abs / double(p.size()), std::sqrt(sq / double(p.size()))};
}

// mae and rmse compare what the model outputs (after a sigmoid or softmax)
// with the labels: evaluate (in chunks of max_batch) and the train step
// (before its update) agree with the predictions' errors computed here.
TEST(GeneratedCode, MaeAndRmseMatchThePredictions) {
  const char *outputs[] = {"dense(h, 1)\n}\ntrain m {\n  loss = mse",
                           "dense(h, 3)\n}\ntrain m {\n  loss = mse",
                           "dense(h, 1, activation: sigmoid)\n}\ntrain m {\n"
                           "  loss = binary_crossentropy",
                           "dense(h, 4, activation: softmax)\n}\ntrain m {\n"
                           "  loss = categorical_crossentropy"};
  for (const char *output : outputs) {
    SCOPED_TRACE(output);
    auto jm =
        compile(std::string("model m {\n  input x : f32[5]\n"
                            "  h = dense(x, 8, activation: tanh)\n"
                            "  output y = ") +
                output + "\n  batch_size = 16\n  metrics = [mae, rmse]\n}\n");
    ASSERT_TRUE(jm);
    const sora_model_desc &d = *jm->desc;
    sora_model *model = nullptr;
    ASSERT_EQ(sora_model_create(&d, &model), SORA_OK) << sora_last_error();
    const int64_t n = 37; // three chunks of evaluate, the last one short
    Batch b = randomBatch(d, n, 4);
    std::mt19937 rng(8);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    if (d.label_size == d.output_size && d.output_size < 4)
      for (float &t : b.y) // regression targets, or bce's in [0, 1]
        t = u(rng);
    std::vector<float> p(n * d.output_size);
    ASSERT_EQ(sora_model_predict(model, b.x.data(), n, p.data()), SORA_OK);
    auto [mae, rmse] = errors(p, b.y);

    sora_metrics got;
    ASSERT_EQ(sora_model_evaluate(model, b.x.data(), b.y.data(), n, &got),
              SORA_OK);
    EXPECT_NEAR(got.mae, mae, 1e-5 * mae);
    EXPECT_NEAR(got.rmse, rmse, 1e-5 * rmse);
    if (std::string(output).find("mse") != std::string::npos) {
      EXPECT_NEAR(got.rmse * got.rmse, got.loss, 1e-5 * got.loss);
    }

    // The train step's sums, over rows within one batch.
    const int64_t rows = 16;
    std::vector<float> params(sora_model_params(model),
                              sora_model_params(model) + d.params_floats);
    std::vector<float> state(d.opt_state_floats, 0.0f);
    std::vector<char> scratch(d.scratch_bytes + 64);
    double stats[SORA_NUM_STATS];
    d.train_step(params.data(), state.data(), scratch.data(), b.x.data(),
                 b.y.data(), rows, 1, stats);
    auto [stepMae, stepRmse] =
        errors({p.begin(), p.begin() + rows * d.output_size},
               {b.y.begin(), b.y.begin() + rows * d.output_size});
    EXPECT_NEAR(stats[SORA_STAT_ABS_ERROR] / rows, stepMae, 1e-5 * stepMae);
    EXPECT_NEAR(std::sqrt(stats[SORA_STAT_SQUARED_ERROR] / rows), stepRmse,
                1e-5 * stepRmse);
    sora_model_destroy(model);
  }
}

// Without mae and rmse in the metrics, they are NaN, and the kernels write
// 0 in their places.
TEST(GeneratedCode, MetricsNotAskedForAreNaN) {
  auto jm = compile(R"(
model m {
  input x : f32[3]
  output y = dense(x, 1)
}
train m {
  loss = mse
}
)");
  ASSERT_TRUE(jm);
  sora_model *model = nullptr;
  ASSERT_EQ(sora_model_create(jm->desc, &model), SORA_OK);
  Batch b = randomBatch(*jm->desc, 5, 1);
  sora_metrics got;
  ASSERT_EQ(sora_model_evaluate(model, b.x.data(), b.y.data(), 5, &got),
            SORA_OK);
  EXPECT_TRUE(std::isfinite(got.loss));
  EXPECT_TRUE(std::isnan(got.accuracy));
  EXPECT_TRUE(std::isnan(got.mae));
  EXPECT_TRUE(std::isnan(got.rmse));
  sora_model_destroy(model);
}

} // namespace
