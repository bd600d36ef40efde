//===- model_test.cpp - Model instances -----------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

/// Creates a model from `desc` and clears the kernel call log.
struct Model {
  explicit Model(const sora_model_desc &d) : desc(d) {
    EXPECT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
    calls().clear();
  }
  ~Model() { sora_model_destroy(m); }
  std::vector<float> params() const {
    const float *p = sora_model_params(m);
    return std::vector<float>(p, p + desc.params_floats);
  }
  sora_model_desc desc;
  sora_model *m = nullptr;
};

/// `n` input rows whose x[0] is the row index, labels one-hot of index % 3.
struct Rows {
  explicit Rows(int64_t n) : x(n * kInput), y(n * kLabel) {
    for (int64_t i = 0; i < n; ++i) {
      x[i * kInput] = static_cast<float>(i);
      y[i * kLabel + i % 3] = 1;
    }
  }
  std::vector<float> x, y;
};

TEST(Model, CreateDescribeDestroy) {
  Model model(fake_desc(nullptr));
  ASSERT_NE(model.m, nullptr);
  EXPECT_EQ(sora_model_describe(model.m), &model.desc);
  EXPECT_EQ(sora_model_step(model.m), 0);
  sora_model_destroy(nullptr);
}

TEST(Model, GlorotRangeAndZeros) {
  Model model(fake_desc(nullptr));
  std::vector<float> p = model.params();
  float limit = std::sqrt(6.0f / (4 + 3));
  bool all_same = true;
  for (int i = 0; i < 12; ++i) {
    EXPECT_GE(p[i], -limit);
    EXPECT_LT(p[i], limit);
    all_same &= p[i] == p[0];
  }
  EXPECT_FALSE(all_same);
  for (int i = 12; i < 15; ++i)
    EXPECT_EQ(p[i], 0.0f);
}

TEST(Model, GlorotDistribution) {
  // A large tensor: values cover the whole range, mean near 0.
  sora_param_desc big = {
      "w", 0,    100000, 2, {1000, 100, 0, 0}, SORA_INIT_GLOROT_UNIFORM,
      100, 1000, 0.0};
  sora_model_desc d = fake_desc(nullptr);
  d.params = &big;
  d.num_params = 1;
  d.params_floats = big.size;
  Model model(d);
  std::vector<float> p = model.params();
  double limit = std::sqrt(6.0 / 1100), sum = 0, lo = 1, hi = -1;
  for (float v : p) {
    sum += v;
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
  }
  EXPECT_NEAR(sum / p.size(), 0.0, limit * 0.01);
  EXPECT_NEAR(lo, -limit, limit * 0.001);
  EXPECT_NEAR(hi, limit, limit * 0.001);
  EXPECT_LT(hi, limit);
}

TEST(Model, InitIsDeterministicPerSeed) {
  Model a(fake_desc(nullptr)), b(fake_desc(nullptr));
  EXPECT_EQ(a.params(), b.params()); // both from the train block's seed, 42
  std::vector<float> from42 = a.params();

  ASSERT_EQ(sora_model_init(a.m, 7), SORA_OK);
  EXPECT_NE(a.params(), from42);
  ASSERT_EQ(sora_model_init(b.m, 7), SORA_OK);
  EXPECT_EQ(a.params(), b.params());
  ASSERT_EQ(sora_model_init(a.m, 42), SORA_OK);
  EXPECT_EQ(a.params(), from42);

  // Without a train block the seed is 0.
  sora_model_desc d = fake_desc(nullptr);
  d.has_train = 0;
  Model c(d);
  ASSERT_EQ(sora_model_init(a.m, 0), SORA_OK);
  EXPECT_EQ(c.params(), a.params());
}

