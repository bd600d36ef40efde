//===- GraphParser.cpp - The textual graph IR, read back
//-------------------===//
//
// Reads what print() writes, so that a pass can be run alone on hand-written
// IR (`sorac --passes=fuse file.ir --emit=ir`):
//
//   graph @name {
//     %x = input() : f32[?, 784]
//     %w = param() {init = glorot_uniform, fan_in = 784, fan_out = 64} :
//     f32[64, 784] %2 = matmul_nt(%x, %w) : f32[?, 64] adam_update(%w, %g, %m,
//     %v) {lr = 0.001, ...} return out = %2
//   }
//
// A hand-written recursive-descent parser over a small tokenizer: the IR is
// line-oriented and regular, far simpler than the .sora language. Every
// op's type is recomputed with its shape rule and checked against the
// written one, so a wrong hand-written type is an error, not a surprise.
//
//===----------------------------------------------------------------------===//
#include "IR/GraphParser.h"

#include "IR/OpRules.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace sora::ir {

namespace {

struct Token {
  enum Kind { Ident, Value, Global, Number, Punct, End } kind;
  std::string text;
  SourceRange range;
};

class GraphParser {
public:
  GraphParser(const SourceFile &file, DiagnosticEngine &diags)
      : text_(file.text()), diags_(diags) {
    next();
  }

  std::unique_ptr<Graph> parse();

private:
  // --- tokens -----------------------------------------------------------
  void next();
  bool isPunct(const char *p) const {
    return tok_.kind == Token::Punct && tok_.text == p;
  }
  bool accept(const char *p) {
    if (!isPunct(p))
      return false;
    next();
    return true;
  }
  bool expect(const char *p) {
    if (accept(p))
      return true;
    return error(fmt::format("expected '{}'", p));
  }
  bool error(const std::string &message) {
    if (!failed_)
      diags_.report(Diag::InvalidIR, tok_.range,
                    message + ", found " +
                        (tok_.kind == Token::End ? "end of file"
                                                 : "'" + tok_.text + "'"));
    failed_ = true;
    return false;
  }

  // --- grammar ----------------------------------------------------------
  bool parseStatement(Graph &g);
  bool parseType(Type &type);
  bool parseAttrs(std::map<std::string, std::string> &attrs,
                  std::vector<Attr> &numeric);
  bool parseReturn(Graph &g);

