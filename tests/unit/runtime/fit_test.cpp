//===- fit_test.cpp - The training loop -----------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

int stop_after_two(const sora_epoch_report *r, void *user) {
  ++*static_cast<int *>(user);
  return r->epoch == 2;
}

class Fit : public ::testing::Test {
protected:
  /// Writes a data set of `count` samples and creates the model over it.
  void make(uint32_t count) {
    write_index_dataset(dir, "x.idx", "y.idx", count);
    ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
    calls().clear();
  }

  void TearDown() override { sora_model_destroy(m); }

  /// Runs fit quietly (unless `o` says otherwise), recording the reports.
  sora_status fit(sora_fit_options o) {
    o.callback = o.callback ? o.callback : record_report;
    o.user = o.user ? o.user : &reports;
    return sora_model_fit(m, nullptr, &o);
  }
  sora_status fit() { return fit(quiet()); }

  /// Runs fit as `fit(o)` does, capturing what it prints into `*out`.
  sora_status fit_printing(sora_fit_options o, std::string *out) {
    ::testing::internal::CaptureStdout();
    sora_status st = fit(o);
    *out = ::testing::internal::GetCapturedStdout();
    return st;
  }

  /// Options that print nothing; `epochs` as sora_fit_options.epochs.
  static sora_fit_options quiet(int64_t epochs = 0) {
    sora_fit_options o = sora_fit_defaults();
    o.verbose = 0;
    o.epochs = epochs;
    return o;
  }

  /// Fits up to 10 epochs with a callback that stops after epoch 2 and
  /// counts its calls in `*called`.
  sora_status fit_stopping_after_two(int *called) {
    sora_fit_options o = quiet(10);
    o.callback = stop_after_two;
    o.user = called;
    return fit(o);
  }

  /// Fits with the default options (printing, into `*out`), the test
  /// metrics into `*test`.
  sora_status fit_with_test(sora_metrics *test, std::string *out) {
    sora_fit_options o = sora_fit_defaults();
    *test = {};
    o.test = test;
    return fit_printing(o, out);
  }

  /// Gives the model a test set of 5 samples ("tx.idx", "ty.idx").
  void add_test_set() {
    write_index_dataset(dir, "tx.idx", "ty.idx", 5);
    desc.test = idx_source("tx.idx", "ty.idx");
  }

  static int record_report(const sora_epoch_report *r, void *user) {
    static_cast<std::vector<sora_epoch_report> *>(user)->push_back(*r);
    return 0;
  }

  /// The calls of one kind, in order.
  static std::vector<Call> of_kind(char kind) {
    std::vector<Call> out;
    for (const Call &c : calls())
      if (c.kind == kind)
        out.push_back(c);
    return out;
  }

  /// The samples the train calls of epoch `epoch` (from 1) saw, in order,
  /// given `per_epoch` batches per epoch.
  static std::vector<int64_t> epoch_samples(int epoch, size_t per_epoch) {
    std::vector<Call> train = of_kind('t');
    std::vector<int64_t> out;
    for (size_t i = (epoch - 1) * per_epoch; i < epoch * per_epoch; ++i)
      out.insert(out.end(), train.at(i).samples.begin(),
                 train.at(i).samples.end());
    return out;
  }

  TempDir dir;
  sora_model_desc desc = fake_desc(dir.path().c_str());
  sora_model *m = nullptr;
  std::vector<sora_epoch_report> reports;
};

TEST_F(Fit, Defaults) {
  sora_fit_options o = sora_fit_defaults();
  EXPECT_EQ(o.epochs, 0);
  EXPECT_EQ(o.limit, 0);
  EXPECT_EQ(o.verbose, 1);
  EXPECT_EQ(o.callback, nullptr);
  EXPECT_EQ(o.test, nullptr);
}

