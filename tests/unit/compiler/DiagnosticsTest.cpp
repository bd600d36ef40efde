//===- DiagnosticsTest.cpp - Locations, carets, suggestions
//----------------===//
#include "sora/dsl/Diagnostics.h"
#include "sora/dsl/Parser.h"

#include <gtest/gtest.h>

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
  d.error({18, 23}, "dense() expects an input of rank 1");
  EXPECT_EQ(out.str(), "m.sora:2:9: error: dense() expects an input of rank 1\n"
                       "  h = dense(image, 64)\n"
                       "        ^~~~~\n");
  EXPECT_EQ(d.errorCount(), 1u);
}

TEST(Diagnostics, EditDistanceSuggestions) {
  EXPECT_EQ(editDistance("dense", "dense"), 0u);
  EXPECT_EQ(editDistance("dnese", "dense"), 2u);
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
  EXPECT_NE(out.str().find("nested deeper than"), std::string::npos);
}
