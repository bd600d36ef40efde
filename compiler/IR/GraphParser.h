//===- GraphParser.h - Reading the textual graph IR ------------*- C++ -*-===//
#pragma once

#include "IR/Graph.h"
#include "sora/dsl/Diagnostics.h"

#include <memory>

namespace sora::ir {

/// Parses one graph in the form print() writes. Errors are reported to
/// `diags` (invalid-ir) and yield nullptr.
std::unique_ptr<Graph> parseGraph(const SourceFile &file,
                                  DiagnosticEngine &diags);

} // namespace sora::ir
