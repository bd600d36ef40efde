//===- csv_test.cpp - Loading CSV data sets -------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using sora_test::Bytes;
using sora_test::csv_source;
using sora_test::TempDir;

std::string last_error() { return sora_last_error(); }

Bytes text(const std::string &s) { return Bytes(s.begin(), s.end()); }

class Csv : public ::testing::Test {
protected:
  /// Writes `contents` as "data.csv" and loads it.
  sora_status load(const std::string &contents, int64_t label_column,
                   int64_t onehot = 0, double scale = 1.0) {
    sora_test::write_raw(dir.file("data.csv"), text(contents));
    sora_data_spec s = csv_source("data.csv", label_column, onehot, scale);
    return sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds);
  }

  std::vector<float> x() const {
    return std::vector<float>(ds.x, ds.x + ds.count * ds.sample_size);
  }
  std::vector<float> y() const {
    return std::vector<float>(ds.y, ds.y + ds.count * ds.label_size);
  }

  /// Expects loading `contents` to fail with SORA_ERR_FORMAT and a message
  /// that starts with "<path>:<line>:" (or names the file, for line 0) and
  /// contains `what`.
  void expect_error(const std::string &contents, int64_t label_column,
                    int64_t onehot, int line, const std::string &what) {
    SCOPED_TRACE(contents);
    EXPECT_EQ(load(contents, label_column, onehot), SORA_ERR_FORMAT);
    std::string where =
        line > 0 ? dir.file("data.csv") + ":" + std::to_string(line) + ": "
                 : "'" + dir.file("data.csv") + "'";
    EXPECT_NE(last_error().find(where), std::string::npos) << last_error();
    EXPECT_NE(last_error().find(what), std::string::npos) << last_error();
    EXPECT_EQ(ds.x, nullptr);
    EXPECT_EQ(ds.y, nullptr);
    EXPECT_EQ(ds.count, 0);
  }

  void TearDown() override { sora_dataset_free(&ds); }

  TempDir dir;
  sora_dataset ds = {};
};

TEST_F(Csv, HeaderIsSkipped) {
  ASSERT_EQ(load("a,b,label\n1,2,0\n3,4.5,1\n", 2), SORA_OK) << last_error();
  EXPECT_EQ(ds.count, 2);
  EXPECT_EQ(ds.sample_size, 2);
  EXPECT_EQ(ds.label_size, 1);
  EXPECT_EQ(x(), (std::vector<float>{1, 2, 3, 4.5f}));
  EXPECT_EQ(y(), (std::vector<float>{0, 1}));
}

TEST_F(Csv, WithoutHeader) {
  ASSERT_EQ(load("1,2,0\n-3,4e1,7.25", 2), SORA_OK) << last_error();
  EXPECT_EQ(ds.count, 2);
  EXPECT_EQ(x(), (std::vector<float>{1, 2, -3, 40}));
  EXPECT_EQ(y(), (std::vector<float>{0, 7.25f})); // labels are not scaled
}

