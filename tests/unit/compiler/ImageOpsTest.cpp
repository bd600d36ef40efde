//===- ImageOpsTest.cpp - Convolution, pooling and dropout, run -----------===//
//
// Like GeneratedCodeTest.cpp: compiles .sora sources in-process, runs the
// generated kernels through LLVM's ORC JIT and checks them against
// independent references:
//  - gradients of a CNN (conv2d with valid and same padding, strides 1 and
//    2, odd and even kernels; overlapping and plain max pooling; average
//    pooling): against central finite differences of the evaluate kernel's
//    loss. The train kernel's gradient is read from Adam's first moment
//    after one step from zero state, m = (1 - beta1) g;
//  - the forward pass: against plain C++ loop nests written here;
//  - dropout: the mask it draws (revealed by a gradient), its identity at
//    inference, and gradients through it against finite differences of the
//    train kernel's own loss at the same step, i.e. under the same mask.
//
//===----------------------------------------------------------------------===//
#include "JitModel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

using namespace sora;

namespace {

using jit::Batch;
using jit::compile;
using jit::JitModel;
using jit::randomBatch;

/// Scratch memory filled with NaNs, so that a kernel that reads a value
/// before writing it (an accumulator not zeroed first) cannot pass.
std::vector<char> garbageScratch(const sora_model_desc &d) {
  return std::vector<char>(d.scratch_bytes + 64, char(0xff));
}

/// The runtime's initial parameters plus uniform noise, so that biases (zero
/// at first) carry signal too.
std::vector<float> perturbedInitialParams(const sora_model_desc &d,
                                          unsigned seed) {
  sora_model *model;
  EXPECT_EQ(sora_model_create(&d, &model), SORA_OK) << sora_last_error();
  std::vector<float> params(sora_model_params(model),
                            sora_model_params(model) + d.params_floats);
  sora_model_destroy(model);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  for (float &p : params)
    p += u(rng);
  return params;
}

/// One train step from `params` and zero optimizer state, on copies:
/// returns the optimizer state after it (Adam's m then holds (1-beta1) g).
std::vector<float> trainStepState(const JitModel &jm,
                                  const std::vector<float> &params,
                                  const Batch &b, int64_t step,
                                  double *loss = nullptr) {
  const sora_model_desc &d = *jm.desc;
  std::vector<float> stepped = params;
  std::vector<float> state(d.opt_state_floats, 0.0f);
  std::vector<char> scratch = garbageScratch(d);
  double stats[SORA_NUM_STATS];
  d.train_step(stepped.data(), state.data(), scratch.data(), b.x.data(),
               b.y.data(), b.n, step, stats);
  if (loss)
    *loss = stats[0] / double(b.n);
  return state;
}

/// Mean loss of the batch, from the generated evaluate kernel (no dropout).
double evalLoss(const JitModel &jm, const std::vector<float> &params,
                const Batch &b) {
  std::vector<char> scratch = garbageScratch(*jm.desc);
  double stats[SORA_NUM_STATS];
  jm.desc->evaluate(const_cast<float *>(params.data()), nullptr, scratch.data(),
                    b.x.data(), b.y.data(), b.n, 0, stats);
  return stats[0] / double(b.n);
}

/// Checks the train kernel's gradient of every weight element (or of every
/// `stride`-th one) against central differences of `loss(params)`; returns
/// how many were checked.
int checkGradients(
    const JitModel &jm, std::vector<float> params, const Batch &b, double h,
    const std::function<double(const std::vector<float> &)> &loss,
    int64_t stride = 1) {
  std::vector<float> state = trainStepState(jm, params, b, /*step=*/1);
  const double beta1 = 0.9;
  int checked = 0;
  for (const ir::ParamSlot &w : jm.cm.layout.weights) {
    const ir::ParamSlot *m = jm.cm.layout.find("optimizer." + w.name + ".m");
    EXPECT_TRUE(m) << w.name;
    if (!m)
      continue;
    for (int64_t i = 0; i < w.type.elements(); i += stride) {
      float saved = params[w.offset + i];
      params[w.offset + i] = saved + float(h);
      double up = loss(params);
      params[w.offset + i] = saved - float(h);
      double down = loss(params);
      params[w.offset + i] = saved;
      double numeric = (up - down) / (2 * h);
      double analytic = state[m->offset + i] / (1 - beta1);
      // Tolerance: the loss is a float sum rounded at ~1e-7 relative, which
      // divided by 2h = 2e-3 gives ~1e-4; plus the O(h^2) truncation.
      EXPECT_NEAR(analytic, numeric, 5e-4 + 1e-2 * std::fabs(numeric))
          << w.name << "[" << i << "]";
      ++checked;
    }
  }
  return checked;
}

// Every image op with a gradient, in one DAG:
//  - a: 'same', stride 1, odd kernel (one pixel of padding on every side);
//    a feeds both b and d, so its gradient sums two paths;
//  - b: max pooling with overlapping windows (3 wide, stride 2);
//  - c: 'same' with an even kernel and stride 2 over 3x3 pixels: one pixel
//    of padding, after (TensorFlow's asymmetric padding);
//  - d: 'same' with an even kernel, stride 1: one pixel before, two after;
//    then average pooling that leaves the last row and column out;
//  - e: 'valid', stride 2 (a conv straight on the input: no grad_input);
//    then plain 2x2 max pooling.
// Max pooling's derivative jumps where two window values swap order; the
// inputs and weights are continuous random values, so no window holds two
// values within the ~1e-3 that a finite-difference step moves them.
const char *kCnn = R"(
model cnn {
  input x : f32[7, 7, 2]
  a = x -> conv2d(3, kernel: 3, padding: same, activation: tanh)
  b = a -> maxpool2d(3, stride: 2)
  c = b -> conv2d(4, kernel: 2, stride: 2, padding: same, activation: tanh)
  d = a -> conv2d(2, kernel: 4, padding: same, activation: tanh) -> avgpool2d(2)
  e = x -> conv2d(2, kernel: 3, stride: 2, activation: sigmoid) -> maxpool2d(2)
  output p = ((c -> flatten -> dense(3)) + (d -> flatten -> dense(3))
              + (e -> flatten -> dense(3))) -> softmax
}
train cnn { loss = categorical_crossentropy batch_size = 4 }
)";

