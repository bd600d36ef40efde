//===- Diagnostics.cpp - Printing located messages
//-------------------------===//
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

void DiagnosticEngine::emit(Severity severity, std::optional<SourceRange> where,
                            const std::string &message) {
  if (severity == Severity::Error)
    ++errors_;
  if (!where) {
    os_ << severityName(severity) << ": " << message << "\n";
    return;
  }
  LineCol lc = file_.lineCol(where->begin);
  os_ << file_.path() << ":" << lc.line << ":" << lc.col << ": "
      << severityName(severity) << ": " << message << "\n";

  std::string_view line = file_.lineText(where->begin);
  size_t col = lc.col - 1;
  size_t first = 0;
  if (line.size() > kMaxExcerpt && col > kMaxExcerpt / 2)
    first = std::min(col - kMaxExcerpt / 2, line.size() - kMaxExcerpt / 2);
  std::string_view shown = line.substr(first, kMaxExcerpt);
  // Replace control bytes so binary input cannot garble the terminal.
  std::string excerpt(shown);
  for (char &c : excerpt)
    if (static_cast<unsigned char>(c) < 32 && c != '\t')
      c = ' ';
  os_ << excerpt << "\n";

  // Keep tabs in the caret line so the caret lines up under the token.
  std::string marker;
  for (size_t i = first; i < col && i - first < excerpt.size(); ++i)
    marker += line[i] == '\t' ? '\t' : ' ';
  marker += '^';
  size_t spanEnd =
      std::min<size_t>(where->end, where->begin + line.size() - col);
  size_t span = spanEnd > where->begin ? spanEnd - where->begin : 1;
  span = std::min(span, kMaxExcerpt);
  if (span > 1)
    marker.append(span - 1, '~');
  os_ << marker << "\n";
}

void DiagnosticEngine::error(SourceRange where, const std::string &message) {
  emit(Severity::Error, where, message);
}
void DiagnosticEngine::warning(SourceRange where, const std::string &message) {
  emit(Severity::Warning, where, message);
}
void DiagnosticEngine::note(SourceRange where, const std::string &message) {
  emit(Severity::Note, where, message);
}
void DiagnosticEngine::note(const std::string &message) {
  emit(Severity::Note, std::nullopt, message);
}

unsigned editDistance(std::string_view a, std::string_view b) {
  std::vector<unsigned> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    unsigned diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      unsigned up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::optional<std::string>
closestMatch(std::string_view name,
             const std::vector<std::string> &candidates) {
  if (name.size() > 64)
    return std::nullopt;
  std::optional<std::string> best;
  unsigned bestDistance = 0;
  for (const std::string &c : candidates) {
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
