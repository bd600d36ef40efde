//===- GradRules.h - The gradient rule of every op ------------*- C++ -*-===//
#pragma once

#include "IR/OpTable.h"

#include <vector>

namespace sora::ir {

/// Given node `n` and the gradient `dy` of the objective with respect to
/// `n`, appends the ops that compute the gradient with respect to each
/// operand `i` for which `need[i]` is set, and returns them (nullptr where
/// not needed or not differentiable).
using GradRule = std::vector<Node *> (*)(Graph &g, Node *n, Node *dy,
                                         const std::vector<bool> &need);

/// The gradient rule of `op`. Every op has one: leaves and ops that only
/// appear in backward or update code (Ops.def's NO_GRAD) have a "not
/// differentiable" rule, which fails loudly if autodiff ever reaches it.
GradRule gradRule(OpKind op);

/// The rule table; each op family registers its rules into it.
using GradTable = OpTable<GradRule>;
/// Convolution and average pooling (ImageGradRules.cpp).
void registerImageGradRules(GradTable &table);

} // namespace sora::ir
