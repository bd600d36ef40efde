//===- watch_test.cpp - Keras' EarlyStopping and ReduceLROnPlateau in fit -===//
//
// A model whose validation loss (or accuracy) follows a recorded curve, one
// value an epoch: the train kernel counts its steps in the bias (one step an
// epoch), the evaluate kernel reports the curve's value at that count. The
// expected epochs are Keras' EarlyStopping.on_epoch_end applied by hand to
// the curves (keras/src/callbacks/early_stopping.py, Keras 3):
//
//   wait += 1
//   if monitor_op(current - min_delta, best):   # min_delta negated for "min"
//       best, best_epoch, best_weights = current, epoch, weights; wait = 0
//   elif wait >= patience and epoch > 0: stop
//   on_train_end: restore best_weights if restore_best_weights
//
//===----------------------------------------------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

/// The validation values of epochs 1, 2, ... (a curve recorded from a small
/// MLP overfitting: it falls, levels off, wobbles and rises).
std::vector<double> &curve() {
  static std::vector<double> c;
  return c;
}

constexpr int64_t kCounter = 12; // the bias's first float counts the steps

/// The optimizer state the last kernel call received.
float *g_opt_state = nullptr;

void counting_train(float *params, float *opt_state, void *, const float *,
                    const float *, int64_t, int64_t, void *out) {
  g_opt_state = opt_state;
  params[kCounter] += 1.0f;
  auto *stats = static_cast<double *>(out);
  for (int i = 0; i < SORA_NUM_STATS; ++i)
    stats[i] = 0;
}

/// Every validation sample scores the curve's value at the epoch trained so
/// far, as loss and as "correct" (so val_accuracy is the curve too).
void curve_evaluate(float *params, float *, void *, const float *,
                    const float *, int64_t n, int64_t, void *out) {
  auto epoch = static_cast<size_t>(params[kCounter]);
  double value = curve().at(epoch - 1);
  auto *stats = static_cast<double *>(out);
  for (int i = 0; i < SORA_NUM_STATS; ++i)
    stats[i] = 0;
  stats[SORA_STAT_LOSS] = value * static_cast<double>(n);
  stats[SORA_STAT_CORRECT] = value * static_cast<double>(n);
}

class EarlyStopping : public ::testing::Test {
protected:
  /// Fits 8 training and 2 validation samples, one batch an epoch, for the
  /// curve's epochs, watched as `desc` says.
  sora_status fit_curve() {
    write_index_dataset(dir, "x.idx", "y.idx", 10);
    desc.train_step = counting_train;
    desc.evaluate = curve_evaluate;
    desc.batch_size = 8;
    desc.max_batch = 8;
    desc.validation_split = 0.2;
    desc.accuracy_kind = SORA_ACCURACY_CATEGORICAL;
    EXPECT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
    sora_fit_options o = sora_fit_defaults();
    o.epochs = static_cast<int64_t>(curve().size());
    o.callback = record;
    o.user = this;
    ::testing::internal::CaptureStdout();
    sora_status status = sora_model_fit(m, nullptr, &o);
    printed = ::testing::internal::GetCapturedStdout();
    return status;
  }

  /// fit_curve watched by early stopping `es`.
  sora_status fit(const sora_early_stopping &es) {
    desc.early_stopping = &es;
    return fit_curve();
  }

  void TearDown() override { sora_model_destroy(m); }

  /// Keeps each epoch's report and the count of learning-rate reductions
  /// (reduce_on_plateau's, in the optimizer state's last float).
  static int record(const sora_epoch_report *r, void *user) {
    auto *self = static_cast<EarlyStopping *>(user);
    self->reports.push_back(*r);
    self->reductions.push_back(g_opt_state[29]);
    return 0;
  }

  /// The epoch whose weights the instance holds (its step counter).
  int64_t weights_epoch() const {
    return static_cast<int64_t>(sora_model_params(m)[kCounter]);
  }

  TempDir dir;
  sora_model_desc desc = fake_desc(dir.path().c_str());
  sora_model *m = nullptr;
  std::vector<sora_epoch_report> reports;
  std::vector<float> reductions;
  std::string printed;
};

const std::vector<double> kValLoss = {0.520, 0.430, 0.401, 0.399, 0.405,
                                      0.398, 0.402, 0.410, 0.395, 0.420};