  const std::string &text_;
  DiagnosticEngine &diags_;
  size_t pos_ = 0;
  Token tok_;
  bool failed_ = false;
  std::map<std::string, Node *> values_;
};

void GraphParser::next() {
  auto isWord = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.';
  };
  // Blanks and `//` or `#` comments.
  while (pos_ < text_.size()) {
    char c = text_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++pos_;
    } else if (c == '#' || (c == '/' && pos_ + 1 < text_.size() &&
                            text_[pos_ + 1] == '/')) {
      while (pos_ < text_.size() && text_[pos_] != '\n')
        ++pos_;
    } else {
      break;
    }
  }
  size_t start = pos_;
  if (pos_ >= text_.size()) {
    tok_ = {Token::End, "", {uint32_t(start), uint32_t(start)}};
    return;
  }
  char c = text_[pos_];
  Token::Kind kind;
  if (c == '%' || c == '@') {
    ++pos_;
    while (pos_ < text_.size() && isWord(text_[pos_]))
      ++pos_;
    kind = c == '%' ? Token::Value : Token::Global;
  } else if ((c >= '0' && c <= '9') || c == '-') {
    ++pos_;
    while (pos_ < text_.size() &&
           (isWord(text_[pos_]) ||
            ((text_[pos_] == '-' || text_[pos_] == '+') &&
             (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E'))))
      ++pos_;
    kind = Token::Number;
  } else if (isWord(c)) {
    while (pos_ < text_.size() && isWord(text_[pos_]))
      ++pos_;
    kind = Token::Ident;
  } else {
    ++pos_;
    kind = Token::Punct;
  }
  tok_ = {kind,
          text_.substr(start, pos_ - start),
          {uint32_t(start), uint32_t(pos_)}};
}

bool GraphParser::parseType(Type &type) {
  type = Type{};
  if (tok_.kind == Token::Ident && tok_.text == "none") {
    next();
    type = Type::noneType();
    return true;
  }
  if (tok_.kind != Token::Ident || tok_.text != "f32")
    return error("expected a type like f32[?, 10]");
  next();
  if (!expect("["))
    return false;
  bool first = true;
  while (!isPunct("]")) {
    if (!first && !expect(","))
      return false;
    if (first && accept("?")) {
      type.batched = true;
    } else if (tok_.kind == Token::Number) {
      char *end;
      errno = 0;
      long long d = std::strtoll(tok_.text.c_str(), &end, 10);
      if (*end || errno || d < 1 || d > (1LL << 31))
        return error("expected a dimension from 1 to 2^31");
      type.dims.push_back(d);
      next();
    } else {
      return error("expected a dimension");
    }
    first = false;
  }
  next();
  return true;
}

bool GraphParser::parseAttrs(std::map<std::string, std::string> &words,
                             std::vector<Attr> &numeric) {
  if (!accept("{"))
    return true;
  while (!isPunct("}")) {
    if (!numeric.empty() || !words.empty())
      if (!expect(","))
        return false;
    if (tok_.kind != Token::Ident)
      return error("expected an attribute name");
    std::string name = tok_.text;
    next();
    if (!expect("="))
      return false;
    if (tok_.kind == Token::Number) {
      char *end;
      double v = std::strtod(tok_.text.c_str(), &end);
      if (*end || !std::isfinite(v))
        return error("expected a number");
      numeric.push_back({name, v});
    } else if (tok_.kind == Token::Ident) {
      words[name] = tok_.text;
    } else {
      return error("expected an attribute value");
    }
    next();
  }
  next();
  return true;
}

bool GraphParser::parseReturn(Graph &g) {
  next(); // return
  bool first = true;
  while (!isPunct("}")) {
    if (!first && !expect(","))
      return false;
    first = false;
    if (tok_.kind != Token::Ident)
      return error("expected an output name");
    std::string name = tok_.text;
    next();
    if (!expect("="))
      return false;
    auto it = values_.find(tok_.text);
    if (tok_.kind != Token::Value || it == values_.end())
      return error("expected a defined value");
    g.addOutput(name, it->second);
    next();
  }
  return true;
}

bool GraphParser::parseStatement(Graph &g) {
  SourceRange at = tok_.range;
  std::string result;
  if (tok_.kind == Token::Value) {
    result = tok_.text;
    if (values_.count(result))
      return error("redefinition of " + result);
    next();
    if (!expect("="))
      return false;
  }
  if (tok_.kind != Token::Ident)
    return error("expected an op name");
  std::string mnemonicText = tok_.text;
  int op = -1;
  for (int i = 0; i < kNumOps; ++i)
    if (mnemonicText == mnemonic(OpKind(i)))
      op = i;
  if (op < 0)
    return error("unknown op");
  next();
  if (!expect("("))
    return false;
  std::vector<Node *> operands;
  while (!isPunct(")")) {
    if (!operands.empty() && !expect(","))
      return false;
    auto it = values_.find(tok_.text);
    if (tok_.kind != Token::Value || it == values_.end())
      return error("expected a defined value");
    operands.push_back(it->second);
    next();
  }
  next();
  std::map<std::string, std::string> words;
  std::vector<Attr> numeric;
  if (!parseAttrs(words, numeric))
    return false;
  Type type = Type::noneType();
  if (accept(":") && !parseType(type))
    return false;

  OpKind kind = OpKind(op);
  Node *node = nullptr;
  std::string name = result.size() > 1 ? result.substr(1) : "";
  bool numbered = !name.empty() && std::isdigit((unsigned char)name[0]);
  if (kind == OpKind::Input || kind == OpKind::Param) {
    if (result.empty() || numbered)
      return error("an input or param needs a name like %x");
    if (kind == OpKind::Input) {
      node = g.input(name, type);
    } else {
      bool state = words.count("role") && words["role"] == "optimizer_state";
      InitKind init = words.count("init") && words["init"] == "glorot_uniform"
                          ? InitKind::GlorotUniform
                          : InitKind::Zeros;
      int64_t fanIn = 0, fanOut = 0;
      for (const Attr &a : numeric) {
        if (a.name == "fan_in")
          fanIn = int64_t(a.value);
        if (a.name == "fan_out")
          fanOut = int64_t(a.value);
      }
      node = g.param(name, type,
                     state ? ParamRole::OptimizerState : ParamRole::Weight,
                     init, fanIn, fanOut);
    }
  } else if (kind == OpKind::Const) {
    if (numeric.size() != 1 || numeric[0].name != "value")
      return error("const needs {value = N}");
    node = g.constant(numeric[0].value);
  } else {
    if (int(operands.size()) != operandCount(kind))
      return error(fmt::format("{} takes {} operands", mnemonicText,
                               operandCount(kind)));
    std::string shapeError;
    Type inferred = shapeRule(kind)(operands, numeric, shapeError);
    if (!shapeError.empty()) {
      diags_.report(Diag::InvalidIR, at, mnemonicText + ": " + shapeError);
      failed_ = true;
      return false;
    }
    if (inferred != type) {
      diags_.report(Diag::InvalidIR, at,
                    fmt::format("{} has type {}, but {} was written",
                                mnemonicText, inferred.str(), type.str()));
      failed_ = true;
      return false;
    }
    node = g.create(kind, operands, numeric);
  }
  node->loc = at;
  if (!result.empty())
    values_[result] = node;
  else if (node->hasResult())
    return error("this op's result needs a name");
  return true;
}

std::unique_ptr<Graph> GraphParser::parse() {
  if (tok_.kind != Token::Ident || tok_.text != "graph") {
    error("expected 'graph'");
    return nullptr;
  }
  next();
  if (tok_.kind != Token::Global) {
    error("expected a graph name like @model.train_step");
    return nullptr;
  }
  auto g = std::make_unique<Graph>(tok_.text.substr(1));
  next();
  if (!expect("{"))
    return nullptr;
  while (!isPunct("}") && tok_.kind != Token::End) {
    if (tok_.kind == Token::Ident && tok_.text == "return") {
      if (!parseReturn(*g))
        return nullptr;
      break;
    }
    if (!parseStatement(*g))
      return nullptr;
  }
  if (!expect("}"))
    return nullptr;
  if (tok_.kind != Token::End) {
    error("expected the end of the file after the graph");
    return nullptr;
  }
  return g;
}

} // namespace

std::unique_ptr<Graph> parseGraph(const SourceFile &file,
                                  DiagnosticEngine &diags) {
  return GraphParser(file, diags).parse();
}

} // namespace sora::ir
