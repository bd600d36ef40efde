//===- Grammar.h - The .sora grammar in Spirit X3 ---------------*- C++ -*-===//
//
// A direct transcription of docs/language.md's grammar; each rule's production
// is in the comment above it. Only Parser.cpp includes this file, so the
// template cost is paid in one translation unit.
//
// Approach: `>` (expectation) is used as soon as a construct is certain
// (after a keyword, after "(" or "="), so a mistake is reported where it is
// made, with the name of what was expected, rather than as a failure at the
// start of the statement. Character classes are spelled as explicit ranges
// so that arbitrary bytes (binary garbage) are compared, never used to index
// a classification table.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ASTAdapted.h"

#include <boost/spirit/home/x3.hpp>
#include <boost/spirit/home/x3/support/utility/annotate_on_success.hpp>

#include <functional>

namespace sora::grammar {

namespace x3 = boost::spirit::x3;
using Iterator = std::string::const_iterator;

/// A syntax error: where, and what was expected there.
struct SyntaxError {
  uint32_t offset;
  std::string expected;
};

/// What the grammar reaches through its context: the buffer, so that
/// matched iterators become byte offsets, and the syntax errors so far.
struct ParseState {
  Iterator begin, end;
  std::vector<SyntaxError> errors;
  /// One more than the diagnostic engine prints, so that it can tell the
  /// user there were more.
  static constexpr size_t kMaxErrors = 21;
  bool stopped = false; ///< gave up after kMaxErrors

