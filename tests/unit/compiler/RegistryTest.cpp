//===- RegistryTest.cpp - Every op has every rule ------------------------===//
#include "Autodiff/GradRules.h"
#include "CodeGen/KernelEmitter.h"
#include "IR/Folders.h"
#include "IR/OpRules.h"
#include "sora/dsl/Builtins.h"

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

// The front end names activations by Builtins.cpp's rows and the graph
// builder maps each name to the op of that mnemonic and each number
// parameter to the attribute of that name: the two tables must agree.
TEST(OpRegistry, EveryActivationRowIsAnActivationOp) {
  std::set<std::string> rows;
  for (const std::string &name :
       sora::dsl::operationNames(sora::dsl::BuiltinGroup::Activation)) {
    SCOPED_TRACE(name);
    rows.insert(name);
    if (name == "linear")
      continue; // the identity: no op
    std::optional<OpKind> op = opByMnemonic(name);
    ASSERT_TRUE(op);
    EXPECT_TRUE(hasTrait(*op, Activation));
    std::set<std::string> numbers, attrs;
    for (const sora::dsl::Param &p : sora::dsl::lookupBuiltin(name)->params)
      if (p.kind == sora::dsl::ParamKind::Number)
        numbers.insert(p.name);
    for (AttrId id : attrIds(*op)) {
      attrs.insert(attrName(id));
      EXPECT_TRUE(std::holds_alternative<double>(declaredValue(id)));
    }
    EXPECT_EQ(numbers, attrs);
  }
  for (int i = 0; i < kNumOps; ++i)
    if (hasTrait(OpKind(i), Activation)) {
      EXPECT_TRUE(rows.count(mnemonic(OpKind(i)))) << mnemonic(OpKind(i));
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
