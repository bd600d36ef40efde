//===- args_test.cpp - Training options from a command line --------------===//
#include "sora/runtime.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

/// A mutable argv of `args` (argv[0] is "prog"), NULL-terminated as C's.
struct Argv {
  explicit Argv(std::vector<std::string> args) : text(std::move(args)) {
    text.insert(text.begin(), "prog");
    for (std::string &s : text)
      ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
    argc = static_cast<int>(text.size());
  }
  std::vector<std::string> left() const {
    return std::vector<std::string>(ptrs.begin() + 1, ptrs.begin() + argc);
  }
  std::vector<std::string> text;
  std::vector<char *> ptrs;
  int argc;
};

TEST(FitOptionsFromArgs, TakesTheOptionsAndKeepsTheRest) {
  Argv a({"in.safetensors", "--data", "dir", "--epochs", "3", "--limit=50",
          "--validation-split", "0.25", "--seed=7", "--threads", "1", "out",
          "--other"});
  sora_fit_options o = sora_fit_defaults();
  const char *data_dir = nullptr;
  ASSERT_EQ(sora_fit_options_from_args(&a.argc, a.ptrs.data(), &o, &data_dir),
            SORA_OK)
      << sora_last_error();
  EXPECT_STREQ(data_dir, "dir");
  EXPECT_EQ(o.epochs, 3);
  EXPECT_EQ(o.limit, 50);
  EXPECT_DOUBLE_EQ(o.validation_split, 0.25);
  EXPECT_EQ(o.seed, 7);
  EXPECT_EQ(o.verbose, 1); // untouched
  EXPECT_EQ(a.left(),
            (std::vector<std::string>{"in.safetensors", "out", "--other"}));
  EXPECT_STREQ(a.ptrs[0], "prog");
  EXPECT_EQ(a.ptrs[a.argc], nullptr);
}

TEST(FitOptionsFromArgs, NothingToTake) {
  Argv a({});
  sora_fit_options o = sora_fit_defaults();
  ASSERT_EQ(sora_fit_options_from_args(&a.argc, a.ptrs.data(), &o, nullptr),
            SORA_OK);
  EXPECT_EQ(a.argc, 1);
  EXPECT_EQ(o.epochs, 0);
  EXPECT_EQ(o.seed, -1);
}

TEST(FitOptionsFromArgs, DataStaysWithoutAPlaceForIt) {
  Argv a({"--data", "dir", "--epochs", "2"});
  sora_fit_options o = sora_fit_defaults();
  ASSERT_EQ(sora_fit_options_from_args(&a.argc, a.ptrs.data(), &o, nullptr),
            SORA_OK);
  EXPECT_EQ(a.left(), (std::vector<std::string>{"--data", "dir"}));
  EXPECT_EQ(o.epochs, 2);
}

TEST(FitOptionsFromArgs, RefusesBadValues) {
  const std::vector<std::vector<std::string>> bad = {
      {"--epochs"},
      {"--epochs", "x"},
      {"--epochs", "-1"},
      {"--limit", "3.5"},
      {"--limit="},
      {"--seed", "99999999999999999999"},
      {"--threads", "0"},
      {"--validation-split", "1"},
      {"--validation-split", "-0.1"},
      {"--validation-split", "a"},
  };
  for (const auto &args : bad) {
    Argv a(args);
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + args[1] : ""));
    sora_fit_options o = sora_fit_defaults();
    const char *data_dir = nullptr;
    EXPECT_EQ(sora_fit_options_from_args(&a.argc, a.ptrs.data(), &o, &data_dir),
              SORA_ERR_ARGUMENT);
    EXPECT_NE(std::string(sora_last_error()).find(args[0].substr(0, 7)),
              std::string::npos)
        << sora_last_error();
  }
  sora_fit_options o = sora_fit_defaults();
  EXPECT_EQ(sora_fit_options_from_args(nullptr, nullptr, &o, nullptr),
            SORA_ERR_ARGUMENT);
}

} // namespace