TEST_F(Fit, BatchesWithPartialLastAndCountsSteps) {
  make(10); // batch_size 4, 2 epochs, no split, no shuffle
  ASSERT_EQ(fit(), SORA_OK) << sora_last_error();
  std::vector<Call> train = of_kind('t');
  ASSERT_EQ(train.size(), 6u);
  std::vector<int64_t> ns, steps;
  for (const Call &c : train) {
    ns.push_back(c.n);
    steps.push_back(c.step);
    EXPECT_TRUE(c.labels_match); // the y rows travel with their x rows
  }
  EXPECT_EQ(ns, (std::vector<int64_t>{4, 4, 2, 4, 4, 2}));
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sora_model_step(m), 6);
  EXPECT_EQ(sora_model_params(m)[0] - 6.0f, [&] {
    sora_model *fresh;
    sora_model_create(&desc, &fresh);
    float v = sora_model_params(fresh)[0];
    sora_model_destroy(fresh);
    return v;
  }());
  // Without shuffling, samples come in order.
  std::vector<int64_t> order(10);
  std::iota(order.begin(), order.end(), 0);
  EXPECT_EQ(epoch_samples(1, 3), order);
  EXPECT_EQ(epoch_samples(2, 3), order);
  EXPECT_TRUE(of_kind('e').empty()); // nothing to validate

  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].epoch, 1);
  EXPECT_EQ(reports[1].epoch, 2);
  EXPECT_EQ(reports[1].epochs, 2);
  EXPECT_EQ(reports[0].steps, 3);
  EXPECT_DOUBLE_EQ(reports[0].loss, 4.5);     // mean of 0..9
  EXPECT_DOUBLE_EQ(reports[0].accuracy, 0.5); // even indices
  EXPECT_TRUE(std::isnan(reports[0].val_loss));
  EXPECT_TRUE(std::isnan(reports[0].val_accuracy));
  EXPECT_GE(reports[0].seconds, 0.0);
}

// fit gathers batch rows from the bytes the IDX load kept, converting them
// again: the kernels must see the loaded floats, bit for bit (0.1 is not a
// float, so a conversion in another precision would show).
TEST_F(Fit, BatchesHoldTheLoadedFloats) {
  desc.data.scale = 0.1;
  make(40);
  ASSERT_EQ(fit(quiet(1)), SORA_OK) << sora_last_error();
  sora_dataset ds = {};
  ASSERT_EQ(sora_dataset_load(&desc.data, nullptr, desc.source_dir, &ds),
            SORA_OK);
  int64_t rows = 0;
  for (const Call &c : of_kind('t'))
    for (int64_t r = 0; r < c.n; ++r, ++rows) {
      const float *got = c.x.data() + r * kInput;
      auto sample = std::lround(got[0] / 0.1);
      ASSERT_LT(sample, ds.count);
      EXPECT_EQ(std::memcmp(got, ds.x + sample * kInput, kInput * sizeof *got),
                0)
          << "sample " << sample;
    }
  EXPECT_EQ(rows, 40);
  sora_dataset_free(&ds);
}

TEST_F(Fit, ValidationSplitIsTheTail) {
  desc.validation_split = 0.25; // split_at = (int)(10 * 0.75) = 7
  desc.shuffle = 1;
  make(10);
  ASSERT_EQ(fit(), SORA_OK) << sora_last_error();
  for (int epoch = 1; epoch <= 2; ++epoch) {
    std::vector<int64_t> seen = epoch_samples(epoch, 2);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  }
  std::vector<Call> eval = of_kind('e');
  ASSERT_EQ(eval.size(), 2u); // one chunk per epoch
  EXPECT_EQ(eval[0].samples, (std::vector<int64_t>{7, 8, 9}));
  EXPECT_TRUE(eval[0].labels_match);
  EXPECT_EQ(eval[0].step, 2); // after the epoch's two steps
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].steps, 2);
  EXPECT_DOUBLE_EQ(reports[0].loss, 3.0); // mean of 0..6
  EXPECT_DOUBLE_EQ(reports[0].accuracy, 4.0 / 7);
  EXPECT_DOUBLE_EQ(reports[0].val_loss, 8.0);
  EXPECT_DOUBLE_EQ(reports[0].val_accuracy, 1.0 / 3); // only 8 is even
}

