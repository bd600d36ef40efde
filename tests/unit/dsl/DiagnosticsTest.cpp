//===- DiagnosticsTest.cpp - Locations, carets, suggestions ---------------===//
#include "sora/dsl/Diagnostics.h"
#include "sora/dsl/Parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace sora;

TEST(Source, LineAndColumnOfOffsets) {
  SourceFile f("a.sora", "ab\ncd\n\nx");
  EXPECT_EQ(f.lineCol(0).line, 1u);
  EXPECT_EQ(f.lineCol(1).col, 2u);
  EXPECT_EQ(f.lineCol(3).line, 2u);
  EXPECT_EQ(f.lineCol(3).col, 1u);
  EXPECT_EQ(f.lineCol(7).line, 4u);
  EXPECT_EQ(f.lineText(4), "cd");
  EXPECT_EQ(f.lineText(6), "");
}

TEST(Diagnostics, CaretAndTildesUnderTheSpan) {
  SourceFile f("m.sora", "model m {\n  h = dense(image, 64)\n}\n");
  std::ostringstream out;
  DiagnosticEngine d(f, out);
  d.report(Diag::RankMismatch, {18, 23}, "dense() expects an input of rank 1");
  d.flush();
  EXPECT_EQ(out.str(), "m.sora:2:9: error: dense() expects an input of rank 1 "
                       "[rank-mismatch]\n"
                       "  h = dense(image, 64)\n"
                       "        ^~~~~\n");
  EXPECT_EQ(d.errorCount(), 1u);
}

TEST(Diagnostics, PrintedInSourceOrderAndCapped) {
  SourceFile f("m.sora", "abcdefghijklmnopqrstuvwxyz0123456789");
  std::ostringstream out;
  DiagnosticEngine d(f, out);
  d.report(Diag::UndefinedName, {5, 6}, "second");
  d.note({1, 2}, "note of second");
  d.report(Diag::UndefinedName, {2, 3}, "first");
  for (uint32_t i = 0; i < 30; ++i)
    d.report(Diag::SyntaxError, {10 + i, 11 + i}, "more");
  d.flush();
  std::string s = out.str();
  EXPECT_LT(s.find("first"), s.find("second"));
  EXPECT_LT(s.find("second"), s.find("note of second"));
  EXPECT_NE(s.find("too many errors emitted"), std::string::npos);
  EXPECT_EQ(d.errorCount(), 32u);
}

TEST(Diagnostics, WerrorMakesWarningsErrors) {
  SourceFile f("m.sora", "x");
  std::ostringstream out;
  DiagnosticEngine d(f, out);
  d.report(Diag::UnusedBinding, {0, 1}, "unused");
  EXPECT_FALSE(d.hadErrors());
  d.setWarningsAreErrors(true);
  d.report(Diag::UnusedBinding, {0, 1}, "unused");
  EXPECT_TRUE(d.hadErrors());
}

TEST(Diagnostics, EveryKindIsDocumented) {
  std::ifstream in(SORAC_SOURCE_DIR "/docs/diagnostics.md");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  for (Diag kind : allDiagKinds())
    EXPECT_NE(ss.str().find(std::string("### ") + diagIdentifier(kind)),
              std::string::npos)
        << diagIdentifier(kind) << " is missing from docs/diagnostics.md";
}

TEST(Diagnostics, EditDistanceSuggestions) {
  EXPECT_EQ(editDistance("dense", "dense"), 0u);
  EXPECT_EQ(editDistance("dnese", "dense"), 1u); // a transposition
  EXPECT_EQ(editDistance("dxnse", "dense"), 1u);
  EXPECT_EQ(closestMatch("adma", {"adam", "sgd", "rmsprop"}), "adam");
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(closestMatch("desne", {"dense", "relu", "conv2d"}), "dense");
  EXPECT_EQ(closestMatch("batchsize", {"batch_size", "epochs"}), "batch_size");
  EXPECT_FALSE(closestMatch("zzzzzz", {"dense", "relu"}).has_value());
}

TEST(Parser, BinaryGarbageIsALocatedErrorNotACrash) {
  std::string bytes;
  for (int i = 0; i < 4096; ++i)
    bytes += char((i * 131 + 7) & 0xff);
  SourceFile f("g.sora", bytes);
  std::ostringstream out;
  DiagnosticEngine d(f, out);
  EXPECT_FALSE(parseFile(f, d).has_value());
  d.flush();
  EXPECT_NE(out.str().find("g.sora:1:"), std::string::npos) << out.str();
}

TEST(Parser, DeepNestingIsRefused) {
  std::string text =
      "model m { input x : f32[1]\n output y = " + std::string(200000, '(') +
      "x" + std::string(200000, ')') + " }";
  SourceFile f("n.sora", text);
  std::ostringstream out;
  DiagnosticEngine d(f, out);
  EXPECT_FALSE(parseFile(f, d).has_value());
  d.flush();
  EXPECT_NE(out.str().find("nested deeper than"), std::string::npos);
}