TEST(ImageOps, CnnGradientsMatchFiniteDifferences) {
  auto jm = compile(kCnn);
  ASSERT_TRUE(jm);
  std::vector<float> params = perturbedInitialParams(*jm->desc, 3);
  Batch batch = randomBatch(*jm->desc, 4, 11);
  int checked = checkGradients(
      *jm, params, batch, 1e-3,
      [&](const std::vector<float> &p) { return evalLoss(*jm, p, batch); });
  // a 57, c 52, d 98, e 38, and the three dense layers 51 + 57 + 9.
  EXPECT_EQ(checked, 362);
}

// Layers as wide as real ones, where the convolutions run on register
// tiles of channel vectors (16 or 8 floats): channel counts that are not a
// whole number of vectors (17, 20, 36), so that the last vector is masked;
// a filter gradient over 20 and 36 input channels (vectors along the
// channels) and over 3 (vectors along the filters); the input gradient of
// a stride-1 convolution (the flipped kernel) with 20 output channels and of
// a stride-2 one. Every 7th weight is checked.
TEST(ImageOps, WideCnnGradientsMatchFiniteDifferences) {
  auto jm = compile(R"(
model wide {
  input x : f32[6, 5, 3]
  a = x -> conv2d(20, kernel: 3, padding: same, activation: tanh)
  b = a -> conv2d(36, kernel: 3, padding: same, activation: tanh)
  c = b -> conv2d(18, kernel: 2, stride: 2, padding: same, activation: tanh)
  output p = c -> flatten -> dense(3, activation: softmax)
}
train wide { loss = categorical_crossentropy batch_size = 4 }
)");
  ASSERT_TRUE(jm);
  std::vector<float> params = perturbedInitialParams(*jm->desc, 4);
  Batch batch = randomBatch(*jm->desc, 4, 13);
  int checked = checkGradients(
      *jm, params, batch, 1e-3,
      [&](const std::vector<float> &p) { return evalLoss(*jm, p, batch); },
      /*stride=*/7);
  // ceil(n / 7) of a 540 + 20, b 6480 + 36, c 2592 + 18, p 486 + 3.
  EXPECT_EQ(checked, 78 + 3 + 926 + 6 + 371 + 3 + 70 + 1);
}

