//===- Grammar.h - The .sora grammar in Spirit X3 ---------------*- C++ -*-===//
//
// A direct transcription of language.md's grammar; each rule's production is
// in the comment above it. Only Parser.cpp includes this file, so the
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

/// What the grammar reaches through its context: the start of the buffer,
/// so that matched iterators become byte offsets, and the place where the
/// first syntax error is recorded.
struct ParseState {
  Iterator begin;
  bool failed = false;
  uint32_t errorOffset = 0;
  std::string expected;
};
struct parse_state_tag;

/// Fills `range` of every Located node after the rule that made it matched.
struct Annotate {
  template <typename T, typename Context>
  void on_success(Iterator const &first, Iterator const &last, T &node,
                  Context const &context) {
    if constexpr (std::is_base_of_v<ast::Located, T>) {
      ParseState &state = x3::get<parse_state_tag>(context).get();
      node.range.begin = static_cast<uint32_t>(first - state.begin);
      node.range.end = static_cast<uint32_t>(last - state.begin);
    }
  }
};

/// Records the first expectation failure ("expected X") with its position.
struct ReportError {
  template <typename Exception, typename Context>
  x3::error_handler_result on_error(Iterator &, Iterator const &,
                                    Exception const &e,
                                    Context const &context) {
    ParseState &state = x3::get<parse_state_tag>(context).get();
    if (!state.failed) {
      state.failed = true;
      state.errorOffset = static_cast<uint32_t>(e.where() - state.begin);
      state.expected = e.which();
    }
    return x3::error_handler_result::fail;
  }
};

// Rule IDs: each annotates its node; the file rule also reports errors.
struct number_class : Annotate {};
struct string_class : Annotate {};
struct ident_class : Annotate {};
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
struct statement_class : Annotate {};
struct model_class : Annotate {};
struct train_entry_class : Annotate {};
struct train_class : Annotate {};
struct file_class : Annotate, ReportError {};

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

// Single-field nodes are filled by a semantic action: X3 cannot pass a
// one-element struct's container field through attribute propagation.
template <typename Member> auto setField(Member member) {
  return [member](auto &ctx) { x3::_val(ctx).*member = x3::_attr(ctx); };
}
x3::rule<struct word_class, std::string> const word = "identifier";
auto const word_def = x3::lexeme[!reserved >> (alpha >> *word_char)];

/// ident = [A-Za-z_][A-Za-z0-9_]* , not a keyword
auto const ident_def = word[setField(&ast::Ident::name)];

/// number = digits [ "." digits ] [ ("e"|"E") ["+"|"-"] digits ]
x3::rule<struct digits_class, std::string> const digits = "number";
auto const digits_def =
    x3::lexeme[x3::raw[+digit >> -('.' >> +digit) >>
                       -(x3::char_("eE") >> -x3::char_("+-") > +digit) >>
                       !word_char]];
auto const number_def = digits[setField(&ast::Number::text)];

/// string = '"' { char | '\"' | '\\' } '"'
auto const escape = x3::lit('\\') > (x3::char_('"') | x3::char_('\\'));
x3::rule<struct chars_class, std::string> const chars = "string";
auto const chars_def =
    x3::lexeme['"' > *(escape | (x3::char_ - '"' - '\\' - '\n')) > '"'];
auto const string_def = chars[setField(&ast::String::value)];

/// list = "[" [ expr { "," expr } ] "]"
x3::rule<struct items_class, std::vector<ast::Expr>> const items = "list";
auto const items_def = '[' > -(expr % ',') > ']';
auto const list_def = items[setField(&ast::List::items)];

/// call = ident "(" [ arg { "," arg } ] ")"
auto const call_def = ident >> '(' > -(arg % ',') > ')';
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
auto const chain_def = primary >> *(x3::lit("->") > (call | bare_call));

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
auto const type_def = ident > '[' > (number % ',') > ']';

/// "input" ident ":" type
auto const input_stmt_def = keyword("input") > ident > ':' > type;

/// [ "output" ] ident "=" expr
auto const binding_def =
    (keyword("output") >> x3::attr(true) > ident > '=' > expr) |
    (x3::attr(false) >> ident > '=' > expr);

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

BOOST_SPIRIT_DEFINE(word, digits, chars, items, number, string, ident, call,
                    bare_call, list, primary, chain, unary, product_tail,
                    product, sum_tail, expr, arg, type, input_stmt, binding,
                    statement, model, train_entry, train, file, end_of_file)

} // namespace sora::grammar
