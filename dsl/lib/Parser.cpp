//===- Parser.cpp - Runs the X3 grammar, reports syntax errors ------------===//
//
// The only file that instantiates the grammar. Before parsing, a linear scan
// bounds the nesting depth of brackets, so that no input can overflow the
// stack of the recursive-descent parser.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/Parser.h"

#include "Grammar.h"

#include <fmt/format.h>

namespace sora {

namespace {

constexpr int kMaxNesting = 256;

/// Reports the first place where brackets nest deeper than kMaxNesting.
bool checkNesting(const SourceFile &file, DiagnosticEngine &diags) {
  const std::string &text = file.text();
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '#') { // comment to end of line
      while (i < text.size() && text[i] != '\n')
        ++i;
    } else if (c == '"') { // string: skip escapes and contents
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
    } else if (c == '(' || c == '[' || c == '{') {
      if (++depth > kMaxNesting) {
        diags.report(
            Diag::NestingTooDeep, {uint32_t(i), uint32_t(i + 1)},
            fmt::format("brackets nested deeper than {} levels", kMaxNesting));
        return false;
      }
    } else if (c == ')' || c == ']' || c == '}') {
      depth = depth > 0 ? depth - 1 : 0;
    }
  }
  return true;
}

/// A short description of the token at `offset`, for "found ..." messages.
std::string describeTokenAt(const std::string &text, uint32_t offset,
                            uint32_t &end) {
  end = offset;
  if (offset >= text.size())
    return "end of file";
  auto isWord = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.';
  };
  unsigned char c = text[offset];
  if (isWord(c)) {
    while (end < text.size() && isWord(text[end]) && end - offset < 40)
      ++end;
    return "'" + text.substr(offset, end - offset) + "'";
  }
  end = offset + 1;
  if (c == '\n')
    return "end of line";
  if (c < 32 || c >= 127)
    return fmt::format("byte 0x{:02x}", c);
  return fmt::format("'{}'", char(c));
}

/// Whether the syntax error at `offset` is a C-style comment (`//`, `/*`),
/// at its first character or its second.
bool isCStyleComment(const std::string &text, uint32_t offset) {
  auto at = [&](uint32_t i, const char *two) {
    return text.compare(i, 2, two) == 0;
  };
  if (offset >= text.size())
    return false;
  if (at(offset, "//") || at(offset, "/*"))
    return true;
  return offset > 0 && (at(offset - 1, "//") || at(offset - 1, "/*"));
}

/// X3 names an unnamed parser by its C++ type; every parser that can fail
/// an expectation is named in the grammar, but never show a type name.
std::string readable(const std::string &expected) {
  if (expected.find("boost") != std::string::npos ||
      expected.find("spirit") != std::string::npos)
    return "a valid token";
  return expected;
}

} // namespace

std::optional<ast::File> parseFile(const SourceFile &file,
                                   DiagnosticEngine &diags) {
  if (!checkNesting(file, diags))
    return std::nullopt;

  namespace x3 = boost::spirit::x3;
  const std::string &text = file.text();
  grammar::ParseState state;
  state.begin = text.begin();
  state.end = text.end();
  auto first = text.begin();
  ast::File result;
  auto const parser =
      x3::with<grammar::parse_state_tag>(std::ref(state))[grammar::file];
  bool ok = x3::phrase_parse(first, text.end(), parser, grammar::skipper,
                             result.items);
  if (ok && state.errors.empty())
    return result;
  if (state.errors
          .empty()) // cannot happen: the file rule ends in an expectation
    state.errors.push_back({state.offset(first), "'model' or 'train' block"});

  for (const grammar::SyntaxError &error : state.errors) {
    // The error is reported just after the previous token (skipping blanks
    // on the same line only), and names the next token, wherever it is.
    uint32_t offset = error.offset;
    while (offset < text.size() &&
           (text[offset] == ' ' || text[offset] == '\t'))
      ++offset;
    uint32_t next = offset;
    while (next < text.size() && (text[next] == ' ' || text[next] == '\t' ||
                                  text[next] == '\n' || text[next] == '\r'))
      ++next;
    uint32_t end;
    std::string found = describeTokenAt(text, next, end);
    if (next != offset) // the next token is on a later line
      end = offset + 1;
    diags.report(
        Diag::SyntaxError, {offset, end},
        fmt::format("expected {}, found {}", readable(error.expected), found));
    // C and Python habits meet here first: say what a comment looks like.
    if (isCStyleComment(text, next))
      diags.note("comments start with '#' in sora");
  }
  return std::nullopt;
}

} // namespace sora