TEST_F(Fit, ValidationIsEvaluatedInChunks) {
  desc.validation_split = 0.5; // 5 validation samples, max_batch 4
  make(10);
  ASSERT_EQ(fit(), SORA_OK);
  std::vector<Call> eval = of_kind('e');
  ASSERT_EQ(eval.size(), 4u);
  EXPECT_EQ(eval[0].n, 4);
  EXPECT_EQ(eval[1].n, 1);
  EXPECT_EQ(eval[1].samples, (std::vector<int64_t>{9}));
  EXPECT_DOUBLE_EQ(reports[0].val_loss, 7.0);
}

TEST_F(Fit, LimitComesBeforeTheSplit) {
  desc.validation_split = 0.5;
  make(20);
  sora_fit_options o = quiet();
  o.limit = 6;
  ASSERT_EQ(fit(o), SORA_OK);
  std::vector<int64_t> seen = epoch_samples(1, 1);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(of_kind('e')[0].samples, (std::vector<int64_t>{3, 4, 5}));
  // A limit above the count uses everything.
  ASSERT_EQ(sora_model_init(m, 0), SORA_OK);
  calls().clear();
  o.limit = 1000;
  o.epochs = 1;
  ASSERT_EQ(fit(o), SORA_OK);
  EXPECT_EQ(of_kind('e')[0].samples.size() + of_kind('e')[1].samples.size() +
                of_kind('e')[2].samples.size(),
            10u);
}

TEST_F(Fit, KerasSplitRoundsDown) {
  desc.validation_split = 0.1; // (int)(7 * 0.9) = 6: one validation sample
  make(7);
  ASSERT_EQ(fit(), SORA_OK);
  EXPECT_EQ(of_kind('e')[0].samples, (std::vector<int64_t>{6}));
}

TEST_F(Fit, EpochsOverride) {
  make(4);
  sora_fit_options o = quiet(5);
  ASSERT_EQ(fit(o), SORA_OK);
  ASSERT_EQ(reports.size(), 5u);
  EXPECT_EQ(reports[4].epochs, 5);
  EXPECT_EQ(sora_model_step(m), 5);
}

TEST_F(Fit, CallbackStopsEarly) {
  make(8);
  int called = 0;
  ASSERT_EQ(fit_stopping_after_two(&called), SORA_OK);
  EXPECT_EQ(called, 2);
  EXPECT_EQ(sora_model_step(m), 4); // 2 epochs of 2 batches
}

TEST_F(Fit, ShuffleIsSeededAndReproducible) {
  desc.shuffle = 1;
  desc.batch_size = 3;
  desc.epochs = 3;
  make(30);
  ASSERT_EQ(fit(), SORA_OK);
  std::vector<std::vector<int64_t>> first;
  for (int e = 1; e <= 3; ++e)
    first.push_back(epoch_samples(e, 10));
  std::vector<int64_t> identity(30);
  std::iota(identity.begin(), identity.end(), 0);
  for (auto &order : first) {
    EXPECT_NE(order, identity);
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, identity);
  }
  EXPECT_NE(first[0], first[1]); // a new order every epoch

  // The same seed gives the same orders; another seed other orders. (A
  // fresh start: init resets the epochs and the generator.)
  ASSERT_EQ(sora_model_init(m, desc.seed), SORA_OK);
  calls().clear();
  ASSERT_EQ(fit(), SORA_OK);
  for (int e = 1; e <= 3; ++e)
    EXPECT_EQ(epoch_samples(e, 10), first[e - 1]);
  desc.seed = 43;
  ASSERT_EQ(sora_model_init(m, desc.seed), SORA_OK);
  calls().clear();
  ASSERT_EQ(fit(), SORA_OK);
  EXPECT_NE(epoch_samples(1, 10), first[0]);
}

