//===- Folders.h - Constant folding rules of the ops -----------*- C++ -*-===//
#pragma once

#include "IR/Graph.h"

#include <array>
#include <optional>
#include <vector>

namespace sora::ir {

/// Computes a scalar op's value from constant operand values, or returns
/// nullopt when the op cannot be folded (not elementwise, or has effects).
using Folder = std::optional<double> (*)(const Node &n,
                                         const std::vector<double> &operands);

/// The folder of `op` (every op has one; some never fold).
Folder folder(OpKind op);

} // namespace sora::ir
