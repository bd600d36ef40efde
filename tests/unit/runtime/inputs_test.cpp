//===- inputs_test.cpp - Several inputs, integer ids, normal/uniform init -===//
//
// A fake model of three inputs packed into rows of five slots: "price" (two
// floats), "movie" (one id below 10) and "user" (two unchecked ids). Its
// kernels read the ids as int32_t bit patterns, so a conversion anywhere
// would change their results.
//
//===----------------------------------------------------------------------===//
#include "fake_model.h"
#include "sora/runtime.h"
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace sora_test;

constexpr int64_t kSlots = 5;
constexpr int64_t kOut = 2;
const sora_input_desc kInputs[] = {
    {"price", 0, 2, 0, 0}, {"movie", 2, 1, 1, 10}, {"user", 3, 2, 1, 0}};

int kernel_calls = 0;

int32_t id_at(const float *row, int64_t slot) {
  int32_t v;
  std::memcpy(&v, row + slot, sizeof v);
  return v;
}

float row_value(const float *row) {
  return row[0] * 3 + row[1] + static_cast<float>(id_at(row, 2)) * 0.25f +
         static_cast<float>(id_at(row, 3)) -
         static_cast<float>(id_at(row, 4)) * 0.125f;
}

void mi_predict(float *params, float *, void *, const float *x, const float *,
                int64_t n, int64_t, void *out) {
  ++kernel_calls;
  auto *y = static_cast<float *>(out);
  for (int64_t r = 0; r < n; ++r) {
    y[r * kOut] = row_value(x + r * kSlots) * params[0];
    y[r * kOut + 1] = static_cast<float>(r); // shows the chunking
  }
}

void mi_train(float *params, float *, void *, const float *x, const float *y,
              int64_t n, int64_t, void *out) {
  ++kernel_calls;
  auto *stats = static_cast<double *>(out);
  for (int64_t r = 0; r < n; ++r) {
    float e = row_value(x + r * kSlots) * params[0] - y[r];
    stats[0] += static_cast<double>(e * e);
    params[0] -= 0.001f * e;
  }
}

void mi_evaluate(float *params, float *, void *, const float *x, const float *y,
                 int64_t n, int64_t, void *out) {
  ++kernel_calls;
  auto *stats = static_cast<double *>(out);
  for (int64_t r = 0; r < n; ++r) {
    float e = row_value(x + r * kSlots) * params[0] - y[r];
    stats[0] += static_cast<double>(e * e);
    stats[1] += id_at(x + r * kSlots, 2) % 2 == 0 ? 1 : 0;
  }
}

const sora_param_desc kScalar[] = {
    {"w", 0, 1, 1, {1, 0, 0, 0}, SORA_INIT_UNIFORM, 1, 1, 0.5}};

sora_model_desc inputs_desc() {
  sora_model_desc d = fake_desc(nullptr);
  d.name = "multi";
  d.input_size = kSlots;
  d.output_size = kOut;
  d.label_size = 1;
  d.params_floats = 1;
  d.num_params = 1;
  d.params = kScalar;
  d.opt_state_floats = 0;
  d.num_state = 0;
  d.state = nullptr;
  d.scratch_bytes = 8;
  d.max_batch = 3;
  d.loss = SORA_LOSS_MEAN_SQUARED_ERROR;
  d.accuracy_kind = SORA_ACCURACY_CATEGORICAL;
  d.train_step = mi_train;
  d.evaluate = mi_evaluate;
  d.predict = mi_predict;
  d.num_inputs = 3;
  d.inputs = kInputs;
  return d;
}

