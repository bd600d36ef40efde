//===- Bf16KernelsTest.cpp - bfloat16 pairs give the rounded products -----===//
//
// With `precision = bf16` on a CPU with AVX512_BF16, the convolutions (the
// forward register tiles, the input gradient, the filter gradient) multiply
// bfloat16 pairs with vdpbf16ps instead of f32 FMAs on the same rounded
// operands. The products are the same (a product of two bfloat16 is exact
// in f32); only the order of the sums differs. So one train step with the
// pairs must give the gradients of one step without them to within f32
// rounding, for every shape the pair kernels special-case: an odd number
// of output columns (a pixel paired with zeros), taps whose columns start
// or end inside a pair (same padding), stride 2, channels in and out that
// are not whole vectors, and input channels of a vector or more (the
// filter gradient along channels, whose dy pixels are packed in pairs).
// Dense layers after them make every gradient depend on every convolution;
// their forward products (matmul_nt) run on pairs too: 13 samples make two
// bands of 6 rows and one row left over, and their k (72, 37) ends inside
// a vector of pairs, or inside a pair; so does the output layer's input
// gradient (matmul, k = 6 pairs of its units, 37 columns: a masked vector).
// On a CPU with AMX, the stride-1 convolutions and their input gradients
// run on AMX tiles instead (tdpbf16ps): the same check.
//
//===----------------------------------------------------------------------===//
#include "JitModel.h"

#include <gtest/gtest.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/TargetParser/Host.h>

#include <algorithm>
#include <cmath>

using namespace sora;

namespace {

const char *kModel = R"(
model pairs {
    input image : f32[9, 7, 2]
    a = conv2d(image, 18, kernel: 3, padding: same, activation: relu)
    b = conv2d(a, 20, kernel: 3, activation: tanh)
    c = conv2d(b, 16, kernel: 3, stride: 2, padding: same, activation: relu)
    e = conv2d(c, 32, kernel: 3, padding: same, activation: relu)
    d = conv2d(e, 6, kernel: 2, padding: same)
    h = d -> flatten -> dense(37, activation: relu)
    output probs = dense(h, 6, activation: softmax)
}
train pairs {
    loss      = categorical_crossentropy
    optimizer = adam
    batch_size = 13
    precision = bf16
}
)";

bool hostHasBf16Pairs() {
  llvm::StringMap<bool> f = llvm::sys::getHostCPUFeatures();
  return f.lookup("avx512f") && f.lookup("avx512bf16");
}

/// Dense layers only, for AMX's matmul_nt: 45 samples (a block of 32 rows,
/// both of its row tiles, then one of 13), k of 50 (a step of 32, then 18
/// and zeros), 37 units (three tiles of columns: a pair, then one, 5 of its
/// 16 used), then k of 37 and 6 units.
const char *kDenseModel = R"(
model dense_pairs {
    input x : f32[50]
    h = dense(x, 37, activation: relu)
    output probs = dense(h, 6, activation: softmax)
}
train dense_pairs {
    loss      = categorical_crossentropy
    optimizer = adam
    batch_size = 45
    precision = bf16
}
)";

/// How the products run: on bfloat16 pairs (vdpbf16ps), on AMX tiles
/// (tdpbf16ps, the stride-1 convolution nests and the dense layers'
/// forward products), or neither (f32 FMAs); for which model and batch.
struct Kernels {
  bool pairs = false, amx = false;
  const char *model = kModel;
  int64_t batch = 13;
};

/// Adam's first moments after one step from `params` (the gradients times
/// 1 - beta1), with the products run as `kernels` says.
std::vector<float> stepMoments(Kernels kernels,
                               const std::vector<float> *params,
                               std::vector<float> *initial) {
  auto jm = jit::compile(kernels.model, ir::PipelineOptions::standard(), 2,
                         [&](ir::CompiledModel &cm) {
                           cm.vectorWidth = 16;
                           cm.bf16Dot = kernels.pairs;
                           cm.amx = kernels.amx;
                         });
  EXPECT_TRUE(jm);
  if (!jm)
    return {};
  const sora_model_desc &d = *jm->desc;
  sora_model *model;
  EXPECT_EQ(sora_model_create(&d, &model), SORA_OK) << sora_last_error();
  std::vector<float> w(sora_model_params(model),
                       sora_model_params(model) + d.params_floats);
  sora_model_destroy(model);
  if (params)
    w = *params;
  if (initial)
    *initial = w;
  jit::Batch b = jit::randomBatch(d, kernels.batch, 7);
  std::vector<float> state(d.opt_state_floats, 0.0f);
  std::vector<char> scratch(d.scratch_bytes + 64, char(0xff));
  double stats[SORA_NUM_STATS];
  d.train_step(w.data(), state.data(), scratch.data(), b.x.data(), b.y.data(),
               b.n, 1, stats);
  return state;
}

/// The largest difference between two steps' first moments, relative to
/// the largest of them (sums of up to 13 x 9 x 7 x 20 terms in another
/// order).
void expectSameMoments(Kernels kernels) {
  std::vector<float> params;
  std::vector<float> withPairs = stepMoments(kernels, nullptr, &params);
  Kernels f32 = kernels;
  f32.pairs = f32.amx = false;
  std::vector<float> without = stepMoments(f32, &params, nullptr);
  ASSERT_EQ(withPairs.size(), without.size());
  ASSERT_FALSE(without.empty());
  // Adam's state is [m | v]: compare the first moments.
  size_t half = without.size() / 2;
  float largest = 0, worst = 0;
  for (size_t i = 0; i < half; ++i)
    largest = std::max(largest, std::fabs(without[i]));
  for (size_t i = 0; i < half; ++i)
    worst = std::max(worst, std::fabs(withPairs[i] - without[i]));
  ASSERT_GT(largest, 0.0f);
  EXPECT_LT(worst / largest, 1e-5f) << "worst " << worst << " of " << largest;
}

/// Why AMX's tiles cannot run here, or null.
const char *amxMissing() {
  llvm::StringMap<bool> f = llvm::sys::getHostCPUFeatures();
  if (!f.lookup("avx512f") || !f.lookup("amx-bf16"))
    return "this CPU has no AMX-BF16";
  if (!sora_amx_ready())
    return "the OS refused AMX's state";
  return nullptr;
}

TEST(Bf16Pairs, SameGradientsAsRoundedF32Products) {
  if (!hostHasBf16Pairs())
    GTEST_SKIP() << "this CPU has no AVX512_BF16";
  expectSameMoments(Kernels{true, false, kModel, 13});
}

// The stride-1 convolutions and input gradients on AMX tiles: channels in
// of 2 (A rows of one pair), 18 (a B tile of 9 rows), 16 and 32; 18, 20,
// 32 and 6 channels out (a block of one B tile, and a part of one);
// padding on every side, on none (b), and on one (d, kernel 2); flat rows
// past the image in the last block of each sample. The filter gradients of
// e (9 taps of one tile of 16 channels: an odd number of rows of tiles)
// and d (one tile of 6 filters: an odd number of columns) too, 13 samples
// copied 4 at a time.
TEST(Bf16Amx, SameGradientsAsRoundedF32Products) {
  if (const char *why = amxMissing())
    GTEST_SKIP() << why;
  expectSameMoments(Kernels{false, true, kModel, 13});
}

TEST(Bf16Amx, DenseLayersGiveTheRoundedF32Products) {
  if (const char *why = amxMissing())
    GTEST_SKIP() << why;
  expectSameMoments(Kernels{false, true, kDenseModel, 45});
}

} // namespace