TEST_F(Fit, VerboseOutputLooksLikeKeras) {
  desc.validation_split = 0.2;
  make(10);
  sora_fit_options o = sora_fit_defaults();
  std::string out;
  sora_status st = fit_printing(o, &out);
  ASSERT_EQ(st, SORA_OK);
  std::regex expected(
      "Epoch 1/2\n"
      "2/2 - [0-9]+\\.[0-9]{2}s - loss: 3\\.5000 - accuracy: 0\\.5000 - "
      "val_loss: 8\\.5000 - val_accuracy: 0\\.5000\n"
      "Epoch 2/2\n"
      "2/2 - [0-9]+\\.[0-9]{2}s - loss: 3\\.5000 - accuracy: 0\\.5000 - "
      "val_loss: 8\\.5000 - val_accuracy: 0\\.5000\n");
  EXPECT_TRUE(std::regex_match(out, expected)) << out;
}

TEST_F(Fit, VerboseWithoutAccuracyOrValidation) {
  desc.metrics = SORA_METRIC_LOSS;
  desc.epochs = 1;
  make(10);
  std::string out;
  sora_status st = fit_printing(sora_fit_defaults(), &out);
  ASSERT_EQ(st, SORA_OK);
  std::regex expected("Epoch 1/1\n3/3 - [0-9]+\\.[0-9]{2}s - loss: 4\\.5000\n");
  EXPECT_TRUE(std::regex_match(out, expected)) << out;
}

TEST_F(Fit, TestSetAfterTraining) {
  add_test_set();
  desc.epochs = 1;
  make(8);
  sora_metrics test;
  std::string out;
  sora_status st = fit_with_test(&test, &out);
  ASSERT_EQ(st, SORA_OK) << sora_last_error();
  EXPECT_EQ(test.count, 5);
  EXPECT_DOUBLE_EQ(test.loss, 2.0);
  EXPECT_DOUBLE_EQ(test.accuracy, 0.6);
  EXPECT_NE(out.find("\ntest: loss: 2.0000 - accuracy: 0.6000\n"),
            std::string::npos)
      << out;
  // The test set is evaluated after the last train step.
  EXPECT_EQ(calls().back().kind, 'e');
  EXPECT_EQ(calls().back().n, 1);

  // Without o->test it is not evaluated.
  ASSERT_EQ(sora_model_init(m, 0), SORA_OK);
  calls().clear();
  ASSERT_EQ(fit(), SORA_OK);
  EXPECT_TRUE(of_kind('e').empty());
}

TEST_F(Fit, MissingTestFileFailsBeforeTraining) {
  desc.test = idx_source("missing.idx", "ty.idx");
  make(8);
  sora_fit_options o = quiet();
  sora_metrics test;
  o.test = &test;
  EXPECT_EQ(fit(o), SORA_ERR_IO);
  EXPECT_NE(std::string(sora_last_error()).find("missing.idx"),
            std::string::npos);
  EXPECT_TRUE(calls().empty());
}

TEST_F(Fit, Errors) {
  make(8);
  // Missing data.
  desc.data.images = "nothing.idx";
  EXPECT_EQ(fit(), SORA_ERR_IO);
  EXPECT_NE(std::string(sora_last_error()).find("nothing.idx"),
            std::string::npos);
  desc.data.images = "x.idx";

  // Rows of the wrong size.
  desc.input_size = 5;
  EXPECT_EQ(fit(), SORA_ERR_ARGUMENT);
  EXPECT_NE(std::string(sora_last_error()).find("4 values per sample"),
            std::string::npos)
      << sora_last_error();
  desc.input_size = kInput;
  desc.data.onehot = 0; // one float per label, the model expects 3
  EXPECT_EQ(fit(), SORA_ERR_ARGUMENT);
  desc.data.onehot = kLabel;

  // No train block, or no data in it.
  desc.has_train = 0;
  EXPECT_EQ(fit(), SORA_ERR_STATE);
  desc.has_train = 1;
  desc.data.images = nullptr;
  EXPECT_EQ(fit(), SORA_ERR_STATE);
  desc.data.images = "x.idx";

  // A batch larger than the kernels take.
  desc.batch_size = 5;
  EXPECT_EQ(fit(), SORA_ERR_STATE);
  desc.batch_size = 4;

  // Nothing left to train on.
  desc.validation_split = 0.99;
  EXPECT_EQ(fit(), SORA_ERR_ARGUMENT);
  desc.validation_split = 0;

  EXPECT_TRUE(calls().empty());
  EXPECT_EQ(fit(), SORA_OK);
}