  uint32_t offset(Iterator it) const { return uint32_t(it - begin); }
};
struct parse_state_tag;

/// Fills `range` of every Located node after the rule that made it matched.
struct Annotate {
  template <typename T, typename Context>
  void on_success(Iterator const &first, Iterator const &last, T &node,
                  Context const &context) {
    if constexpr (std::is_base_of_v<ast::Located, T>) {
      ParseState &state = x3::get<parse_state_tag>(context).get();
      node.range.begin = state.offset(first);
      node.range.end = state.offset(last);
    }
  }
};

// Error recovery, in the manner of clang: after a syntax error, skip to a
// point where parsing can resume (the next statement, or the next block)
// and go on, so that every independent syntax error is reported in one run.
namespace recovery {

inline bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/// The first word at `it` (after blanks), and where it ends.
inline std::string wordAt(Iterator &it, Iterator end) {
  while (it != end && (*it == ' ' || *it == '\t' || *it == '\r'))
    ++it;
  std::string word;
  while (it != end && isWordChar(*it))
    word += *it++;
  return word;
}

/// Does the line starting at `it` start a statement or end the block? At
/// the outer level of a block, a line that starts with a name (a binding,
/// `input`, `output`, a train key) or with `}` does, even when the rest of
/// it is wrong too, so that error is reported as well.
inline bool startsStatement(Iterator it, Iterator end, Iterator &token) {
  std::string word = wordAt(it, end);
  token = it - word.size();
  if (word.empty())
    return it != end && *it == '}';
  return !(word[0] >= '0' && word[0] <= '9');
}

/// From an error at `where`, the place to resume a statement-level parse:
/// a `}` outside brackets, or the first token of a later line that starts
/// a statement. Comments and strings are skipped.
inline Iterator nextStatement(Iterator where, Iterator end) {
  int depth = 0;
  for (Iterator it = where; it != end; ++it) {
    char c = *it;
    if (c == '#') {
      while (std::next(it) != end && *std::next(it) != '\n')
        ++it;
    } else if (c == '"') {
      while (std::next(it) != end && *std::next(it) != '"' &&
             *std::next(it) != '\n')
        ++it;
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if ((c == ')' || c == ']') && depth > 0) {
      --depth;
    } else if (c == '}' && depth == 0) {
      return it;
    } else if (c == '\n' && depth == 0) {
      Iterator token;
      if (startsStatement(std::next(it), end, token))
        return token;
    }
  }
  return end;
}

/// The start of the next line that begins with `model` or `train`.
inline Iterator nextBlock(Iterator where, Iterator end) {
  for (Iterator it = where; it != end; ++it) {
    if (*it != '\n')
      continue;
    Iterator word = std::next(it);
    std::string w = wordAt(word, end);
    if (w == "model" || w == "train")
      return word - w.size();
  }
  return end;
}

} // namespace recovery

/// Records a syntax error, then resumes where `Resume` says (the next
/// statement, or the next block), unless there were too many errors.
template <Iterator (*Resume)(Iterator, Iterator)> struct Recover {
  template <typename Exception, typename Context>
  x3::error_handler_result on_error(Iterator &first, Iterator const &last,
                                    Exception const &e,
                                    Context const &context) {
    ParseState &state = x3::get<parse_state_tag>(context).get();
    if (state.stopped)
      return x3::error_handler_result::fail;
    state.errors.push_back({state.offset(e.where()), e.which()});
    Iterator resume = Resume(e.where(), last);
    state.stopped = state.errors.size() >= ParseState::kMaxErrors;
    if (state.stopped || resume == last)
      return x3::error_handler_result::fail;
    first = resume;
    return x3::error_handler_result::retry;
  }
};
using RecoverAtStatement = Recover<recovery::nextStatement>;
using RecoverAtBlock = Recover<recovery::nextBlock>;

// Rule IDs: each annotates its node; the file rule also reports errors.
struct number_class {};
struct string_class {};
struct ident_class {};
struct call_class : Annotate {};
struct bare_call_class : Annotate {};
struct list_class : Annotate {};
struct primary_class : Annotate {};
struct chain_class : Annotate {};
struct unary_class : Annotate {};
struct product_tail_class : Annotate {};
struct product_class : Annotate {};
struct sum_tail_class : Annotate {};
struct expr_class : Annotate {};
struct arg_class : Annotate {};
struct type_class : Annotate {};
struct input_class : Annotate {};
struct binding_class : Annotate {};
struct statement_class : Annotate, RecoverAtStatement {};
struct model_class : Annotate {};
struct train_entry_class : Annotate, RecoverAtStatement {};
struct train_class : Annotate {};
struct file_class : Annotate, RecoverAtBlock {};

// The names in quotes are what "expected ..." messages say.
x3::rule<number_class, ast::Number> const number = "number";
x3::rule<string_class, ast::String> const string = "string";
x3::rule<ident_class, ast::Ident> const ident = "identifier";
x3::rule<call_class, ast::Call> const call = "call";
x3::rule<bare_call_class, ast::Call> const bare_call = "operation";
x3::rule<list_class, ast::List> const list = "list";
x3::rule<primary_class, ast::Primary> const primary = "expression";
x3::rule<chain_class, ast::Chain> const chain = "expression";
x3::rule<unary_class, ast::Unary> const unary = "expression";
x3::rule<product_tail_class, ast::ProductTail> const product_tail =
    "expression";
x3::rule<product_class, ast::Product> const product = "expression";
x3::rule<sum_tail_class, ast::SumTail> const sum_tail = "expression";
x3::rule<expr_class, ast::Expr> const expr = "expression";
x3::rule<arg_class, ast::Arg> const arg = "argument";
x3::rule<type_class, ast::TensorType> const type = "tensor type like f32[784]";
x3::rule<input_class, ast::InputStmt> const input_stmt = "input declaration";
x3::rule<binding_class, ast::Binding> const binding = "binding";
x3::rule<statement_class, ast::Statement> const statement = "statement";
x3::rule<model_class, ast::Model> const model = "model block";
x3::rule<train_entry_class, ast::TrainEntry> const train_entry =
    "train setting";
x3::rule<train_class, ast::Train> const train = "train block";
x3::rule<file_class, std::vector<ast::TopLevel>> const file = "file";
x3::rule<struct end_class> const end_of_file = "'model' or 'train' block";

// Lexical pieces.
auto const alpha = x3::char_('a', 'z') | x3::char_('A', 'Z') | x3::char_('_');
auto const digit = x3::char_('0', '9');
auto const word_char = alpha | digit;
auto const blank = x3::lit(' ') | '\t' | '\n' | '\r' | '\f' | '\v';
/// comment = "#" { any byte but newline }
auto const comment = x3::lexeme['#' >> *(x3::char_ - '\n')];
auto const skipper = blank | comment;

/// A keyword is a whole word: `inputs` is an identifier.
inline auto keyword(char const *word) {
  return x3::lexeme[x3::lit(word) >> !word_char];
}
auto const reserved =
    keyword("model") | keyword("train") | keyword("input") | keyword("output");

// Single-field nodes (identifiers, numbers, strings) are filled by a
// semantic action over the raw match: X3 cannot pass a one-element
// struct's container field through attribute propagation, and with an
// action the success hook does not see the node. The raw range excludes the
// blanks skipped before the token, so it is exactly the token's position.
template <typename Fill> auto fromRaw(Fill fill) {
  return [fill](auto &ctx) {
    auto range = x3::_attr(ctx);
    ParseState &state = x3::get<parse_state_tag>(ctx).get();
    auto &node = x3::_val(ctx);
    fill(node, std::string(range.begin(), range.end()));
    node.range = {state.offset(range.begin()), state.offset(range.end())};
  };
}

/// The value of a string literal from its source text (quotes included).
inline std::string unescape(const std::string &quoted) {
  std::string value;
  for (size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] == '\\' && i + 2 < quoted.size())
      ++i;
    value += quoted[i];
  }
  return value;
}
x3::rule<struct word_class, std::string> const word = "identifier";
auto const word_def = x3::lexeme[!reserved >> (alpha >> *word_char)];

/// ident = [A-Za-z_][A-Za-z0-9_]* , not a keyword
auto const ident_def = x3::raw[word][fromRaw(
    [](ast::Ident &n, std::string text) { n.name = std::move(text); })];