TEST(Model, ParamValuesDependOnlyOnSeedAndIndex) {
  // Growing the first tensor must not change the second one's values.
  sora_param_desc small[] = {
      {"a", 0, 3, 1, {3}, SORA_INIT_GLOROT_UNIFORM, 2, 2, 0.0},
      {"b", 3, 5, 1, {5}, SORA_INIT_GLOROT_UNIFORM, 2, 2, 0.0}};
  sora_param_desc large[] = {
      {"a", 0, 9, 1, {9}, SORA_INIT_GLOROT_UNIFORM, 2, 2, 0.0},
      {"b", 9, 5, 1, {5}, SORA_INIT_GLOROT_UNIFORM, 2, 2, 0.0}};
  sora_model_desc d1 = fake_desc(nullptr), d2 = fake_desc(nullptr);
  d1.params = small;
  d1.params_floats = 8;
  d2.params = large;
  d2.params_floats = 14;
  Model m1(d1), m2(d2);
  std::vector<float> p1 = m1.params(), p2 = m2.params();
  EXPECT_EQ(std::vector<float>(p1.begin() + 3, p1.end()),
            std::vector<float>(p2.begin() + 9, p2.end()));
  EXPECT_EQ(std::vector<float>(p1.begin(), p1.begin() + 3),
            std::vector<float>(p2.begin(), p2.begin() + 3));
}

TEST(Model, InitClearsOptimizerStateAndStep) {
  Model model(fake_desc(nullptr));
  Rows rows(2);
  ASSERT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 2, nullptr),
      SORA_OK);
  EXPECT_EQ(sora_model_step(model.m), 1);
  ASSERT_EQ(sora_model_init(model.m, 1), SORA_OK);
  EXPECT_EQ(sora_model_step(model.m), 0);
  ASSERT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 2, nullptr),
      SORA_OK);
  EXPECT_EQ(calls().back().step, 1);
}

TEST(Model, BadDescriptions) {
  sora_model *m = reinterpret_cast<sora_model *>(1);
  sora_model_desc d = fake_desc(nullptr);
  d.max_batch = 0;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  EXPECT_EQ(m, nullptr);

  sora_param_desc outside = {"w", 10, 10, 1, {10}, SORA_INIT_ZEROS, 1, 1, 0.0};
  d = fake_desc(nullptr);
  d.params = &outside;
  d.num_params = 1;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  EXPECT_NE(std::string(sora_last_error()).find("'w'"), std::string::npos);

  sora_param_desc unknown = {"w", 0, 10, 1, {10}, 9, 1, 1, 0.0};
  d.params = &unknown;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);

  sora_param_desc no_fan = {"w", 0, 10, 1, {10}, SORA_INIT_GLOROT_UNIFORM,
                            0,   0, 0.0};
  d.params = &no_fan;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_create(nullptr, &m), SORA_ERR_ARGUMENT);
}

TEST(Model, TrainStepCountsStepsAndMeansLoss) {
  Model model(fake_desc(nullptr));
  Rows rows(4);
  float loss = -1;
  ASSERT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 4, &loss),
      SORA_OK);
  EXPECT_FLOAT_EQ(loss, (0 + 1 + 2 + 3) / 4.0f);
  ASSERT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 3, &loss),
      SORA_OK);
  EXPECT_FLOAT_EQ(loss, 1.0f);
  ASSERT_EQ(calls().size(), 2u);
  EXPECT_EQ(calls()[0].step, 1); // counted before the kernel runs
  EXPECT_EQ(calls()[1].step, 2);
  EXPECT_EQ(calls()[1].n, 3);
  EXPECT_EQ(sora_model_step(model.m), 2);
  EXPECT_EQ(sora_model_params(model.m)[0], model.params()[0]);

  // n must be 1..max_batch; a failed call takes no step.
  EXPECT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 5, &loss),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 0, &loss),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_step(model.m), 2);
}

TEST(Model, InferenceOnlyCannotTrain) {
  sora_model_desc d = fake_desc(nullptr);
  d.has_train = 0;
  d.train_step = nullptr;
  d.evaluate = nullptr;
  Model model(d);
  Rows rows(1);
  sora_metrics metrics;
  EXPECT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 1, nullptr),
      SORA_ERR_STATE);
  EXPECT_EQ(
      sora_model_evaluate(model.m, rows.x.data(), rows.y.data(), 1, &metrics),
      SORA_ERR_STATE);
  EXPECT_EQ(sora_model_fit(model.m, nullptr, nullptr), SORA_ERR_STATE);
}

