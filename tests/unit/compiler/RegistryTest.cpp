//===- RegistryTest.cpp - Every op has every rule
//--------------------------===//
#include "Autodiff/GradRules.h"
#include "CodeGen/KernelEmitter.h"
#include "IR/Folders.h"
#include "IR/OpRules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace sora::ir;

TEST(OpRegistry, EveryOpHasAShapeRuleAGradientRuleAndALowering) {
  for (int i = 0; i < kNumOps; ++i) {
    OpKind op = OpKind(i);
    SCOPED_TRACE(mnemonic(op));
    EXPECT_NE(shapeRule(op), nullptr);
    EXPECT_NE(gradRule(op), nullptr);
    EXPECT_NE(lowering(op), nullptr);
    EXPECT_NE(folder(op), nullptr);
    // Fusion runs elementwise ops inside other loops through their formula.
    if (isElementwise(op)) {
      EXPECT_NE(formula(op), nullptr);
    }
  }
}

TEST(OpRegistry, MnemonicsAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < kNumOps; ++i)
    EXPECT_TRUE(seen.insert(mnemonic(OpKind(i))).second) << mnemonic(OpKind(i));
}

TEST(OpRegistry, ShapeRulesRejectMismatchedOperands) {
  Graph g("t");
  Node *x = g.input("x", Type{false, true, {4}});
  Node *w = g.param("w", Type{false, false, {3, 5}}, ParamRole::Weight,
                    InitKind::Zeros);
  EXPECT_THROW(g.create(OpKind::MatMulNT, {x, w}), std::logic_error);
  EXPECT_THROW(g.create(OpKind::Add, {x, w}), std::logic_error);
  Node *ok = g.param("w2", Type{false, false, {3, 4}}, ParamRole::Weight,
                     InitKind::Zeros);
  EXPECT_EQ(g.create(OpKind::MatMulNT, {x, ok})->type.str(), "f32[?, 3]");
  EXPECT_EQ(verify(g), "");
}