TEST_F(Csv, Onehot) {
  ASSERT_EQ(load("2,10,20\n0,30,40\n1,50,60\n", 0, 3), SORA_OK) << last_error();
  EXPECT_EQ(ds.label_size, 3);
  EXPECT_EQ(x(), (std::vector<float>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(y(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  // A whole number written as a decimal is a whole number.
  sora_dataset_free(&ds);
  ASSERT_EQ(load("2.0,1\n", 0, 3), SORA_OK) << last_error();
  EXPECT_EQ(y(), (std::vector<float>{0, 0, 1}));
}

TEST_F(Csv, ScaleAppliesToFeaturesOnly) {
  ASSERT_EQ(load("10,3,20\n", 1, 0, 0.5), SORA_OK) << last_error();
  EXPECT_EQ(x(), (std::vector<float>{5, 10}));
  EXPECT_EQ(y(), (std::vector<float>{3}));
}

TEST_F(Csv, LabelColumnInTheMiddle) {
  ASSERT_EQ(load("f0,label,f1,f2\n1,1,2,3\n4,0,5,6\n", 1, 2), SORA_OK)
      << last_error();
  EXPECT_EQ(ds.sample_size, 3);
  EXPECT_EQ(x(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(y(), (std::vector<float>{0, 1, 1, 0}));
}

TEST_F(Csv, ToleratesWhitespaceCrlfBlankLinesAndBom) {
  ASSERT_EQ(
      load("\xEF\xBB\xBFx, y ,label\r\n\r\n 1 ,\t2,0\r\n\n  \n3,4,1\r\n\n", 2),
      SORA_OK)
      << last_error();
  EXPECT_EQ(ds.count, 2);
  EXPECT_EQ(x(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(y(), (std::vector<float>{0, 1}));
}

TEST_F(Csv, Gzip) {
  sora_test::write_gz(dir.file("z.csv.gz"), text("h1,h2\n1,2\n3,4\n"));
  sora_data_spec s = csv_source("z.csv.gz", 0, 0);
  ASSERT_EQ(sora_dataset_load_csv(&s, dir.path().c_str(), nullptr, &ds),
            SORA_OK)
      << last_error();
  EXPECT_EQ(x(), (std::vector<float>{2, 4}));
  EXPECT_EQ(y(), (std::vector<float>{1, 3}));
}

TEST_F(Csv, NotANumber) {
  expect_error("1,2,0\n3,abc,1\n", 2, 0, 2, "column 1 ('abc') is not a number");
  expect_error("1,2,0\n3,nan,1\n", 2, 0, 2, "is not a number");
  expect_error("1,2,0\n3,0x10,1\n", 2, 0, 2, "is not a number");
  expect_error("1,2,0\n3,1e,1\n", 2, 0, 2, "is not a number");
  expect_error("1,2,0\n3,1 2,1\n", 2, 0, 2, "is not a number");
  expect_error("1,2,0\n3,,1\n", 2, 0, 2, "column 1 is empty");
  // An empty field does not make the first line a header.
  expect_error("1,,0\n3,4,1\n", 2, 0, 1, "column 1 is empty");
  expect_error("1,2,0\n3,1e999,1\n", 2, 0, 2, "out of range");
  expect_error("1,2,0\n3,1e300,1\n", 2, 0, 2, "does not fit a 32-bit float");
  // Only the first line can be a header; line numbers count blank lines.
  expect_error("a,b,c\n\n1,2,3\nd,e,f\n", 2, 0, 4, "is not a number");
}

TEST_F(Csv, WrongColumnCount) {
  expect_error("a,b,c\n1,2,0\n3,4\n", 2, 0, 3, "2 columns, but line 1 has 3");
  expect_error("1,2,0\n\n3,4,5,6\n", 2, 0, 3, "4 columns, but line 1 has 3");
}

TEST_F(Csv, BadLabels) {
  expect_error("1,2,3\n", 2, 3, 1,
               "label '3' (column 2) is not a whole number "
               "in [0, 3)");
  expect_error("1,2,0\n1,2,-1\n", 2, 3, 2, "label '-1'");
  expect_error("1,2,1.5\n", 2, 3, 1, "label '1.5'");
  expect_error("1,2,1e300\n", 2, 3, 1, "label '1e300'");
  expect_error("1,2,1e300\n", 2, 0, 1, "does not fit a 32-bit float");
}

TEST_F(Csv, NoRows) {
  expect_error("", 0, 0, 0, "is empty");
  expect_error("\n \n\r\n", 0, 0, 0, "is empty");
  expect_error("a,b\n\n", 0, 0, 0, "has no data rows");
}

TEST_F(Csv, LabelColumnMustExist) {
  expect_error("a,b\n1,2\n", 2, 0, 1, "label_column 2 does not exist");
  expect_error("5\n6\n", 0, 0, 1, "no features");
  sora_data_spec s = csv_source("data.csv", -1, 0);
  EXPECT_EQ(sora_dataset_load_csv(&s, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_ARGUMENT);
}

TEST_F(Csv, ArgumentsAndMissingFile) {
  sora_data_spec s = csv_source("missing.csv", 0, 0);
  EXPECT_EQ(sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_IO);
  EXPECT_NE(last_error().find("missing.csv"), std::string::npos);
  s.path = nullptr;
  EXPECT_EQ(sora_dataset_load_csv(&s, nullptr, nullptr, &ds),
            SORA_ERR_ARGUMENT);
  s = csv_source("data.csv", 0, -1);
  EXPECT_EQ(sora_dataset_load_csv(&s, nullptr, nullptr, &ds),
            SORA_ERR_ARGUMENT);
  s = csv_source("data.csv", 0, 0, NAN);
  EXPECT_EQ(sora_dataset_load_csv(&s, nullptr, nullptr, &ds),
            SORA_ERR_ARGUMENT);
  s.kind = 7;
  EXPECT_EQ(sora_dataset_load(&s, nullptr, nullptr, &ds), SORA_ERR_ARGUMENT);
  EXPECT_NE(last_error().find("kind 7"), std::string::npos);
  EXPECT_EQ(sora_dataset_load(nullptr, nullptr, nullptr, &ds),
            SORA_ERR_ARGUMENT);
}

TEST_F(Csv, DispatchLoadsIdxToo) {
  sora_test::write_index_dataset(dir, "x.idx", "y.idx", 3);
  sora_data_spec s = sora_test::idx_source("x.idx", "y.idx");
  ASSERT_EQ(sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds), SORA_OK)
      << last_error();
  EXPECT_EQ(ds.count, 3);
  EXPECT_EQ(ds.sample_size, 4);
}

/// fit reads a CSV train block through the same dispatch.
TEST_F(Csv, FitTrainsOnCsv) {
  using namespace sora_test;
  std::string csv = "id,a,b,c,label\n";
  for (int i = 0; i < 6; ++i)
    csv += std::to_string(i) + ",0,0,0," + std::to_string(i % 3) + "\n";
  write_raw(dir.file("train.csv"), text(csv));
  sora_model_desc desc = fake_desc(dir.path().c_str());
  desc.data = csv_source("train.csv", 4);
  desc.test = csv_source("train.csv", 4);
  sora_model *m = nullptr;
  ASSERT_EQ(sora_model_create(&desc, &m), SORA_OK);
  calls().clear();
  sora_fit_options o = sora_fit_defaults();
  o.verbose = 0;
  sora_metrics test = {};
  o.test = &test;
  ASSERT_EQ(sora_model_fit(m, nullptr, &o), SORA_OK) << last_error();
  ASSERT_EQ(calls().size(), 2u * 2 + 2); // 2 epochs of 2 batches, test
  EXPECT_EQ(calls()[0].samples, (std::vector<int64_t>{0, 1, 2, 3}));
  for (const Call &c : calls())
    EXPECT_TRUE(c.labels_match);
  EXPECT_EQ(test.count, 6);

  // A wrong label column gives rows of the wrong size, named in the error.
  ASSERT_EQ(sora_model_init(m, 0), SORA_OK); // else there is nothing to train
  desc.data = csv_source("train.csv", 4, 0);
  EXPECT_EQ(sora_model_fit(m, nullptr, &o), SORA_ERR_ARGUMENT);
  EXPECT_NE(last_error().find("train.csv"), std::string::npos) << last_error();
  sora_model_destroy(m);
}

// Several label columns (`label_columns: [...]`) and an input that is its
// own target (`target = x`).
class CsvLabels : public Csv {
protected:
  sora_status load_columns(const std::string &contents,
                           const std::vector<int64_t> &columns,
                           int64_t target = SORA_TARGET_LABELS) {
    sora_test::write_raw(dir.file("data.csv"), text(contents));
    cols = columns;
    sora_data_spec s = csv_source("data.csv", 0, 0);
    s.num_label_columns = int64_t(cols.size());
    s.label_columns = cols.data();
    s.target = target;
    return sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds);
  }
  std::vector<int64_t> cols;
};

TEST_F(CsvLabels, SeveralColumnsInTheirOrder) {
  ASSERT_EQ(load_columns("a,b,c,d,e\n1,2,3,4,5\n6,7,8,9,10\n", {4, 1, 2}),
            SORA_OK)
      << last_error();
  EXPECT_EQ(ds.sample_size, 2);
  EXPECT_EQ(ds.label_size, 3);
  EXPECT_EQ(x(), (std::vector<float>{1, 4, 6, 9}));
  EXPECT_EQ(y(), (std::vector<float>{5, 2, 3, 10, 7, 8}));
}

TEST_F(CsvLabels, BadColumns) {
  EXPECT_EQ(load_columns("1,2,3\n", {0, 3}), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find("data.csv:1: label column 3 does not exist"),
            std::string::npos)
      << last_error();
  EXPECT_EQ(load_columns("1,2,3\n", {1, 1}), SORA_ERR_ARGUMENT);
  EXPECT_NE(last_error().find("label column 1 is named twice"),
            std::string::npos)
      << last_error();
  EXPECT_EQ(load_columns("1,2\n", {0, 1}), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find("no features"), std::string::npos);
  EXPECT_EQ(load_columns("1,2,3\n4,x,6\n", {1, 2}), SORA_ERR_FORMAT);
  EXPECT_NE(last_error().find("data.csv:2: column 1 ('x') is not a number"),
            std::string::npos)
      << last_error();
  EXPECT_EQ(ds.x, nullptr);
}

TEST_F(CsvLabels, TargetInputSharesTheFeatures) {
  ASSERT_EQ(load_columns("a,b\n1,2\n3,4\n", {}, SORA_TARGET_INPUT), SORA_OK)
      << last_error();
  EXPECT_EQ(ds.sample_size, 2);
  EXPECT_EQ(ds.label_size, 2);
  EXPECT_EQ(ds.y, ds.x);
  EXPECT_EQ(y(), (std::vector<float>{1, 2, 3, 4}));
  sora_dataset_free(&ds); // frees the shared block once
  EXPECT_EQ(ds.y, nullptr);
}

TEST_F(CsvLabels, TargetInputIdxNeedsNoLabels) {
  sora_test::write_index_dataset(dir, "x.idx", "y.idx", 3);
  sora_data_spec s = sora_test::idx_source("x.idx", nullptr, 0);
  EXPECT_EQ(sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_ARGUMENT);
  s.target = SORA_TARGET_INPUT;
  ASSERT_EQ(sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds), SORA_OK)
      << last_error();
  EXPECT_EQ(ds.count, 3);
  EXPECT_EQ(ds.label_size, ds.sample_size);
  EXPECT_EQ(ds.y, ds.x);
  sora_dataset_free(&ds); // a load starts by clearing its output
  s.target = 5;
  EXPECT_EQ(sora_dataset_load(&s, dir.path().c_str(), nullptr, &ds),
            SORA_ERR_ARGUMENT);
}

} // namespace
