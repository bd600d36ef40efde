//===- GeneratedCodeTest.cpp - The generated kernels, run through the JIT
//--===//
//
// Compiles .sora sources in-process with the same pipeline as the driver,
// runs the generated kernels with LLVM's ORC JIT, and checks them against
// independent references:
//  - gradients: against central finite differences of the generated
//    evaluate kernel's loss. The train-step kernel's gradient is read back
//    from Adam's first moment after one step from zero state, where
//    m = (1 - beta1) g exactly as Adam defines it;
//  - the forward pass: against a plain C++ loop nest written here.
//
//===----------------------------------------------------------------------===//
#include "JitModel.h"

#include <gtest/gtest.h>

#include <cmath>
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
  double stats[2];
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

TEST(GeneratedCode, GradientsMatchFiniteDifferences) {
  auto jm = compile(kEveryOp);
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
  double stats[2];
  d.train_step(stepped.data(), state.data(), scratch.data(), batch.x.data(),
               batch.y.data(), batch.n, 1, stats);
  const double beta1 = 0.9;

  // Central differences in float; h balances rounding and truncation.
  const double h = 3e-3;
  int checked = 0;
  for (const ir::ParamSlot &w : jm->cm.layout.weights) {
    const ir::ParamSlot *m = jm->cm.layout.find("optimizer." + w.name + ".m");
    ASSERT_TRUE(m);
    for (int64_t i = 0; i < w.type.elements(); ++i) {
      float saved = params[w.offset + i];
      params[w.offset + i] = saved + float(h);
      double up = evalLoss(*jm, params, scratch, batch);
      params[w.offset + i] = saved - float(h);
      double down = evalLoss(*jm, params, scratch, batch);
      params[w.offset + i] = saved;
      double numeric = (up - down) / (2 * h);
      double analytic = state[m->offset + i] / (1 - beta1);
      // Tolerance: float rounding of the loss over 2h, plus O(h^2).
      EXPECT_NEAR(analytic, numeric, 5e-4 + 2e-2 * std::fabs(numeric))
          << w.name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 134); // every weight and bias element
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

  auto step = [&](const sora_model_desc &d, int steps) {
    std::vector<float> params = start;
    std::vector<float> state(d.opt_state_floats, 0.0f);
    std::vector<char> scratch(d.scratch_bytes + 64);
    double stats[2];
    for (int t = 1; t <= steps; ++t)
      d.train_step(params.data(), state.data(), scratch.data(), batch.x.data(),
                   batch.y.data(), batch.n, t, stats);
    return params;
  };
  for (int steps : {1, 3}) {
    std::vector<float> a = step(f, steps), b = step(p, steps);
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i], b[i], 1e-5 * std::max(1.0f, std::fabs(b[i])))
          << "parameter float " << i << " after " << steps << " steps";
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

} // namespace
