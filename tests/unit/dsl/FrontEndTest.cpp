//===- FrontEndTest.cpp - Parsing and checking whole programs -------------===//
#include "sora/dsl/Builtins.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

using namespace sora;

namespace {

struct Result {
  std::optional<dsl::Program> program;
  std::string diagnostics;
};

Result check(const std::string &text) {
  SourceFile f("t.sora", text);
  std::ostringstream out;
  Result r;
  {
    DiagnosticEngine d(f, out);
    if (auto ast = parseFile(f, d))
      r.program = checkProgram(*ast, d);
  }
  r.diagnostics = out.str();
  return r;
}

/// The programs of the language reference: its ```sora-fenced blocks
/// (output and programs that show a mistake are fenced as ```text).
std::vector<std::string> languageExamples(bool &found) {
  std::ifstream in(SORAC_SOURCE_DIR "/docs/language.md");
  found = in.good();
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<std::string> out;
  std::regex fence("```sora\n([\\s\\S]*?)```");
  for (std::sregex_iterator it(text.begin(), text.end(), fence), end; it != end;
       ++it)
    out.push_back((*it)[1]);
  return out;
}

} // namespace

// docs/language.md is part of the repository: its absence, or a page with
// no programs (a renamed fence), is a failure, not a skip.
TEST(FrontEnd, EveryProgramOfLanguageMdChecks) {
  bool found = false;
  std::vector<std::string> examples = languageExamples(found);
  ASSERT_TRUE(found) << SORAC_SOURCE_DIR "/docs/language.md cannot be read";
  EXPECT_GE(examples.size(), 3u) << "docs/language.md has no ```sora programs";
  for (const std::string &program : examples) {
    Result r = check(program);
    EXPECT_TRUE(r.program.has_value()) << program << "\n" << r.diagnostics;
  }
}

TEST(FrontEnd, ShapesOfTheCnn) {
  Result r = check(R"(
model cnn {
  input image : f32[28, 28, 1]
  c1 = image -> conv2d(32, kernel: 3, padding: same, activation: relu) -> maxpool2d(2)
  c2 = c1 -> conv2d(64, kernel: 3, stride: 2) -> avgpool2d(2, stride: 1)
  output probs = c2 -> flatten -> dropout(0.25) -> dense(10, activation: softmax)
})");
  ASSERT_TRUE(r.program) << r.diagnostics;
  const dsl::Model &m = r.program->models[0];
  std::vector<std::vector<int64_t>> shapes;
  for (const dsl::Node &n : m.nodes)
    shapes.push_back(n.shape);
  // conv same: 28x28x32; pool 2: 14x14x32; conv valid k3 s2: 6x6x64;
  // avgpool 2 s1: 5x5x64; flatten: 1600.
  EXPECT_EQ(shapes[1], (std::vector<int64_t>{28, 28, 32}));
  EXPECT_EQ(shapes[2], (std::vector<int64_t>{14, 14, 32}));
  EXPECT_EQ(shapes[3], (std::vector<int64_t>{6, 6, 64}));
  EXPECT_EQ(shapes[4], (std::vector<int64_t>{5, 5, 64}));
  EXPECT_EQ(shapes[5], (std::vector<int64_t>{1600}));
}

TEST(FrontEnd, TrainDefaultsFollowLanguageMd) {
  Result r = check("model m { input x : f32[2]\n output y = dense(x, 1) }\n"
                   "train m { loss = mse }");
  ASSERT_TRUE(r.program) << r.diagnostics;
  const dsl::TrainConfig &t = *r.program->models[0].train;
  EXPECT_EQ(t.batchSize, 32);
  EXPECT_EQ(t.epochs, 1);
  EXPECT_EQ(t.seed, 0);
  EXPECT_EQ(t.validationSplit, 0);
  EXPECT_TRUE(t.shuffle);
  EXPECT_TRUE(t.metricLoss);
  EXPECT_FALSE(t.metricAccuracy);
  EXPECT_EQ(t.optimizer.kind, dsl::OptimizerKind::Adam);
  EXPECT_DOUBLE_EQ(t.optimizer.lr.initial, 1e-3);
  EXPECT_DOUBLE_EQ(t.optimizer.epsilon, 1e-7);
}

TEST(FrontEnd, ConstantsFoldAsRealNumbers) {
  Result r = check("model m { input x : f32[2]\n output y = dense(x, 2*32) }\n"
                   "train m { loss = mse lr = 1/255 - 1e-3 "
                   "data = idx(images: \"a\", labels: \"b\", onehot: 64) }");
  ASSERT_TRUE(r.program) << r.diagnostics;
  EXPECT_EQ(r.program->models[0].nodes[1].units, 64);
  EXPECT_DOUBLE_EQ(r.program->models[0].train->optimizer.lr.initial,
                   1.0 / 255 - 1e-3);
}

TEST(FrontEnd, HugeInputsAreErrorsNotCrashes) {
  std::string longName(1000000, 'a');
  Result r = check("model m { input x : f32[4]\n output y = dense(" + longName +
                   ", 3) }");
  EXPECT_FALSE(r.program);
  EXPECT_NE(r.diagnostics.find("undefined-name"), std::string::npos);
  r = check(
      "model m { input x : f32[99999999999999999999999999] output y = x }");
  EXPECT_NE(r.diagnostics.find("invalid-dimension"), std::string::npos);
  r = check("model m { input x : f32[4]\n output y = dense(x, 1e999) }");
  EXPECT_NE(r.diagnostics.find("number-too-large"), std::string::npos);
  r = check("");
  EXPECT_NE(r.diagnostics.find("no-model"), std::string::npos);
}