TEST_F(EarlyStopping, StopsWhereKerasDoesAndRestoresTheBestEpoch) {
  // min_delta 0.005: epoch 4's 0.399 is no improvement on epoch 3's 0.401;
  // epochs 4, 5 and 6 wait, and patience 3 stops after epoch 6.
  curve() = kValLoss;
  sora_early_stopping es = {"val_loss", 3, 0.005, 1};
  ASSERT_EQ(fit(es), SORA_OK) << sora_last_error();
  ASSERT_EQ(reports.size(), 6u);
  EXPECT_EQ(reports.back().stopping, 1);
  EXPECT_EQ(reports.back().best_epoch, 3);
  EXPECT_EQ(sora_model_epoch(m), 6);
  EXPECT_EQ(weights_epoch(), 3) << "the best epoch's weights are restored";
  EXPECT_NE(printed.find("Epoch 6: early stopping: val_loss has not improved "
                         "on 0.4010 (epoch 3) for 3 epochs"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("Restoring the weights of epoch 3"), std::string::npos)
      << printed;
}

TEST_F(EarlyStopping, WithoutRestoreKeepsTheLastWeights) {
  curve() = kValLoss;
  sora_early_stopping es = {"val_loss", 3, 0.005, 0};
  ASSERT_EQ(fit(es), SORA_OK) << sora_last_error();
  EXPECT_EQ(reports.size(), 6u);
  EXPECT_EQ(weights_epoch(), 6);
}

TEST_F(EarlyStopping, EveryImprovementCountsWithoutMinDelta) {
  // Improvements at epochs 4, 6 and 9 keep the wait below 3: no stop, and
  // Keras 3 still restores the best epoch (9) when training ends.
  curve() = kValLoss;
  sora_early_stopping es = {"val_loss", 3, 0.0, 1};
  ASSERT_EQ(fit(es), SORA_OK) << sora_last_error();
  ASSERT_EQ(reports.size(), 10u);
  EXPECT_EQ(reports.back().stopping, 0);
  EXPECT_EQ(reports.back().best_epoch, 9);
  EXPECT_EQ(weights_epoch(), 9);
}

TEST_F(EarlyStopping, PatienceOneStopsAtTheFirstEpochWithoutImprovement) {
  curve() = kValLoss;
  sora_early_stopping es = {"val_loss", 1, 0.0, 0};
  ASSERT_EQ(fit(es), SORA_OK) << sora_last_error();
  EXPECT_EQ(reports.size(), 5u); // 0.405 after 0.399
  EXPECT_EQ(reports.back().best_epoch, 4);
}

TEST_F(EarlyStopping, AccuracyIsMaximised) {
  // Higher is better: 0.6, 0.7, 0.72 improve; 0.71, 0.70 do not.
  curve() = {0.6, 0.7, 0.72, 0.71, 0.70, 0.75};
  sora_early_stopping es = {"val_accuracy", 2, 0.0, 1};
  ASSERT_EQ(fit(es), SORA_OK) << sora_last_error();
  EXPECT_EQ(reports.size(), 5u);
  EXPECT_EQ(reports.back().best_epoch, 3);
  EXPECT_EQ(weights_epoch(), 3);
}

TEST_F(EarlyStopping, ANaNNeverImproves) {
  curve() = {0.5, NAN, NAN, 0.4};
  sora_early_stopping es = {"val_loss", 2, 0.0, 1};
  ASSERT_EQ(fit(es), SORA_OK) << sora_last_error();
  EXPECT_EQ(reports.size(), 3u);
  EXPECT_EQ(weights_epoch(), 1);
}

TEST_F(EarlyStopping, AValidationMonitorNeedsValidationData) {
  curve() = kValLoss;
  sora_early_stopping es = {"val_loss", 3, 0.0, 0};
  desc.validation_split = 0;
  write_index_dataset(dir, "x.idx", "y.idx", 10);
  desc.early_stopping = &es;
  ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK);
  sora_fit_options o = sora_fit_defaults();
  o.verbose = 0;
  o.validation_split = 0;
  EXPECT_EQ(sora_model_fit(m, nullptr, &o), SORA_ERR_STATE);
  EXPECT_NE(std::string(sora_last_error()).find("no validation data"),
            std::string::npos)
      << sora_last_error();
}

TEST_F(EarlyStopping, AnUnknownMonitorIsRefused) {
  curve() = kValLoss;
  sora_early_stopping es = {"val_los", 3, 0.0, 0};
  EXPECT_EQ(fit(es), SORA_ERR_STATE);
  EXPECT_NE(std::string(sora_last_error()).find("'val_los'"), std::string::npos)
      << sora_last_error();
}

/// ReduceLROnPlateau on the same curves.
using Plateau = EarlyStopping;

TEST_F(Plateau, ReducesWhereKerasDoes) {
  // min_delta 0.005, patience 2, cooldown 1 (Keras' on_epoch_end by hand):
  // epochs 1-3 improve; 4 and 5 wait: reduce after 5, cooldown through 6;
  // 7 and 8 wait: reduce after 8, cooldown through 9 (which improves on
  // 0.401 - 0.005: 0.395 is the new best); 10 waits.
  curve() = kValLoss;
  sora_plateau p = {"val_loss", 2, 0.005, 1, 0.1, 0.5, 0.0, 29};
  desc.plateau = &p;
  ASSERT_EQ(fit_curve(), SORA_OK) << sora_last_error();
  EXPECT_EQ(reductions, (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}));
  EXPECT_NE(printed.find("Epoch 5: reduce_on_plateau: val_loss has not "
                         "improved on 0.4010 for 2 epochs: learning rate "
                         "0.1 -> 0.05"),
            std::string::npos)
      << printed;
}

TEST_F(Plateau, StopsReducingAtMinLr) {
  // A rising curve with patience 1 reduces after epoch 2: 0.1 -> 0.05,
  // which is min_lr, so no more after.
  curve() = {0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  sora_plateau p = {"val_loss", 1, 0.0, 0, 0.1, 0.5, 0.05, 29};
  desc.plateau = &p;
  ASSERT_EQ(fit_curve(), SORA_OK) << sora_last_error();
  EXPECT_EQ(reductions, (std::vector<float>{0, 1, 1, 1, 1, 1}));
}

} // namespace