/// `n` samples, both packed and as one array per input.
struct Samples {
  explicit Samples(size_t n) : price(n * 2), movie(n), user(n * 2), y(n) {
    for (size_t i = 0; i < n; ++i) {
      price[i * 2] = 0.5f * static_cast<float>(i);
      price[i * 2 + 1] = -1.0f / static_cast<float>(i + 1);
      movie[i] = static_cast<int32_t>(i % 10);
      user[i * 2] = static_cast<int32_t>(1000 + i); // no limit on users
      user[i * 2 + 1] = -static_cast<int32_t>(i);
      y[i] = static_cast<float>(i % 4);
    }
    pack();
  }
  void pack() {
    size_t n = y.size();
    packed.assign(n * kSlots, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      float *row = packed.data() + i * kSlots;
      std::memcpy(row, &price[i * 2], 2 * sizeof(float));
      std::memcpy(row + 2, &movie[i], sizeof(int32_t));
      std::memcpy(row + 3, &user[i * 2], 2 * sizeof(int32_t));
    }
  }
  const void *const *pointers() {
    ptrs[0] = price.data();
    ptrs[1] = movie.data();
    ptrs[2] = user.data();
    return ptrs;
  }
  std::vector<float> price;
  std::vector<int32_t> movie, user;
  std::vector<float> y, packed;
  const void *ptrs[3] = {};
};

struct Instance {
  explicit Instance(const sora_model_desc &d) : desc(d) {
    EXPECT_EQ(sora_model_create(&desc, &m), SORA_OK) << sora_last_error();
  }
  ~Instance() { sora_model_destroy(m); }
  sora_model_desc desc;
  sora_model *m = nullptr;
};

/// The mean, standard deviation and range of one tensor's initial values.
struct Moments {
  double mean = 0, stddev = 0, lo = INFINITY, hi = -INFINITY;
};

Moments init_moments(int64_t kind, double scale, int64_t size, int64_t seed,
                     std::vector<float> *values = nullptr) {
  sora_param_desc p = {"w", 0, size, 1, {size, 0, 0, 0}, kind, 1, 1, scale};
  sora_model_desc d = fake_desc(nullptr);
  d.params = &p;
  d.num_params = 1;
  d.params_floats = size;
  d.seed = seed;
  Instance inst(d);
  Moments mo;
  if (!inst.m)
    return mo;
  const float *v = sora_model_params(inst.m);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < size; ++i) {
    sum += v[i];
    sq += static_cast<double>(v[i]) * v[i];
    mo.lo = std::min(mo.lo, static_cast<double>(v[i]));
    mo.hi = std::max(mo.hi, static_cast<double>(v[i]));
  }
  mo.mean = sum / static_cast<double>(size);
  mo.stddev = std::sqrt(sq / static_cast<double>(size) - mo.mean * mo.mean);
  if (values)
    values->assign(v, v + size);
  return mo;
}

TEST(Init, NormalHasItsMeanAndStddev) {
  // An odd size: the last pair of the polar method gives one value.
  Moments mo = init_moments(SORA_INIT_NORMAL, 0.5, 200001, 7);
  EXPECT_NEAR(mo.mean, 0.0, 0.005);
  EXPECT_NEAR(mo.stddev, 0.5, 0.005);
  EXPECT_LT(mo.lo, -1.5); // tails beyond three sigma exist
  EXPECT_GT(mo.hi, 1.5);
}

TEST(Init, UniformCoversItsRange) {
  Moments mo = init_moments(SORA_INIT_UNIFORM, 0.25, 200000, 7);
  EXPECT_NEAR(mo.mean, 0.0, 0.002);
  EXPECT_NEAR(mo.stddev, 0.25 / std::sqrt(3.0), 0.002);
  EXPECT_GE(mo.lo, -0.25);
  EXPECT_LT(mo.hi, 0.25);
  EXPECT_LT(mo.lo, -0.249);
  EXPECT_GT(mo.hi, 0.249);
}

