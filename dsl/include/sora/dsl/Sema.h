//===- Sema.h - Semantic checks: from AST to a checked Program --*- C++ -*-===//
#pragma once

#include "sora/dsl/AST.h"
#include "sora/dsl/Diagnostics.h"
#include "sora/dsl/Program.h"

#include <optional>

namespace sora {

/// Resolves names, folds constants, checks every call against the built-in
/// table and every train key, infers shapes. All independent errors are
/// reported; returns std::nullopt if there was any.
std::optional<dsl::Program> checkProgram(const ast::File &file,
                                         DiagnosticEngine &diags);

} // namespace sora
