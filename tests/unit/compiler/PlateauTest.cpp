//===- PlateauTest.cpp - reduce_on_plateau's rate in the generated update -===//
//
// fit counts ReduceLROnPlateau's reductions in the optimizer state; the
// update kernels read the count and step with max(initial * factor^r,
// min_lr). A step with the count set to r must equal, bit for bit, a step
// of the same model whose rate is that number.
//
//===----------------------------------------------------------------------===//
#include "JitModel.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sora::jit {
namespace {

std::string model(const std::string &lr) {
  return R"(
model m {
    input x : f32[6]
    h = dense(x, 5, activation: tanh)
    output p = dense(h, 3, activation: softmax)
}
train m {
    loss = categorical_crossentropy
    metrics = [accuracy]
    validation_split = 0.2
    optimizer = sgd(lr: )" +
         lr + R"()
    batch_size = 8
})";
}

/// The parameters after one train step of `jm` from `params`, with the
/// reductions count (if the model has one) set to `reductions`.
std::vector<float> step(const JitModel &jm, std::vector<float> params,
                        float reductions) {
  const sora_model_desc &d = *jm.desc;
  std::vector<float> state(d.opt_state_floats, 0.0f);
  if (const ir::ParamSlot *r = jm.cm.layout.find(ir::kLrReductions))
    state[r->offset] = reductions;
  std::vector<char> scratch(d.scratch_bytes + 64);
  Batch batch = randomBatch(d, 8, 5);
  double stats[SORA_NUM_STATS];
  d.train_step(params.data(), state.data(), scratch.data(), batch.x.data(),
               batch.y.data(), batch.n, 1, stats);
  return params;
}

TEST(Plateau, TheUpdateUsesTheReducedRate) {
  auto plateau = compile(model("reduce_on_plateau(initial: 0.1, factor: 0.5, "
                               "min_lr: 0.01, patience: 2)"));
  ASSERT_TRUE(plateau);
  const sora_model_desc &d = *plateau->desc;
  ASSERT_TRUE(d.plateau);
  EXPECT_STREQ(d.plateau->monitor, "val_loss");
  EXPECT_EQ(d.plateau->patience, 2);
  const ir::ParamSlot *r = plateau->cm.layout.find(ir::kLrReductions);
  ASSERT_TRUE(r);
  EXPECT_EQ(d.plateau->state_offset, r->offset);
  EXPECT_LT(r->offset, d.opt_state_floats);

  sora_model *instance;
  ASSERT_EQ(sora_model_create(&d, &instance), SORA_OK) << sora_last_error();
  std::vector<float> params(sora_model_params(instance),
                            sora_model_params(instance) + d.params_floats);
  sora_model_destroy(instance);

  // r = 0: the initial rate; r = 2: 0.1 * 0.5^2; r = 10: min_lr.
  for (auto [reductions, rate] :
       {std::pair<float, const char *>{0, "0.1"}, {2, "0.025"}, {10, "0.01"}}) {
    auto constant = compile(model(rate));
    ASSERT_TRUE(constant);
    std::vector<float> a = step(*plateau, params, reductions);
    std::vector<float> b = step(*constant, params, 0);
    EXPECT_EQ(a, b) << "reductions " << reductions << ", rate " << rate;
    EXPECT_NE(a, params);
  }
}

} // namespace
} // namespace sora::jit