TEST_F(Fit, DataParallelNeedsItsKernelsAndRoomForItsBlock) {
  make(8);
  // A world of two ranks whose allreduce is never reached.
  auto unused = [](void *, int64_t, sora_reduce_type, void *) { return 1; };
  ASSERT_EQ(sora_set_allreduce(unused, nullptr, 0, 2), SORA_OK);
  EXPECT_EQ(fit(), SORA_ERR_STATE);
  EXPECT_NE(std::string(sora_last_error()).find("no grad_step"),
            std::string::npos)
      << sora_last_error();
  // The step reduces the gradients, stats and stop flag in place in
  // scratch: a description whose scratch cannot hold them is refused.
  desc.grad_step = desc.apply_update = fake_train;
  desc.grad_floats = desc.params_floats;
  EXPECT_EQ(fit(), SORA_ERR_STATE);
  EXPECT_NE(std::string(sora_last_error()).find("allreduce block of 424"),
            std::string::npos)
      << sora_last_error();
  sora_set_allreduce(nullptr, nullptr, 0, 1);
  EXPECT_TRUE(calls().empty());
}

TEST_F(Fit, EpochsAccumulateAcrossFits) {
  desc.shuffle = 1;
  make(8); // 2 batches per epoch
  EXPECT_EQ(sora_model_epoch(m), 0);
  sora_fit_options o = quiet(1);
  ASSERT_EQ(fit(o), SORA_OK);
  EXPECT_EQ(sora_model_epoch(m), 1);
  // Fitting to 3 runs epochs 2 and 3 only, numbered so in the reports.
  o.epochs = 3;
  ASSERT_EQ(fit(o), SORA_OK);
  EXPECT_EQ(sora_model_epoch(m), 3);
  EXPECT_EQ(sora_model_step(m), 6);
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[1].epoch, 2);
  EXPECT_EQ(reports[1].epochs, 3);
  EXPECT_EQ(reports[2].epoch, 3);
  std::vector<Call> split = of_kind('t');

  // The same as three epochs in one fit.
  ASSERT_EQ(sora_model_init(m, desc.seed), SORA_OK);
  EXPECT_EQ(sora_model_epoch(m), 0);
  calls().clear();
  ASSERT_EQ(fit(o), SORA_OK);
  EXPECT_EQ(of_kind('t'), split);

  // Fewer epochs than done: nothing to train.
  calls().clear();
  o.epochs = 2;
  ASSERT_EQ(fit(o), SORA_OK);
  EXPECT_TRUE(calls().empty());
  EXPECT_EQ(sora_model_epoch(m), 3);
}

// A stop asked for during an epoch's last step leaves the epoch unfinished
// (not yet validated, nor counted); a later fit must finish it, not train
// it again: the same train calls and epochs as a fit never interrupted.
TEST_F(Fit, StoppedAfterAnEpochsLastStepResumesAtItsEnd) {
  desc.shuffle = 1;
  make(7); // 2 batches per epoch, the second of 3 rows
  ASSERT_EQ(fit(quiet(2)), SORA_OK);
  std::vector<Call> straight = of_kind('t');
  ASSERT_EQ(sora_model_init(m, desc.seed), SORA_OK);
  calls().clear();
  reports.clear();
  stop_at_step() = straight.at(1).step; // epoch 1's last
  EXPECT_EQ(fit(quiet(2)), SORA_INTERRUPTED);
  stop_at_step() = -1;
  EXPECT_EQ(sora_model_step(m), 2);
  EXPECT_EQ(sora_model_epoch(m), 0);
  EXPECT_TRUE(reports.empty());
  ASSERT_EQ(fit(quiet(2)), SORA_OK);
  EXPECT_EQ(of_kind('t'), straight);
  EXPECT_EQ(sora_model_epoch(m), 2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].epoch, 1);
  EXPECT_EQ(reports[0].steps, 0);
}