TEST(Init, NormalAndUniformAreSeeded) {
  for (int64_t kind : {SORA_INIT_NORMAL, SORA_INIT_UNIFORM}) {
    std::vector<float> a, b, c;
    init_moments(kind, 1.0, 1001, 3, &a);
    init_moments(kind, 1.0, 1001, 3, &b);
    init_moments(kind, 1.0, 1001, 4, &c);
    EXPECT_EQ(a, b) << kind;
    EXPECT_NE(a, c) << kind;
  }
  // sora_model_init with the creation seed gives the creation's values.
  sora_param_desc p = {"w", 0, 9, 1, {9, 0, 0, 0}, SORA_INIT_NORMAL, 1, 1, 2};
  sora_model_desc d = fake_desc(nullptr);
  d.params = &p;
  d.num_params = 1;
  d.params_floats = 9;
  Instance inst(d);
  std::vector<float> first(sora_model_params(inst.m),
                           sora_model_params(inst.m) + 9);
  ASSERT_EQ(sora_model_init(inst.m, d.seed), SORA_OK);
  EXPECT_EQ(std::vector<float>(sora_model_params(inst.m),
                               sora_model_params(inst.m) + 9),
            first);
}

TEST(Init, ScaleZeroGivesZeros) {
  Moments mo = init_moments(SORA_INIT_NORMAL, 0.0, 10, 1);
  EXPECT_EQ(mo.lo, 0.0);
  EXPECT_EQ(mo.hi, 0.0);
}

TEST(Init, BadScaleIsRefused) {
  for (double scale : {-1.0, double(NAN), double(INFINITY), 1e300}) {
    sora_param_desc p = {"w", 0, 4,    1, {4, 0, 0, 0}, SORA_INIT_NORMAL,
                         1,   1, scale};
    sora_model_desc d = fake_desc(nullptr);
    d.params = &p;
    d.num_params = 1;
    d.params_floats = 4;
    sora_model *m = nullptr;
    EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT) << scale;
    EXPECT_NE(std::string(sora_last_error()).find("init_scale"),
              std::string::npos)
        << sora_last_error();
  }
}

TEST(Inputs, DescriptionsMustTileTheRow) {
  sora_model_desc d = inputs_desc();
  sora_model *m = nullptr;
  sora_input_desc gap[] = {{"a", 0, 2, 0, 0}, {"b", 3, 2, 1, 0}};
  d.inputs = gap;
  d.num_inputs = 2;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  EXPECT_NE(std::string(sora_last_error()).find("input 'b'"), std::string::npos)
      << sora_last_error();
  sora_input_desc short_row[] = {{"a", 0, 2, 0, 0}, {"b", 2, 2, 1, 0}};
  d.inputs = short_row;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  EXPECT_NE(std::string(sora_last_error()).find("input_size is 5"),
            std::string::npos)
      << sora_last_error();
  sora_input_desc bad_limit[] = {{"a", 0, 2, 0, 0}, {"b", 2, 3, 1, -1}};
  d.inputs = bad_limit;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  d.inputs = nullptr;
  EXPECT_EQ(sora_model_create(&d, &m), SORA_ERR_ARGUMENT);
  EXPECT_EQ(m, nullptr);
}

TEST(Inputs, IdsAreCheckedBeforeAnyKernel) {
  Instance inst(inputs_desc());
  Samples s(7);
  s.movie[4] = 10;
  s.pack();
  std::vector<float> y(7 * kOut);
  kernel_calls = 0;
  const std::string expected = "sample 4: input 'movie'[0]: id 10 outside "
                               "[0, 10)";
  EXPECT_EQ(sora_model_predict(inst.m, s.packed.data(), 7, y.data()),
            SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_last_error(), expected);
  EXPECT_EQ(sora_model_predict_inputs(inst.m, s.pointers(), 7, y.data()),
            SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_last_error(), expected);
  sora_metrics metrics;
  EXPECT_EQ(
      sora_model_evaluate(inst.m, s.packed.data(), s.y.data(), 7, &metrics),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_last_error(), expected);
  EXPECT_EQ(
      sora_model_evaluate_inputs(inst.m, s.pointers(), s.y.data(), 7, &metrics),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_last_error(), expected);

  s.movie[4] = 4;
  s.movie[1] = -1;
  s.pack();
  float loss = 0;
  EXPECT_EQ(
      sora_model_train_step(inst.m, s.packed.data(), s.y.data(), 3, &loss),
      SORA_ERR_ARGUMENT);
  EXPECT_STREQ(sora_last_error(),
               "sample 1: input 'movie'[0]: id -1 outside [0, 10)");
  EXPECT_EQ(
      sora_model_train_step_inputs(inst.m, s.pointers(), s.y.data(), 3, &loss),
      SORA_ERR_ARGUMENT);
  EXPECT_STREQ(sora_last_error(),
               "sample 1: input 'movie'[0]: id -1 outside [0, 10)");
  EXPECT_EQ(kernel_calls, 0);
  EXPECT_EQ(sora_model_step(inst.m), 0);

  // Ids without a limit ("user", here 1000 and up, and negative) pass.
  s.movie[1] = 1;
  s.pack();
  EXPECT_EQ(sora_model_predict(inst.m, s.packed.data(), 7, y.data()), SORA_OK)
      << sora_last_error();
}