/// number = digits [ "." digits ] [ ("e"|"E") ["+"|"-"] digits ]
x3::rule<struct digits_class, std::string> const digits = "number";
x3::rule<struct exponent_class, std::string> const exponent =
    "digits of the exponent";
auto const exponent_def = +digit;
auto const digits_def =
    x3::lexeme[x3::raw[+digit >> -('.' >> +digit) >>
                       -((x3::char_("eE") >> -x3::char_("+-")) > exponent) >>
                       !word_char]];
auto const number_def = x3::raw[digits][fromRaw(
    [](ast::Number &n, std::string text) { n.text = std::move(text); })];

/// string = '"' { char | '\"' | '\\' } '"'
x3::rule<struct escaped_class, char> const escaped =
    "'\\\"' or '\\\\' after '\\'";
auto const escaped_def = x3::char_('"') | x3::char_('\\');
auto const escape = x3::lit('\\') > escaped;
x3::rule<struct close_quote_class> const close_quote =
    "'\"' to end the string (a string ends on its line)";
auto const close_quote_def = x3::lit('"');
x3::rule<struct chars_class, std::string> const chars = "string";
auto const chars_def =
    x3::lexeme['"' > *(escape | (x3::char_ - '"' - '\\' - '\n')) > close_quote];
auto const string_def = x3::raw[chars][fromRaw(
    [](ast::String &n, const std::string &text) { n.value = unescape(text); })];

/// list = "[" [ expr { "," expr } ] "]"
x3::rule<struct expr_list_class, std::vector<ast::Expr>> const expr_list =
    "expression";
auto const expr_list_def = expr >> *(',' > expr);
auto const list_def = x3::char_('[') > -expr_list > ']';

/// call = ident "(" [ arg { "," arg } ] ")"
x3::rule<struct arg_list_class, std::vector<ast::Arg>> const arg_list =
    "argument";
auto const arg_list_def = arg >> *(',' > arg);
auto const call_def = (ident >> '(') > -arg_list > ')';
/// After "->", a bare identifier is a call with no arguments.
auto const bare_call_def = ident >> x3::attr(std::vector<ast::Arg>());

/// arg = [ ident ":" ] expr
/// (The lookahead keeps a positional identifier from being half-parsed as
/// a name: X3 does not roll back an optional's attribute on backtracking.)
auto const arg_def = -(&(ident >> ':') >> ident >> ':') >> expr;

/// primary = call | ident | number | string | list | "(" expr ")"
auto const primary_def =
    call | ident | number | string | list | ('(' > expr > ')');

/// chain = primary { "->" ( call | ident ) }
x3::rule<struct step_class, ast::Call> const step = "operation after '->'";
auto const step_def = call | bare_call;
auto const chain_def = primary >> *(x3::lit("->") > step);

/// unary = [ "-" ] chain   (a "-" that starts "->" is not a minus)
auto const unary_def = x3::matches[x3::lit('-') >> !x3::lit('>')] >> chain;

/// product = unary { ("*" | "/") unary }
auto const product_tail_def = x3::char_("*/") > unary;
auto const product_def = unary >> *product_tail;

/// sum = product { ("+" | "-") product }
auto const sum_tail_def =
    (x3::char_('+') | (x3::char_('-') >> !x3::lit('>'))) > product;
auto const expr_def = product >> *sum_tail;

/// type = "f32" "[" int { "," int } "]"
x3::rule<struct dims_class, std::vector<ast::Number>> const dims = "dimension";
auto const dims_def = number > *(',' > number);
auto const type_def = ident > '[' > dims > ']';

/// "input" ident ":" type
auto const input_stmt_def = keyword("input") > ident > ':' > type;

/// [ "output" ] ident "=" expr
auto const binding_def =
    ((keyword("output") >> x3::attr(true)) > ident > '=' > expr) |
    ((x3::attr(false) >> ident) > '=' > expr);

/// statement = input | binding
auto const statement_def = input_stmt | binding;

/// model = "model" ident "{" { statement } "}"
auto const model_def = keyword("model") > ident > '{' > *statement > '}';

/// train = "train" ident "{" { ident "=" expr } "}"
auto const train_entry_def = ident > '=' > expr;
auto const train_def = keyword("train") > ident > '{' > *train_entry > '}';

/// file = { model | train }
auto const end_of_file_def = x3::eoi;
auto const file_def = *(model | train) > end_of_file;

BOOST_SPIRIT_DEFINE(word, digits, exponent, escaped, close_quote, chars, step,
                    expr_list, arg_list, dims, number, string, ident, call,
                    bare_call, list, primary, chain, unary, product_tail,
                    product, sum_tail, expr, arg, type, input_stmt, binding,
                    statement, model, train_entry, train, file, end_of_file)

} // namespace sora::grammar
