//===- Diagnostics.h - Located errors, warnings and notes ------*- C++ -*-===//
//
// Diagnostics are printed the way clang prints them:
//
//   file:line:col: error: message [identifier]
//   source line
//          ^~~~~
//   file:line:col: note: ...
//
// Every diagnostic has a kind (DiagnosticKinds.def) that gives its severity
// and identifier. Diagnostics are collected and printed by flush() in source
// order (each with the notes reported after it), at most kMaxErrors errors.
// Library code never exits: it reports here and returns failure; the driver
// turns "had errors" into exit status 1.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Source.h"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace sora {

enum class Diag {
#define DIAG(Enum, Severity, Identifier) Enum,
#include "sora/dsl/DiagnosticKinds.def"
};

enum class Severity { Error, Warning, Note };

/// The kind's identifier ("undefined-name") and default severity.
const char *diagIdentifier(Diag kind);
Severity diagSeverity(Diag kind);
/// Every kind, for the documentation test.
std::vector<Diag> allDiagKinds();

class DiagnosticEngine {
public:
  static constexpr unsigned kMaxErrors = 20;

  DiagnosticEngine(const SourceFile &file, std::ostream &os)
      : file_(file), os_(os) {}
  ~DiagnosticEngine() { flush(); }

  /// An error or warning, as its kind says.
  void report(Diag kind, SourceRange where, const std::string &message);
  /// A note attached to the last error or warning.
  void note(SourceRange where, const std::string &message);
  /// A note with no location (`note: ...`).
  void note(const std::string &message);

  /// -Werror: warnings count as errors.
  void setWarningsAreErrors(bool on) { werror_ = on; }

  unsigned errorCount() const { return errors_; }
  bool hadErrors() const { return errors_ != 0; }
  const SourceFile &file() const { return file_; }

  /// Prints what was reported, in source order, and forgets it.
  void flush();

private:
  struct Message {
    Severity severity;
    std::optional<SourceRange> where;
    std::string text;
  };
  struct Group {
    uint32_t offset;
    size_t sequence;
    std::vector<Message> messages; ///< the error or warning, then its notes
  };
  void print(const Message &m);

  const SourceFile &file_;
  std::ostream &os_;
  std::vector<Group> pending_;
  unsigned errors_ = 0;
  bool werror_ = false;
};

/// Levenshtein distance, for "did you mean" suggestions.
unsigned editDistance(std::string_view a, std::string_view b);

/// The candidate closest to `name`, if it is close enough to be a likely
/// typo.
std::optional<std::string>
closestMatch(std::string_view name, const std::vector<std::string> &candidates);

} // namespace sora
