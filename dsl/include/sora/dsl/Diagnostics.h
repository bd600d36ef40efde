//===- Diagnostics.h - Located errors, warnings and notes ------*- C++ -*-===//
//
// Diagnostics are printed the way clang prints them:
//
//   file:line:col: error: message
//     source line
//     ^~~~~
//   file:line:col: note: ...
//
// Library code never exits: it reports here and returns failure, and the
// driver turns "had errors" into exit status 1.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Source.h"

#include <iosfwd>
#include <optional>
#include <string>

namespace sora {

enum class Severity { Error, Warning, Note };

class DiagnosticEngine {
public:
  DiagnosticEngine(const SourceFile &file, std::ostream &os)
      : file_(file), os_(os) {}

  void error(SourceRange where, const std::string &message);
  void warning(SourceRange where, const std::string &message);
  void note(SourceRange where, const std::string &message);
  /// A note with no location (`note: ...`).
  void note(const std::string &message);

  unsigned errorCount() const { return errors_; }
  bool hadErrors() const { return errors_ != 0; }
  const SourceFile &file() const { return file_; }

private:
  void emit(Severity severity, std::optional<SourceRange> where,
            const std::string &message);

  const SourceFile &file_;
  std::ostream &os_;
  unsigned errors_ = 0;
};

/// Levenshtein distance, for "did you mean" suggestions.
unsigned editDistance(std::string_view a, std::string_view b);

/// The candidate closest to `name`, if it is close enough to be a likely typo.
std::optional<std::string>
closestMatch(std::string_view name, const std::vector<std::string> &candidates);

} // namespace sora
