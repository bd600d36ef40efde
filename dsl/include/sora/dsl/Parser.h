//===- Parser.h - From source text to the AST ------------------*- C++ -*-===//
#pragma once

#include "sora/dsl/AST.h"
#include "sora/dsl/Diagnostics.h"

#include <optional>

namespace sora {

/// Parses a whole file. Syntax errors are reported to `diags` (with the
/// location and what was expected) and yield std::nullopt.
std::optional<ast::File> parseFile(const SourceFile &file,
                                   DiagnosticEngine &diags);

} // namespace sora
