//===- validation_scaling_test.cpp - validation data, input scaling ------===//
//
// sora_model_fit with the train block's `validation` source (evaluated
// instead of a split; --limit leaves it whole) and with `standardize:` /
// `normalize:` (the inputs' scale and shift parameters set from the
// training rows of a fresh instance).
//
//===----------------------------------------------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

class Validation : public ::testing::Test {
protected:
  void make(uint32_t count) {
    write_index_dataset(dir, "x.idx", "y.idx", count);
    ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
    calls().clear();
  }
  void TearDown() override { sora_model_destroy(m); }

  static sora_fit_options quiet() {
    sora_fit_options o = sora_fit_defaults();
    o.verbose = 0;
    o.callback = [](const sora_epoch_report *r, void *user) {
      static_cast<std::vector<sora_epoch_report> *>(user)->push_back(*r);
      return 0;
    };
    return o;
  }
  sora_status fit(sora_fit_options o) {
    o.user = &reports;
    return sora_model_fit(m, nullptr, &o);
  }

  /// The samples of the calls of one kind, in order.
  static std::vector<int64_t> samples(char kind) {
    std::vector<int64_t> out;
    for (const Call &c : calls())
      if (c.kind == kind)
        out.insert(out.end(), c.samples.begin(), c.samples.end());
    return out;
  }

  TempDir dir;
  sora_model_desc desc = fake_desc(dir.path().c_str());
  sora_model *m = nullptr;
  std::vector<sora_epoch_report> reports;
};

