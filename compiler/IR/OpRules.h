//===- OpRules.h - Shape rules of the ops ---------------------*- C++ -*-===//
#pragma once

#include "IR/Graph.h"

#include <string>

namespace sora::ir {

/// Computes an op's result type from its operands and attributes, or sets
/// `error` and returns a none type.
using ShapeRule = Type (*)(const std::vector<Node *> &operands,
                           const AttrList &attrs, std::string &error);

/// The shape rule of `op` (nullptr only if the table is incomplete, which
/// the registry self-test catches).
ShapeRule shapeRule(OpKind op);

/// Elementwise ops compute each output element from the operands' elements
/// at the same index (bias_add: the bias at the last-dimension index), so
/// they can run inside another op's loop (fusion). Each has a formula in
/// CodeGen. Ops.def's Elementwise trait.
bool isElementwise(OpKind op);

/// Whether the windows of pooling op `n` (a pool or its gradient) tile its
/// input: every input element lies in exactly one window. Then
/// maxpool2d_grad writes each element once, and can hand it to an epilogue
/// (the activation's derivative before the pool).
bool poolWindowsTile(const Node &n);

/// Optimizer updates: (weight, gradient, state...) -> none, in place.
/// Ops.def's Update trait.
bool isUpdate(OpKind op);

/// Whether operand `operand` of elementwise `op` is a [C] vector read at
/// the last-dimension index: bias_add's bias, channel_mul's scale,
/// normalize's mean and variance.
bool readsByFeature(OpKind op, size_t operand);

} // namespace sora::ir