// Images smaller than the kernel's reach: with 'same' padding some taps
// fall outside the image for every output pixel (a 5x5 kernel over 2x3
// pixels), and no output pixel sees all nine taps of a 3x3 kernel.
TEST(ImageOps, GradientsWhenTheKernelOverhangsTheImage) {
  auto jm = compile(R"(
model tiny {
  input x : f32[2, 3, 1]
  a = x -> conv2d(17, kernel: 3, padding: same, activation: tanh)
  b = a -> conv2d(5, kernel: 5, padding: same, activation: tanh)
  output p = b -> flatten -> dense(2, activation: softmax)
}
train tiny { loss = categorical_crossentropy batch_size = 3 }
)");
  ASSERT_TRUE(jm);
  std::vector<float> params = perturbedInitialParams(*jm->desc, 6);
  Batch batch = randomBatch(*jm->desc, 3, 14);
  int checked = checkGradients(
      *jm, params, batch, 1e-3,
      [&](const std::vector<float> &p) { return evalLoss(*jm, p, batch); });
  EXPECT_EQ(checked, 153 + 17 + 2125 + 5 + 60 + 2);
}

// --- Forward pass against plain loop nests --------------------------------

/// A batch of images [n, h, w, c] in double.
struct Images {
  int64_t n, h, w, c;
  std::vector<double> v;
  Images(int64_t n, int64_t h, int64_t w, int64_t c)
      : n(n), h(h), w(w), c(c), v(n * h * w * c, 0.0) {}
  double &at(int64_t r, int64_t y, int64_t x, int64_t k) {
    return v[((r * h + y) * w + x) * c + k];
  }
};

/// conv2d + bias with TensorFlow's padding: 'same' gives ceil(in / stride)
/// outputs and pads (out - 1) * stride + kernel - in, the odd one after.
Images conv2dRef(Images &x, const float *w, const float *bias, int64_t filters,
                 int64_t k, int64_t stride, bool same) {
  auto outSize = [&](int64_t in) {
    return same ? (in + stride - 1) / stride : (in - k) / stride + 1;
  };
  auto padBefore = [&](int64_t in, int64_t out) {
    return same ? std::max<int64_t>((out - 1) * stride + k - in, 0) / 2 : 0;
  };
  Images y(x.n, outSize(x.h), outSize(x.w), filters);
  int64_t pt = padBefore(x.h, y.h), pl = padBefore(x.w, y.w);
  for (int64_t r = 0; r < x.n; ++r)
    for (int64_t oh = 0; oh < y.h; ++oh)
      for (int64_t ow = 0; ow < y.w; ++ow)
        for (int64_t f = 0; f < filters; ++f) {
          double acc = bias[f];
          for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw)
              for (int64_t c = 0; c < x.c; ++c) {
                int64_t ih = oh * stride + kh - pt, iw = ow * stride + kw - pl;
                if (ih >= 0 && ih < x.h && iw >= 0 && iw < x.w)
                  acc +=
                      x.at(r, ih, iw, c) * w[((f * k + kh) * k + kw) * x.c + c];
              }
          y.at(r, oh, ow, f) = acc;
        }
  return y;
}

Images maxPoolRef(Images &x, int64_t size, int64_t stride) {
  Images y(x.n, (x.h - size) / stride + 1, (x.w - size) / stride + 1, x.c);
  for (int64_t r = 0; r < x.n; ++r)
    for (int64_t oh = 0; oh < y.h; ++oh)
      for (int64_t ow = 0; ow < y.w; ++ow)
        for (int64_t c = 0; c < x.c; ++c) {
          double m = -INFINITY;
          for (int64_t i = 0; i < size; ++i)
            for (int64_t j = 0; j < size; ++j)
              m = std::max(m, x.at(r, oh * stride + i, ow * stride + j, c));
          y.at(r, oh, ow, c) = m;
        }
  return y;
}