TEST_F(Fit, StoppedEarlyResumesAfterTheLastEpoch) {
  make(8);
  int called = 0;
  ASSERT_EQ(fit_stopping_after_two(&called), SORA_OK);
  EXPECT_EQ(sora_model_epoch(m), 2); // the stopping epoch is complete
  ASSERT_EQ(fit(quiet(3)), SORA_OK);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].epoch, 3);
}

TEST_F(Fit, NothingToTrainStillEvaluatesTheTestSet) {
  add_test_set();
  desc.epochs = 1;
  make(8);
  ASSERT_EQ(fit(), SORA_OK);
  calls().clear();
  // The training data is not even read: it may have gone.
  std::remove(dir.file("x.idx").c_str());
  sora_metrics test;
  std::string out;
  sora_status st = fit_with_test(&test, &out);
  ASSERT_EQ(st, SORA_OK) << sora_last_error();
  EXPECT_EQ(out, "Nothing to train: 1 epochs completed, epochs is 1\n"
                 "test: loss: 2.0000 - accuracy: 0.6000\n");
  EXPECT_EQ(test.count, 5);
  EXPECT_TRUE(of_kind('t').empty());
}

TEST_F(Fit, NoAccuracyWhereItDoesNotApply) {
  add_test_set();
  desc.accuracy_kind = SORA_ACCURACY_NONE; // a regression model
  desc.validation_split = 0.2;
  desc.epochs = 1;
  make(10);
  ASSERT_NE(desc.metrics & SORA_METRIC_ACCURACY, 0); // asked for, yet absent
  sora_metrics test;
  std::string out;
  sora_status st = fit_with_test(&test, &out);
  ASSERT_EQ(st, SORA_OK) << sora_last_error();
  std::regex expected("Epoch 1/1\n"
                      "2/2 - [0-9]+\\.[0-9]{2}s - loss: 3\\.5000 - "
                      "val_loss: 8\\.5000\n"
                      "test: loss: 2\\.0000\n");
  EXPECT_TRUE(std::regex_match(out, expected)) << out;
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_DOUBLE_EQ(reports[0].loss, 3.5);
  EXPECT_TRUE(std::isnan(reports[0].accuracy));
  EXPECT_TRUE(std::isnan(reports[0].val_accuracy));
  EXPECT_DOUBLE_EQ(test.loss, 2.0);
  EXPECT_TRUE(std::isnan(test.accuracy));

  // sora_model_evaluate reports NaN accuracy too.
  std::vector<float> x(2 * kInput, 0.0f), y(2 * kLabel, 0.0f);
  x[kInput] = 1;
  sora_metrics metrics;
  ASSERT_EQ(sora_model_evaluate(m, x.data(), y.data(), 2, &metrics), SORA_OK);
  EXPECT_DOUBLE_EQ(metrics.loss, 0.5);
  EXPECT_TRUE(std::isnan(metrics.accuracy));
  EXPECT_EQ(metrics.count, 2);
}

TEST_F(Fit, NoDataMeansNeitherImagesNorPath) {
  make(8);
  desc.data = csv_source(nullptr, 0);
  EXPECT_EQ(fit(), SORA_ERR_STATE);
  EXPECT_NE(std::string(sora_last_error()).find("has no data"),
            std::string::npos);
}

} // namespace