TEST(Inputs, InputsFunctionsMatchThePackedOnesBitForBit) {
  Instance packed(inputs_desc()), split(inputs_desc());
  Samples s(8); // more than max_batch (3): chunks of 3, 3 and 2
  std::vector<float> a(8 * kOut), b(8 * kOut);
  ASSERT_EQ(sora_model_predict(packed.m, s.packed.data(), 8, a.data()), SORA_OK)
      << sora_last_error();
  ASSERT_EQ(sora_model_predict_inputs(split.m, s.pointers(), 8, b.data()),
            SORA_OK)
      << sora_last_error();
  EXPECT_EQ(a, b);
  EXPECT_EQ(b[6 * kOut + 1], 0.0f); // row 6 started the third chunk

  for (int step = 0; step < 2; ++step) {
    float la = 0, lb = 0;
    ASSERT_EQ(sora_model_train_step(packed.m, s.packed.data() + 3 * kSlots,
                                    s.y.data() + 3, 3, &la),
              SORA_OK)
        << sora_last_error();
    const void *tail[3] = {s.price.data() + 3 * 2, s.movie.data() + 3,
                           s.user.data() + 3 * 2};
    ASSERT_EQ(
        sora_model_train_step_inputs(split.m, tail, s.y.data() + 3, 3, &lb),
        SORA_OK)
        << sora_last_error();
    EXPECT_EQ(la, lb);
  }
  EXPECT_EQ(sora_model_params(packed.m)[0], sora_model_params(split.m)[0]);
  EXPECT_EQ(sora_model_step(split.m), 2);

  sora_metrics ma, mb;
  ASSERT_EQ(sora_model_evaluate(packed.m, s.packed.data(), s.y.data(), 8, &ma),
            SORA_OK);
  ASSERT_EQ(
      sora_model_evaluate_inputs(split.m, s.pointers(), s.y.data(), 8, &mb),
      SORA_OK)
      << sora_last_error();
  EXPECT_EQ(ma.loss, mb.loss);
  EXPECT_EQ(ma.accuracy, mb.accuracy);
  EXPECT_EQ(mb.count, 8);
}

TEST(Inputs, CallerMemoryHoldsThePackBuffer) {
  sora_model_desc d = inputs_desc();
  sora_model_desc one = d;
  one.num_inputs = 0;
  one.inputs = nullptr;
  // Three rows of five slots, 64-byte aligned.
  EXPECT_EQ(sora_model_memory_bytes(&d), sora_model_memory_bytes(&one) + 64);
  size_t bytes = sora_model_memory_bytes(&d);
  std::vector<unsigned char> memory(bytes + 1);
  sora_model *m = nullptr;
  ASSERT_EQ(sora_model_create_in(&d, memory.data() + 1, bytes, &m), SORA_OK)
      << sora_last_error();
  EXPECT_EQ(sora_model_create_in(&d, memory.data(), bytes - 64, &m),
            SORA_ERR_ARGUMENT);
  ASSERT_EQ(sora_model_create_in(&d, memory.data() + 1, bytes, &m), SORA_OK);
  Instance heap(d);
  Samples s(7);
  std::vector<float> a(7 * kOut), b(7 * kOut, -9.0f);
  ASSERT_EQ(sora_model_predict(heap.m, s.packed.data(), 7, a.data()), SORA_OK);
  ASSERT_EQ(sora_model_predict_inputs(m, s.pointers(), 7, b.data()), SORA_OK)
      << sora_last_error();
  EXPECT_EQ(a, b);
  sora_metrics ma, mb;
  ASSERT_EQ(sora_model_evaluate(heap.m, s.packed.data(), s.y.data(), 7, &ma),
            SORA_OK);
  ASSERT_EQ(sora_model_evaluate_inputs(m, s.pointers(), s.y.data(), 7, &mb),
            SORA_OK);
  EXPECT_EQ(ma.loss, mb.loss);
  sora_model_destroy(m); // nothing to free
}