TEST(ImageOps, ConvAndMaxPoolForwardMatchPlainLoopNests) {
  // A non-square image, so that rows and columns cannot be mixed up.
  //  - a: even kernel, stride 2, 'same': rows pad 0 before and 1 after,
  //    columns pad nothing;
  //  - b: kernel 4, stride 2, 'same': rows pad 1 before and 2 after,
  //    columns 1 and 1;
  //  - c: 'valid', stride 2; max pooling with overlapping windows.
  auto jm = compile(R"(
model fwd {
  input x : f32[7, 6, 3]
  a = x -> conv2d(4, kernel: 2, stride: 2, padding: same)
  b = x -> conv2d(4, kernel: 4, stride: 2, padding: same)
  c = x -> conv2d(4, kernel: 3, stride: 2)
  output y = ((a + b) -> maxpool2d(2, stride: 1)) + c
}
)");
  ASSERT_TRUE(jm);
  const sora_model_desc &d = *jm->desc;
  ASSERT_EQ(d.input_size, 7 * 6 * 3);
  ASSERT_EQ(d.output_size, 3 * 2 * 4);
  std::vector<float> params(d.params_floats);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (float &p : params)
    p = u(rng);
  const int64_t n = 5;
  ASSERT_LE(n, d.max_batch);
  Batch b = randomBatch(d, n, 9);
  std::vector<char> scratch = garbageScratch(d);
  std::vector<float> out(n * d.output_size);
  d.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, n, 0,
            out.data());

  Images x(n, 7, 6, 3);
  std::copy(b.x.begin(), b.x.end(), x.v.begin());
  Images a = conv2dRef(x, jm->slot(params, "a.weight"),
                       jm->slot(params, "a.bias"), 4, 2, 2, true);
  Images bb = conv2dRef(x, jm->slot(params, "b.weight"),
                        jm->slot(params, "b.bias"), 4, 4, 2, true);
  Images c = conv2dRef(x, jm->slot(params, "c.weight"),
                       jm->slot(params, "c.bias"), 4, 3, 2, false);
  ASSERT_EQ(a.h, 4);
  ASSERT_EQ(a.w, 3);
  for (size_t i = 0; i < a.v.size(); ++i)
    a.v[i] += bb.v[i];
  Images y = maxPoolRef(a, 2, 1);
  ASSERT_EQ(y.v.size(), c.v.size());
  for (size_t i = 0; i < y.v.size(); ++i)
    EXPECT_NEAR(out[i], y.v[i] + c.v[i], 1e-5) << "element " << i;
}

/// Runs `source`'s predict kernel (one model: input x, output y) on n random
/// images with random parameters, through the standard graph passes (the
/// convolutions' bias and activation fused) and through none, and checks
/// both against `reference(x, params)`.
void checkForward(
    const std::string &source, int64_t n,
    const std::function<std::vector<double>(Images &, const JitModel &,
                                            std::vector<float> &)> &reference,
    int64_t h, int64_t w, int64_t c) {
  ir::PipelineOptions none;
  for (const ir::PipelineOptions &pipeline :
       {ir::PipelineOptions::standard(), none}) {
    auto jm = compile(source, pipeline);
    ASSERT_TRUE(jm);
    const sora_model_desc &d = *jm->desc;
    ASSERT_EQ(d.input_size, h * w * c);
    ASSERT_LE(n, d.max_batch);
    std::vector<float> params(d.params_floats);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    for (float &p : params)
      p = u(rng);
    Batch b = randomBatch(d, n, 10);
    std::vector<char> scratch = garbageScratch(d);
    std::vector<float> out(n * d.output_size);
    d.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, n, 0,
              out.data());
    Images x(n, h, w, c);
    std::copy(b.x.begin(), b.x.end(), x.v.begin());
    std::vector<double> y = reference(x, *jm, params);
    ASSERT_EQ(int64_t(y.size()), n * d.output_size);
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(out[i], y[i], 1e-4 * (1 + std::fabs(y[i])))
          << "element " << i << (pipeline.passes.empty() ? ", no passes" : "");
  }
}