TEST_F(Validation, TheSourceIsEvaluatedAfterEachEpoch) {
  write_index_dataset(dir, "vx.idx", "vy.idx", 5);
  desc.validation = idx_source("vx.idx", "vy.idx");
  desc.epochs = 1;
  make(8);
  ASSERT_EQ(fit(quiet()), SORA_OK) << sora_last_error();
  // Every data sample is trained on; the validation file's are evaluated.
  std::vector<int64_t> trained = samples('t');
  EXPECT_EQ(trained, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(samples('e'), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  for (const Call &c : calls())
    EXPECT_TRUE(c.labels_match);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_DOUBLE_EQ(reports[0].val_loss, 2.0);         // mean of 0..4
  EXPECT_DOUBLE_EQ(reports[0].val_accuracy, 3.0 / 5); // 0, 2, 4
}

TEST_F(Validation, LimitAppliesToTheTrainingDataOnly) {
  write_index_dataset(dir, "vx.idx", "vy.idx", 5);
  desc.validation = idx_source("vx.idx", "vy.idx");
  desc.epochs = 1;
  make(8);
  sora_fit_options o = quiet();
  o.limit = 3;
  ASSERT_EQ(fit(o), SORA_OK) << sora_last_error();
  EXPECT_EQ(samples('t'), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(samples('e'), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST_F(Validation, NotWithASplit) {
  write_index_dataset(dir, "vx.idx", "vy.idx", 5);
  desc.validation = idx_source("vx.idx", "vy.idx");
  desc.validation_split = 0.25;
  make(8);
  EXPECT_EQ(fit(quiet()), SORA_ERR_ARGUMENT);
  EXPECT_NE(std::string(sora_last_error()).find("validation data of its own"),
            std::string::npos)
      << sora_last_error();
  EXPECT_TRUE(calls().empty());
  // An override of 0 is no split; one above 0 is.
  sora_fit_options o = quiet();
  o.validation_split = 0;
  EXPECT_EQ(fit(o), SORA_OK) << sora_last_error();
  desc.validation_split = 0;
  o.validation_split = 0.5;
  EXPECT_EQ(fit(o), SORA_ERR_ARGUMENT);
}

TEST_F(Validation, AMissingFileFailsBeforeTraining) {
  desc.validation = idx_source("missing.idx", "vy.idx");
  make(8);
  EXPECT_EQ(fit(quiet()), SORA_ERR_IO);
  EXPECT_NE(std::string(sora_last_error()).find("missing.idx"),
            std::string::npos);
  EXPECT_TRUE(calls().empty());
}

/// The fake model with an input "x" of 4 floats scaled by "x.scale" and
/// "x.shift" (after the dense weight and bias), over "data.csv".
class Scaling : public Validation {
protected:
  void SetUp() override {
    params_.assign(fake_params(), fake_params() + 2);
    params_.push_back(
        {"x.scale", 15, 4, 1, {4, 0, 0, 0}, SORA_INIT_ONES, 0, 0, 0.0});
    params_.push_back(
        {"x.shift", 19, 4, 1, {4, 0, 0, 0}, SORA_INIT_ZEROS, 0, 0, 0.0});
    desc.params = params_.data();
    desc.num_params = int64_t(params_.size());
    desc.params_floats = 23;
    desc.num_inputs = 1;
    desc.inputs = &input_;
    desc.data = csv_source("data.csv", 4);
    desc.epochs = 1;
  }

  /// Rows 0-2: the training rows of a split of 0.5; rows 3-5 would change
  /// every statistic if they counted. Column 1 is constant.
  void make_csv() {
    std::ofstream(dir.file("data.csv")) << "1,7,0,-2,0\n"
                                           "2,7,10,0,1\n"
                                           "3,7,20,2,2\n"
                                           "100,50,1000,9,0\n"
                                           "90,40,900,8,1\n"
                                           "80,30,800,7,2\n";
    ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
  }

  void expect_params(const char *what, const std::vector<float> &expected) {
    const float *p = sora_model_params(m);
    int64_t offset = std::string(what) == "scale" ? 15 : 19;
    for (size_t j = 0; j < expected.size(); ++j)
      EXPECT_NEAR(p[offset + j], expected[j], 1e-6)
          << "x." << what << "[" << j << "]";
  }

  sora_input_desc input_{"x", 0, 4, 0, 0};
  std::vector<sora_param_desc> params_;
};

TEST_F(Scaling, StandardizeByTheTrainingRows) {
  desc.data.scaling = SORA_SCALE_STANDARDIZE;
  desc.validation_split = 0.5;
  make_csv();
  // Identity until a fit sets them.
  expect_params("scale", {1, 1, 1, 1});
  expect_params("shift", {0, 0, 0, 0});
  ASSERT_EQ(fit(quiet()), SORA_OK) << sora_last_error();
  // Population std: sqrt(2/3), 1 (constant: only centred), sqrt(200/3),
  // sqrt(8/3).
  double s0 = 1 / std::sqrt(2.0 / 3), s2 = 1 / std::sqrt(200.0 / 3),
         s3 = 1 / std::sqrt(8.0 / 3);
  expect_params("scale", {float(s0), 1, float(s2), float(s3)});
  expect_params("shift", {float(-2 * s0), -7, float(-10 * s2), 0});
}

TEST_F(Scaling, NormalizeByTheTrainingRows) {
  desc.data.scaling = SORA_SCALE_NORMALIZE;
  desc.validation_split = 0.5;
  make_csv();
  ASSERT_EQ(fit(quiet()), SORA_OK) << sora_last_error();
  expect_params("scale", {0.5f, 1, 0.05f, 0.25f});
  expect_params("shift", {-0.5f, -7, 0, 0.5f});
}

TEST_F(Scaling, AfterTheLimit) {
  desc.data.scaling = SORA_SCALE_NORMALIZE;
  make_csv();
  sora_fit_options o = quiet();
  o.limit = 2;
  ASSERT_EQ(fit(o), SORA_OK) << sora_last_error();
  expect_params("scale", {1, 1, 0.1f, 0.5f});
  expect_params("shift", {-1, -7, 0, 1});
}

TEST_F(Scaling, OnlyAFreshInstanceComputesThem) {
  desc.data.scaling = SORA_SCALE_NORMALIZE;
  desc.validation_split = 0.5;
  make_csv();
  ASSERT_EQ(fit(quiet()), SORA_OK) << sora_last_error();
  // A later fit (a resumed run, a loaded checkpoint) keeps them.
  float *p = sora_model_params(m);
  p[15] = 42;
  sora_fit_options o = quiet();
  o.epochs = 2;
  ASSERT_EQ(fit(o), SORA_OK) << sora_last_error();
  EXPECT_EQ(p[15], 42);
  // Re-initialised weights start afresh.
  ASSERT_EQ(sora_model_init(m, 1), SORA_OK);
  ASSERT_EQ(fit(quiet()), SORA_OK) << sora_last_error();
  EXPECT_EQ(p[15], 0.5f);
}

TEST_F(Scaling, IdsAreNotScaled) {
  // ids (column 0) then three floats; only the floats have parameters.
  sora_input_desc inputs[] = {{"ids", 0, 1, 1, 0}, {"x", 1, 3, 0, 0}};
  desc.num_inputs = 2;
  desc.inputs = inputs;
  params_[2].size = params_[3].size = 3;
  params_[2].shape[0] = params_[3].shape[0] = 3;
  desc.data.scaling = SORA_SCALE_NORMALIZE;
  desc.validation_split = 0.5;
  make_csv();
  ASSERT_EQ(fit(quiet()), SORA_OK) << sora_last_error();
  expect_params("scale", {1, 0.05f, 0.25f});
  expect_params("shift", {-7, 0, 0.5f});
}

TEST_F(Scaling, WithoutItsParametersIsAnError) {
  desc.data.scaling = SORA_SCALE_STANDARDIZE;
  desc.num_params = 2; // no x.scale, x.shift
  make_csv();
  EXPECT_EQ(fit(quiet()), SORA_ERR_STATE);
  EXPECT_NE(std::string(sora_last_error()).find("'x.scale'"), std::string::npos)
      << sora_last_error();
}

} // namespace