TEST(Model, PredictChunksByMaxBatch) {
  Model model(fake_desc(nullptr)); // max_batch 4
  Rows rows(10);
  std::vector<float> y(10 * kOutput, 0);
  ASSERT_EQ(sora_model_predict(model.m, rows.x.data(), 10, y.data()), SORA_OK);
  ASSERT_EQ(calls().size(), 3u);
  EXPECT_EQ(calls()[0].n, 4);
  EXPECT_EQ(calls()[1].n, 4);
  EXPECT_EQ(calls()[2].n, 2);
  EXPECT_EQ(calls()[2].samples, (std::vector<int64_t>{8, 9}));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(y[i * kOutput], 2.0f * i);
    EXPECT_EQ(y[i * kOutput + 1], -1.0f);
  }
  calls().clear();
  EXPECT_EQ(sora_model_predict(model.m, nullptr, 0, nullptr), SORA_OK);
  EXPECT_TRUE(calls().empty());
}

#if defined(__x86_64__) || defined(__i386__)
// The kernels run with subnormals flushed to zero (MXCSR's FTZ and DAZ);
// the caller's own controls, here IEEE's gradual underflow, come back (the
// exception flags, bits 0-5, are sticky: any inexact result sets one).
TEST(Model, KernelsFlushSubnormalsAndCallersKeepTheirState) {
  constexpr unsigned kFtzDaz = 0x8040;
  const unsigned before = _mm_getcsr();
  _mm_setcsr(before & ~kFtzDaz);
  const unsigned caller = _mm_getcsr();
  Model model(fake_desc(nullptr));
  Rows rows(4);
  std::vector<float> y(4 * kOutput);
  float loss;
  sora_metrics metrics;
  ASSERT_EQ(sora_model_predict(model.m, rows.x.data(), 4, y.data()), SORA_OK);
  ASSERT_EQ(
      sora_model_train_step(model.m, rows.x.data(), rows.y.data(), 4, &loss),
      SORA_OK);
  ASSERT_EQ(
      sora_model_evaluate(model.m, rows.x.data(), rows.y.data(), 4, &metrics),
      SORA_OK);
  const unsigned after = _mm_getcsr();
  _mm_setcsr(before);
  constexpr unsigned kFlags = 0x3f;
  EXPECT_EQ(after & ~kFlags, caller & ~kFlags);
  ASSERT_EQ(calls().size(), 3u);
  for (const Call &c : calls())
    EXPECT_EQ(c.fp_state & kFtzDaz, kFtzDaz) << c.kind;
}
#endif

TEST(Model, EvaluateChunksAndAverages) {
  Model model(fake_desc(nullptr));
  Rows rows(9);
  sora_metrics metrics;
  ASSERT_EQ(
      sora_model_evaluate(model.m, rows.x.data(), rows.y.data(), 9, &metrics),
      SORA_OK);
  ASSERT_EQ(calls().size(), 3u);
  EXPECT_EQ(calls()[2].n, 1);
  for (const Call &c : calls())
    EXPECT_TRUE(c.labels_match);
  EXPECT_DOUBLE_EQ(metrics.loss, 36.0 / 9); // mean of 0..8
  EXPECT_DOUBLE_EQ(metrics.accuracy, 5.0 / 9);
  EXPECT_EQ(metrics.count, 9);
  EXPECT_EQ(sora_model_step(model.m), 0); // evaluation takes no step

  ASSERT_EQ(sora_model_evaluate(model.m, nullptr, nullptr, 0, &metrics),
            SORA_OK);
  EXPECT_EQ(metrics.count, 0);
  EXPECT_TRUE(std::isnan(metrics.loss));
}

TEST(Model, ArgmaxTakesTheFirstLargest) {
  const float row[] = {-3.0f, 0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(sora_argmax(row, 5), 2); // the first of the two 2s
  EXPECT_EQ(sora_argmax(row, 2), 1);
  EXPECT_EQ(sora_argmax(row, 1), 0);
  EXPECT_EQ(sora_argmax(row, 0), -1);
  const float negative[] = {-5.0f, -4.0f, -6.0f};
  EXPECT_EQ(sora_argmax(negative, 3), 1);
}

} // namespace
