//===- Diagnostics.cpp - Printing located messages ------------------------===//
#include "sora/dsl/Diagnostics.h"

#include <algorithm>
#include <ostream>
#include <vector>

namespace sora {

namespace {
const char *severityName(Severity s) {
  switch (s) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

// Very long lines are cut around the caret so the excerpt stays readable.
constexpr size_t kMaxExcerpt = 160;
} // namespace

const char *diagIdentifier(Diag kind) {
  static const char *ids[] = {
#define DIAG(Enum, Severity, Identifier) Identifier,
#include "sora/dsl/DiagnosticKinds.def"
  };
  return ids[int(kind)];
}

Severity diagSeverity(Diag kind) {
  static const Severity severities[] = {
#define DIAG(Enum, Sev, Identifier) Severity::Sev,
#include "sora/dsl/DiagnosticKinds.def"
  };
  return severities[int(kind)];
}

std::vector<Diag> allDiagKinds() {
  return {
#define DIAG(Enum, Severity, Identifier) Diag::Enum,
#include "sora/dsl/DiagnosticKinds.def"
  };
}

void DiagnosticEngine::report(Diag kind, SourceRange where,
                              const std::string &message) {
  Severity severity = diagSeverity(kind);
  if (severity == Severity::Warning && werror_)
    severity = Severity::Error;
  if (severity == Severity::Error)
    ++errors_;
  std::string text = message + " [" + diagIdentifier(kind) + "]";
  pending_.push_back({where.begin, pending_.size(), {{severity, where, text}}});
}

void DiagnosticEngine::note(SourceRange where, const std::string &message) {
  if (!pending_.empty())
    pending_.back().messages.push_back({Severity::Note, where, message});
}

void DiagnosticEngine::note(const std::string &message) {
  if (!pending_.empty())
    pending_.back().messages.push_back({Severity::Note, std::nullopt, message});
}

void DiagnosticEngine::flush() {
  // Source order; reports at one position keep the order they were made in.
  std::sort(pending_.begin(), pending_.end(),
            [](const Group &a, const Group &b) {
              return a.offset != b.offset ? a.offset < b.offset
                                          : a.sequence < b.sequence;
            });
  unsigned printedErrors = 0;
  for (const Group &g : pending_) {
    if (g.messages[0].severity == Severity::Error &&
        ++printedErrors > kMaxErrors) {
      os_ << "fatal error: too many errors emitted, stopping now "
             "[too-many-errors]\n";
      break;
    }
    for (const Message &m : g.messages)
      print(m);
  }
  pending_.clear();
}

void DiagnosticEngine::print(const Message &m) {
  if (!m.where) {
    os_ << severityName(m.severity) << ": " << m.text << "\n";
    return;
  }
  const SourceRange where = *m.where;
  LineCol lc = file_.lineCol(where.begin);
  os_ << file_.path() << ":" << lc.line << ":" << lc.col << ": "
      << severityName(m.severity) << ": " << m.text << "\n";

  std::string_view line = file_.lineText(where.begin);
  size_t col = lc.col - 1;
  size_t first = 0;
  if (line.size() > kMaxExcerpt && col > kMaxExcerpt / 2)
    first = std::min(col - kMaxExcerpt / 2, line.size() - kMaxExcerpt / 2);
  std::string excerpt(line.substr(first, kMaxExcerpt));
  // Replace control bytes so binary input cannot garble the terminal.
  for (char &c : excerpt)
    if (static_cast<unsigned char>(c) < 32 && c != '\t')
      c = ' ';
  os_ << excerpt << "\n";

  // Keep tabs in the caret line so the caret lines up under the token.
  std::string marker;
  for (size_t i = first; i < col && i - first < excerpt.size(); ++i)
    marker += line[i] == '\t' ? '\t' : ' ';
  marker += '^';
  // The tildes stop at the end of the line (a span may go on to the next).
  size_t lineLeft = line.size() > col ? line.size() - col : 0;
  size_t span =
      std::min<size_t>(where.end > where.begin ? where.end - where.begin : 1,
                       std::max<size_t>(lineLeft, 1));
  span = std::min(span, kMaxExcerpt);
  if (span > 1)
    marker.append(span - 1, '~');
  os_ << marker << "\n";
}

unsigned editDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insertions, deletions, substitutions and
  // transpositions of neighbours ("adma" is one edit from "adam").
  std::vector<std::vector<unsigned>> d(a.size() + 1,
                                       std::vector<unsigned>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::optional<std::string>
closestMatch(std::string_view name,
             const std::vector<std::string> &candidates) {
  if (name.size() > 64)
    return std::nullopt;
  std::optional<std::string> best;
  unsigned bestDistance = 0;
  for (const std::string &c : candidates) {
    if (c.size() > 64)
      continue;
    unsigned d = editDistance(name, c);
    // A typo changes at most a third of the word.
    if (d * 3 > std::max(name.size(), c.size()) + 1)
      continue;
    if (!best || d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

} // namespace sora