// Builtins.cpp's defaults are the ones a program gets when it names the
// function without arguments; Program.h's are the ones it gets when it does
// not name it at all. Both are docs/language.md's, so they must agree.
TEST(FrontEnd, BuiltinTableDefaultsAreProgramDefaults) {
  Result r = check("model m { input x : f32[4, 4, 1]\n"
                   "  c = conv2d(x, 2, kernel: 3) -> maxpool2d(2)\n"
                   "  output y = c -> flatten -> dense(1) -> leaky_relu }\n"
                   "train m { loss = mse optimizer = adam\n"
                   "  data = csv(path: \"d.csv\", label_column: 0) }");
  ASSERT_TRUE(r.program) << r.diagnostics;
  const dsl::Model &m = r.program->models[0];
  const dsl::Node fresh;
  EXPECT_EQ(m.nodes[1].stride, fresh.stride);
  EXPECT_EQ(m.nodes[1].samePadding, fresh.samePadding);
  EXPECT_EQ(m.nodes[1].activation.name, fresh.activation.name);
  EXPECT_EQ(m.nodes[2].stride, 2); // a pooling's stride is its size
  EXPECT_EQ(m.nodes[4].useBias, fresh.useBias);
  using Number = std::pair<std::string, double>;
  EXPECT_EQ(m.nodes[5].activation.numbers,
            std::vector<Number>{Number("alpha", 0.01)}); // Keras' and PyTorch's
  const dsl::TrainConfig &t = *m.train;
  const dsl::Optimizer adam;
  EXPECT_EQ(t.optimizer.kind, adam.kind);
  EXPECT_DOUBLE_EQ(t.optimizer.lr.initial, adam.lr.initial);
  EXPECT_DOUBLE_EQ(t.optimizer.beta1, adam.beta1);
  EXPECT_DOUBLE_EQ(t.optimizer.beta2, adam.beta2);
  EXPECT_DOUBLE_EQ(t.optimizer.epsilon, adam.epsilon);
  const dsl::TrainConfig defaults;
  EXPECT_EQ(t.batchSize, defaults.batchSize);
  EXPECT_EQ(t.epochs, defaults.epochs);
  EXPECT_EQ(t.seed, defaults.seed);
  EXPECT_DOUBLE_EQ(t.validationSplit, defaults.validationSplit);
  EXPECT_EQ(t.shuffle, defaults.shuffle);
  EXPECT_DOUBLE_EQ(t.data.scale, dsl::DataSource{}.scale);
  EXPECT_EQ(t.data.onehot, dsl::DataSource{}.onehot);

  r = check("model m { input x : f32[2]\n output y = dense(x, 1) }\n"
            "train m { loss = mse optimizer = sgd }");
  ASSERT_TRUE(r.program) << r.diagnostics;
  const dsl::Optimizer &sgd = r.program->models[0].train->optimizer;
  EXPECT_DOUBLE_EQ(sgd.lr.initial, 0.01); // Keras' default for SGD
  EXPECT_EQ(sgd.momentum, dsl::Optimizer{}.momentum);
  EXPECT_EQ(sgd.nesterov, dsl::Optimizer{}.nesterov);
  r = check("model m { input x : f32[2]\n output y = dense(x, 1) }\n"
            "train m { loss = mse optimizer = rmsprop }");
  ASSERT_TRUE(r.program) << r.diagnostics;
  const dsl::Optimizer &rms = r.program->models[0].train->optimizer;
  EXPECT_DOUBLE_EQ(rms.rho, dsl::Optimizer{}.rho);
  EXPECT_DOUBLE_EQ(rms.epsilon, dsl::Optimizer{}.epsilon);
}

// Every row of the table can be checked: an operation takes its tensor
// first, a range is not empty, a choice's default is one of its choices.
TEST(Builtins, RowsAreWellFormed) {
  for (const std::string &name : dsl::builtinNames()) {
    const dsl::Builtin *b = dsl::lookupBuiltin(name);
    ASSERT_TRUE(b);
    ASSERT_FALSE(b->params.empty()) << name;
    EXPECT_EQ(b->params[0].kind, dsl::ParamKind::Tensor) << name;
    EXPECT_TRUE(b->params[0].required) << name;
    for (const dsl::Param &p : b->params) {
      EXPECT_LE(p.min, p.max) << name << " " << p.name;
      if (p.kind == dsl::ParamKind::Choice) {
        ASSERT_TRUE(p.choices && p.dfltChoice) << name << " " << p.name;
        EXPECT_NE(std::string(p.choices).find(p.dfltChoice), std::string::npos);
      }
    }
  }
}

// Every activation row of Builtins.cpp checks as a chain step, and names
// its activation (the graph builder's side: ActivationOpsTest).
TEST(Builtins, EveryActivationRowChecks) {
  for (const std::string &name :
       dsl::operationNames(dsl::BuiltinGroup::Activation)) {
    Result r =
        check("model m { input x : f32[3]\n output y = x -> " + name + " }");
    ASSERT_TRUE(r.program) << name << "\n" << r.diagnostics;
    EXPECT_EQ(r.program->models[0].nodes[1].activation.name, name);
  }
}
