//===- Passes.h - Graph-IR passes -------------------------------*- C++ -*-===//
#pragma once

#include "IR/Graph.h"

namespace sora::ir {

/// Removes every op whose value no output and no side-effecting op (an
/// optimizer update) reads. Leaves stay: they are the kernel's interface.
/// Returns true if it changed the graph.
bool eliminateDeadCode(Graph &g);

} // namespace sora::ir