// Wide layers: 20 input channels, 70 filters (more than one group of
// vectors, the last one masked) with a fused bias + relu; then 130 filters
// over 70 channels, stride 2, whose transposed kernel does not fit one
// stack tile and is done in chunks of filters.
TEST(ImageOps, WideConvForwardMatchesPlainLoopNests) {
  checkForward(
      R"(
model widefwd {
  input x : f32[7, 6, 20]
  a = x -> conv2d(70, kernel: 3, padding: same, activation: relu)
  output y = a -> conv2d(130, kernel: 3, stride: 2, padding: same)
}
)",
      3,
      [](Images &x, const JitModel &jm, std::vector<float> &params) {
        Images a = conv2dRef(x, jm.slot(params, "a.weight"),
                             jm.slot(params, "a.bias"), 70, 3, 1, true);
        for (double &v : a.v)
          v = std::max(v, 0.0);
        return conv2dRef(a, jm.slot(params, "y.weight"),
                         jm.slot(params, "y.bias"), 130, 3, 2, true)
            .v;
      },
      7, 6, 20);
}

// A kernel of more than 8192 taps (3 x 3 x 1000) has no transposed copy on
// the stack: the convolution is computed output by output.
TEST(ImageOps, ConvWithAVeryLargeKernelMatchesPlainLoopNests) {
  checkForward(
      R"(
model huge {
  input x : f32[3, 3, 1000]
  output y = x -> conv2d(3, kernel: 3, padding: same, activation: relu)
}
)",
      2,
      [](Images &x, const JitModel &jm, std::vector<float> &params) {
        Images y = conv2dRef(x, jm.slot(params, "y.weight"),
                             jm.slot(params, "y.bias"), 3, 3, 1, true);
        for (double &v : y.v)
          v = std::max(v, 0.0);
        return y.v;
      },
      3, 3, 1000);
}

// --- Dropout ---------------------------------------------------------------

const char *kDropout = R"(
model drop {
  input x : f32[1000]
  output p = x -> dropout(0.3) -> dense(2, activation: softmax)
}
train drop { loss = categorical_crossentropy batch_size = 4 }
)";

/// How many of the batch's rows keep each of the 1000 inputs in train step
/// `step`. With zero weights the logits are 0 whatever the mask, so with
/// label 0 everywhere dz[r] = (1/2 - 1, 1/2) / n, and for an input of ones
/// the weight gradient is dW[0, k] = -1/(2n) * kept(k) / (1 - rate): the
/// mask, summed over the rows, scaled by the inverted-dropout factor.
std::vector<double> keptCounts(const JitModel &jm, int64_t step) {
  const int64_t n = 4;
  const double rate = 0.3;
  Batch b{n, std::vector<float>(n * 1000, 1.0f),
          std::vector<float>(n * 2, 0.0f)};
  for (int64_t r = 0; r < n; ++r)
    b.y[r * 2] = 1;
  std::vector<float> params(jm.desc->params_floats, 0.0f);
  std::vector<float> state = trainStepState(jm, params, b, step);
  const float *m =
      state.data() + jm.cm.layout.find("optimizer.p.weight.m")->offset;
  std::vector<double> kept(1000);
  for (int k = 0; k < 1000; ++k)
    kept[k] = m[k] / (1 - 0.9) / (-1.0 / (2 * n) / (1 - rate));
  return kept;
}

