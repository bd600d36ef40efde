// The epoch metrics of counts (top_k_accuracy, precision, recall, auc):
// sora_model_evaluate sums the kernels' counts over every chunk and only
// then divides or integrates, as Keras' stateful metrics do.
#include "fake_model.h"
#include "sora/runtime.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

/// Row s (its x[0]) is a positive when s is even, a hit of top-k when s is
/// a multiple of 3, and its probability lies in AUC bucket 50 + s / 2, so
/// that rows 2i and 2i + 1, a positive and a negative, tie in one bucket.
/// At the threshold 0.5 rows below 4 are predicted negative.
int64_t bucketOf(int64_t s) { return 50 + s / 2; }
bool positive(int64_t s) { return s % 2 == 0; }
bool predicted(int64_t s) { return s >= 4; }

void countingEvaluate(float *, float *, void *, const float *x, const float *,
                      int64_t n, int64_t, void *out) {
  auto *stats = static_cast<double *>(out);
  for (int64_t r = 0; r < n; ++r) {
    auto s = static_cast<int64_t>(x[r * kInput]);
    stats[SORA_STAT_LOSS] += 1;
    stats[SORA_STAT_TOP_K_CORRECT] += s % 3 == 0 ? 1 : 0;
    stats[SORA_STAT_TRUE_POSITIVES] += predicted(s) && positive(s);
    stats[SORA_STAT_FALSE_POSITIVES] += predicted(s) && !positive(s);
    stats[SORA_STAT_FALSE_NEGATIVES] += !predicted(s) && positive(s);
    stats[(positive(s) ? SORA_STAT_AUC_POSITIVES : SORA_STAT_AUC_NEGATIVES) +
          bucketOf(s)] += 1;
  }
}

struct Evaluated {
  explicit Evaluated(int64_t metrics, int64_t n = 11) {
    sora_model_desc d = fake_desc(nullptr);
    d.evaluate = countingEvaluate;
    d.metrics = metrics;
    desc = d;
    EXPECT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
    std::vector<float> x(n * kInput), y(n * kLabel);
    for (int64_t i = 0; i < n; ++i)
      x[i * kInput] = static_cast<float>(i);
    EXPECT_EQ(sora_model_evaluate(m, x.data(), y.data(), size_t(n), &out),
              SORA_OK);
  }
  ~Evaluated() { sora_model_destroy(m); }
  sora_model_desc desc;
  sora_model *m = nullptr;
  sora_metrics out;
};

TEST(Metrics, CountsAreSummedOverChunksBeforeDividing) {
  const int64_t n = 11; // chunks of 4, 4 and 3 (max_batch 4)
  Evaluated e(SORA_METRIC_TOP_K_ACCURACY | SORA_METRIC_PRECISION |
                  SORA_METRIC_RECALL | SORA_METRIC_AUC,
              n);
  double tp = 0, fp = 0, fn = 0, hits = 0;
  for (int64_t s = 0; s < n; ++s) {
    tp += predicted(s) && positive(s);
    fp += predicted(s) && !positive(s);
    fn += !predicted(s) && positive(s);
    hits += s % 3 == 0;
  }
  EXPECT_DOUBLE_EQ(e.out.top_k_accuracy, hits / double(n));
  EXPECT_DOUBLE_EQ(e.out.precision, tp / (tp + fp)); // 4 / 7, not a mean of
  EXPECT_DOUBLE_EQ(e.out.recall, tp / (tp + fn));    // the chunks' ratios
  // The area under the ROC of bucketed scores is the probability that a
  // positive's bucket is above a negative's, a tie counting a half.
  double pairs = 0, above = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b)
      if (positive(a) && !positive(b)) {
        pairs += 1;
        above += bucketOf(a) > bucketOf(b)    ? 1.0
                 : bucketOf(a) == bucketOf(b) ? 0.5
                                              : 0.0;
      }
  EXPECT_NEAR(e.out.auc, above / pairs, 1e-12);
}

TEST(Metrics, NotAskedForIsNaN) {
  Evaluated e(SORA_METRIC_LOSS);
  EXPECT_TRUE(std::isnan(e.out.top_k_accuracy));
  EXPECT_TRUE(std::isnan(e.out.precision));
  EXPECT_TRUE(std::isnan(e.out.recall));
  EXPECT_TRUE(std::isnan(e.out.auc));
}

TEST(Metrics, NoPositivesGiveZeroNotNaN) {
  // Keras' divide_no_nan: one sample, a positive predicted negative, so no
  // predicted positives (precision 0 / 0) and no negatives (each false
  // positive rate 0 / 0).
  Evaluated e(SORA_METRIC_PRECISION | SORA_METRIC_RECALL | SORA_METRIC_AUC, 1);
  EXPECT_EQ(e.out.precision, 0.0);
  EXPECT_EQ(e.out.recall, 0.0);
  EXPECT_EQ(e.out.auc, 0.0);
}

} // namespace