TEST(Inputs, BadArgumentsOfTheInputsFunctions) {
  Instance inst(inputs_desc());
  Samples s(4);
  std::vector<float> y(4 * kOut);
  EXPECT_EQ(sora_model_predict_inputs(inst.m, nullptr, 4, y.data()),
            SORA_ERR_ARGUMENT);
  const void *missing[3] = {s.price.data(), nullptr, s.user.data()};
  EXPECT_EQ(sora_model_predict_inputs(inst.m, missing, 4, y.data()),
            SORA_ERR_ARGUMENT);
  EXPECT_NE(std::string(sora_last_error()).find("'movie'"), std::string::npos)
      << sora_last_error();
  EXPECT_EQ(sora_model_predict_inputs(inst.m, s.pointers(), 4, nullptr),
            SORA_ERR_ARGUMENT);
  float loss;
  EXPECT_EQ(
      sora_model_train_step_inputs(inst.m, s.pointers(), s.y.data(), 4, &loss),
      SORA_ERR_ARGUMENT); // over max_batch: would overflow the pack
  EXPECT_EQ(
      sora_model_train_step_inputs(inst.m, s.pointers(), s.y.data(), 0, &loss),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(
      sora_model_train_step_inputs(inst.m, s.pointers(), nullptr, 2, &loss),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(
      sora_model_evaluate_inputs(inst.m, s.pointers(), s.y.data(), 4, nullptr),
      SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_predict_inputs(nullptr, s.pointers(), 4, y.data()),
            SORA_ERR_ARGUMENT);
  EXPECT_EQ(sora_model_predict_inputs(inst.m, nullptr, 0, y.data()), SORA_OK);
  sora_metrics mt;
  EXPECT_EQ(sora_model_evaluate_inputs(inst.m, nullptr, nullptr, 0, &mt),
            SORA_OK);
  EXPECT_TRUE(std::isnan(mt.loss));
}

TEST(Inputs, OneInputPassesItsRowsThrough) {
  sora_model_desc d = fake_desc(nullptr);
  Instance inst(d);
  std::vector<float> x(6 * kInput), a(6 * kOutput), b(6 * kOutput);
  for (int i = 0; i < 6; ++i)
    x[i * kInput] = static_cast<float>(i);
  const void *inputs[1] = {x.data()};
  ASSERT_EQ(sora_model_predict(inst.m, x.data(), 6, a.data()), SORA_OK);
  ASSERT_EQ(sora_model_predict_inputs(inst.m, inputs, 6, b.data()), SORA_OK);
  EXPECT_EQ(a, b);
}

/// Loads `text` as "ids.csv" for the inputs of inputs_desc().
sora_status load_ids(const TempDir &dir, const std::string &text,
                     sora_dataset &ds, double scale = 1.0) {
  write_raw(dir.file("ids.csv"), Bytes(text.begin(), text.end()));
  sora_data_spec spec = csv_source("ids.csv", 0, 0, scale);
  return sora_dataset_load_inputs(&spec, 3, kInputs, dir.path().c_str(),
                                  nullptr, &ds);
}

TEST(InputsCsv, IntegerColumnsHoldIds) {
  TempDir dir;
  sora_dataset ds;
  ASSERT_EQ(load_ids(dir,
                     "rating,p0,p1,movie,u0,u1\n"
                     "4,1.5,2,7,123456789,-3\n"
                     "2,-1,0.25,0,5,16777217\n",
                     ds, 2.0),
            SORA_OK)
      << sora_last_error();
  ASSERT_EQ(ds.count, 2);
  ASSERT_EQ(ds.sample_size, kSlots);
  EXPECT_EQ(ds.y[0], 4.0f);
  EXPECT_EQ(ds.x[0], 3.0f); // scale applies to floats
  EXPECT_EQ(ds.x[1], 4.0f);
  EXPECT_EQ(id_at(ds.x, 2), 7); // ...but not to ids
  EXPECT_EQ(id_at(ds.x, 3), 123456789);
  EXPECT_EQ(id_at(ds.x, 4), -3);
  EXPECT_EQ(ds.x[kSlots + 1], 0.5f);
  EXPECT_EQ(id_at(ds.x + kSlots, 4), 16777217); // exact beyond float's 2^24
  sora_dataset_free(&ds);
}

TEST(InputsCsv, BadIdsAreLocated) {
  TempDir dir;
  sora_dataset ds;
  const std::string header = "rating,p0,p1,movie,u0,u1\n4,1,2,7,1,1\n";
  EXPECT_EQ(load_ids(dir, header + "3,1,2,2.5,1,1\n", ds), SORA_ERR_FORMAT);
  std::string e = sora_last_error();
  EXPECT_NE(e.find("ids.csv:3: column 3 ('2.5') of input 'movie' is not a "
                   "whole number"),
            std::string::npos)
      << e;
  EXPECT_EQ(load_ids(dir, header + "3,1,2,10,1,1\n", ds), SORA_ERR_FORMAT);
  e = sora_last_error();
  EXPECT_NE(e.find("ids.csv:3: column 3 ('10') of input 'movie': id outside "
                   "[0, 10)"),
            std::string::npos)
      << e;
  EXPECT_EQ(load_ids(dir, header + "3,1,2,-1,1,1\n", ds), SORA_ERR_FORMAT);
  EXPECT_EQ(load_ids(dir, header + "3,1,2,1,1,3e9\n", ds), SORA_ERR_FORMAT);
  e = sora_last_error();
  EXPECT_NE(e.find("ids.csv:3: column 5 ('3e9') of input 'user' does not fit"),
            std::string::npos)
      << e;
  EXPECT_EQ(load_ids(dir, "4,1,2,7,1\n", ds), SORA_ERR_FORMAT);
  e = sora_last_error();
  EXPECT_NE(e.find("4 feature columns, but the model's inputs take 5"),
            std::string::npos)
      << e;
  EXPECT_EQ(ds.x, nullptr);
}

TEST(InputsCsv, FitTrainsOnIds) {
  TempDir dir;
  std::string text = "rating,p0,p1,movie,u0,u1\n";
  for (int i = 0; i < 10; ++i)
    text += std::to_string(i % 5) + ",0.5,1," + std::to_string(i) + ",2,3\n";
  write_raw(dir.file("ids.csv"), Bytes(text.begin(), text.end()));
  sora_model_desc d = inputs_desc();
  d.data = csv_source("ids.csv", 0, 0);
  d.epochs = 1;
  d.batch_size = 3;
  Instance inst(d);
  sora_fit_options o = sora_fit_defaults();
  o.verbose = 0;
  kernel_calls = 0;
  ASSERT_EQ(sora_model_fit(inst.m, dir.path().c_str(), &o), SORA_OK)
      << sora_last_error();
  EXPECT_EQ(sora_model_step(inst.m), 4); // batches of 3: 3, 3, 3, 1
}

TEST(InputsIdx, IntegerInputsCannotTakeImages) {
  sora_data_spec spec = idx_source("x.idx", "y.idx");
  sora_dataset ds;
  EXPECT_EQ(sora_dataset_load_inputs(&spec, 3, kInputs, nullptr, nullptr, &ds),
            SORA_ERR_ARGUMENT);
  std::string e = sora_last_error();
  EXPECT_NE(e.find("'x.idx' cannot feed integer input 'movie'"),
            std::string::npos)
      << e;
}

} // namespace