TEST(ImageOps, DropoutDropsAboutItsRateWithAFreshMaskPerRowAndStep) {
  auto jm = compile(kDropout);
  ASSERT_TRUE(jm);
  std::vector<double> kept = keptCounts(*jm, 1);
  double total = 0;
  int partial = 0; // inputs that some rows keep and others drop
  for (double k : kept) {
    // A whole number of rows: kept values are scaled by exactly 1/(1-rate).
    ASSERT_NEAR(k, std::round(k), 1e-3);
    ASSERT_GE(std::round(k), 0);
    ASSERT_LE(std::round(k), 4);
    total += std::round(k);
    partial += std::round(k) != 0 && std::round(k) != 4;
  }
  // 4000 draws at 30%: the standard deviation is 0.7 points.
  double dropped = 1 - total / 4000;
  EXPECT_GT(dropped, 0.25);
  EXPECT_LT(dropped, 0.35);
  // Rows draw independent masks: 1 - 0.7^4 - 0.3^4, about 75%, are partial.
  EXPECT_GT(partial, 600);
  // The mask is a function of the step: the same step draws it again, the
  // next one draws another (about 70% of the counts then differ).
  EXPECT_EQ(keptCounts(*jm, 1), kept);
  std::vector<double> next = keptCounts(*jm, 2);
  int differ = 0;
  for (int k = 0; k < 1000; ++k)
    differ += std::round(next[k]) != std::round(kept[k]);
  EXPECT_GT(differ, 300);
}

TEST(ImageOps, DropoutIsTheIdentityAtInference) {
  auto jm = compile(kDropout);
  ASSERT_TRUE(jm);
  const sora_model_desc &d = *jm->desc;
  std::vector<float> params(d.params_floats);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (float &p : params)
    p = u(rng);
  const int64_t n = 3;
  Batch b = randomBatch(d, n, 4);
  std::vector<char> scratch = garbageScratch(d);
  std::vector<float> out(n * 2);
  d.predict(params.data(), nullptr, scratch.data(), b.x.data(), nullptr, n, 1,
            out.data());
  const float *w = jm->slot(params, "p.weight"),
              *bias = jm->slot(params, "p.bias");
  for (int64_t r = 0; r < n; ++r) {
    double z[2];
    for (int j = 0; j < 2; ++j) {
      z[j] = bias[j];
      for (int k = 0; k < 1000; ++k)
        z[j] += double(b.x[r * 1000 + k]) * w[j * 1000 + k];
    }
    double p0 = 1 / (1 + std::exp(z[1] - z[0]));
    EXPECT_NEAR(out[r * 2], p0, 1e-5) << "row " << r;
    EXPECT_NEAR(out[r * 2 + 1], 1 - p0, 1e-5) << "row " << r;
  }
}

// The evaluate kernel has no dropout, so the gradient of a model with
// dropout is checked against finite differences of the train kernel's own
// loss (reported before its update) at the same step number: the same
// mask. A backward pass that regenerated another mask than the forward's
// (another step, salt or row numbering) would fail for the weights before
// the dropout, whose gradient flows through dropout_grad. The relu after
// the dropout runs in the dropout's loop (a fused epilogue), the max pool's
// flatten in the pool's, and the backward's tanh_grad in dropout_grad's.
TEST(ImageOps, GradientsThroughDropoutMatchFiniteDifferencesOfTheTrainLoss) {
  auto jm = compile(R"(
model cnn_drop {
  input x : f32[5, 5, 2]
  output p = x -> conv2d(3, kernel: 3, padding: same, activation: tanh)
               -> dropout(0.3) -> relu -> maxpool2d(2) -> flatten
               -> dense(3, activation: softmax)
}
train cnn_drop { loss = categorical_crossentropy batch_size = 4 seed = 5 }
)");
  ASSERT_TRUE(jm);
  std::vector<float> params = perturbedInitialParams(*jm->desc, 8);
  Batch batch = randomBatch(*jm->desc, 4, 12);
  auto trainLoss = [&](const std::vector<float> &p) {
    double loss;
    trainStepState(*jm, p, batch, /*step=*/1, &loss);
    return loss;
  };
  // Dropout is active in training and only there.
  EXPECT_GT(std::fabs(trainLoss(params) - evalLoss(*jm, params, batch)), 1e-4);
  int checked = checkGradients(*jm, params, batch, 1e-3, trainLoss);
  EXPECT_EQ(checked, 57 + 39); // conv 54 + 3, dense 36 + 3
}

} // namespace
