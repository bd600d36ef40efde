//===- AST.h - The abstract syntax tree of a .sora file --------*- C++ -*-===//
//
// Plain structs, filled by the Spirit X3 grammar (Grammar.h). Each node that
// a diagnostic may point at derives from `Located`, whose byte range the
// parser fills on success. The tree mirrors docs/language.md's grammar one
// production per struct, so the grammar stays a direct transcription.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Source.h"

#include <boost/optional.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>

#include <string>
#include <vector>

namespace sora::ast {

namespace x3 = boost::spirit::x3;

/// Filled by the parser with the node's byte range in the source file.
struct Located {
  SourceRange range;
};

struct Number : Located {
  std::string text; ///< the digits as written; converted by the checker
};
struct String : Located {
  std::string value; ///< escapes already resolved
};
struct Ident : Located {
  std::string name;
};

struct Call;
struct List;
struct Expr;

/// primary = call | ident | number | string | list | "(" expr ")"
struct Primary : x3::variant<Number, String, Ident, x3::forward_ast<Call>,
                             x3::forward_ast<List>, x3::forward_ast<Expr>> {
  using base_type::base_type;
  using base_type::operator=;
};

/// chain = primary { "->" ( call | ident ) }; a bare ident is a call with no
/// arguments.
struct Chain : Located {
  Primary head;
  std::vector<Call> steps;
};

/// unary = [ "-" ] chain
struct Unary : Located {
  bool negate = false;
  Chain chain;
};

struct ProductTail : Located {
  char op; ///< '*' or '/'
  Unary operand;
};
/// product = unary { ("*" | "/") unary }
struct Product : Located {
  Unary first;
  std::vector<ProductTail> rest;
};

struct SumTail : Located {
  char op; ///< '+' or '-'
  Product operand;
};
/// expr = sum = product { ("+" | "-") product }
struct Expr : Located {
  Product first;
  std::vector<SumTail> rest;
};

/// arg = [ ident ":" ] expr
struct Arg : Located {
  boost::optional<Ident> name;
  Expr value;
};

/// call = ident "(" [ arg { "," arg } ] ")"
struct Call : Located {
  Ident callee;
  std::vector<Arg> args;
};

/// list = "[" [ expr { "," expr } ] "]"
struct List : Located {
  char open = '['; ///< parsed, so that X3 sees two fields
  std::vector<Expr> items;
};

/// type = "f32" "[" int { "," int } "]"
struct TensorType : Located {
  Ident element;
  std::vector<Number> dims;
};

/// "input" ident ":" type
struct InputStmt : Located {
  Ident name;
  TensorType type;
};

/// [ "output" ] ident "=" expr
struct Binding : Located {
  bool isOutput = false;
  Ident name;
  Expr value;
};

struct Statement : x3::variant<InputStmt, Binding> {
  using base_type::base_type;
  using base_type::operator=;
};

/// model = "model" ident "{" { statement } "}"
struct Model : Located {
  Ident name;
  std::vector<Statement> body;
};

/// ident "=" expr, inside a train block
struct TrainEntry : Located {
  Ident key;
  Expr value;
};

/// train = "train" ident "{" { ident "=" expr } "}"
struct Train : Located {
  Ident model;
  std::vector<TrainEntry> entries;
};

struct TopLevel : x3::variant<Model, Train> {
  using base_type::base_type;
  using base_type::operator=;
};

/// file = { model | train }
struct File {
  std::vector<TopLevel> items;
};

/// Prints the tree as an indented outline with positions (`--emit=ast`).
void print(std::ostream &os, const File &file, const SourceFile &source);

} // namespace sora::ast
