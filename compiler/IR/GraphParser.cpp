//===- GraphParser.cpp - The textual graph IR, read back ------------------===//
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

#include <algorithm>
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
  /// An attribute as written: a number, a word or a list of numbers.
  struct Written {
    std::string name;
    Token value;
    std::vector<Token> list;
    bool isList = false;
  };
  bool parseAttrs(std::vector<Written> &attrs);
  /// The attributes of `op` from what was written: each declared one, of
  /// its declared type, and no other.
  bool typedAttrs(OpKind op, const std::vector<Written> &written,
                  AttrList &attrs);
  bool parseWhole(const Token &t, int64_t &v);
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
  if (tok_.kind != Token::Ident || (tok_.text != "f32" && tok_.text != "i32"))
    return error("expected a type like f32[?, 10]");
  type.integer = tok_.text == "i32";
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

bool GraphParser::parseWhole(const Token &t, int64_t &v) {
  char *end;
  errno = 0;
  long long d = std::strtoll(t.text.c_str(), &end, 10);
  if (t.kind != Token::Number || *end || errno)
    return false;
  v = d;
  return true;
}

bool GraphParser::parseAttrs(std::vector<Written> &attrs) {
  if (!accept("{"))
    return true;
  while (!isPunct("}")) {
    if (!attrs.empty() && !expect(","))
      return false;
    if (tok_.kind != Token::Ident)
      return error("expected an attribute name");
    Written w;
    w.name = tok_.text;
    next();
    if (!expect("="))
      return false;
    w.value = tok_;
    if (accept("[")) {
      w.isList = true;
      while (!isPunct("]")) {
        if (!w.list.empty() && !expect(","))
          return false;
        if (tok_.kind != Token::Number)
          return error("expected a number");
        w.list.push_back(tok_);
        next();
      }
    } else if (tok_.kind != Token::Number && tok_.kind != Token::Ident) {
      return error("expected an attribute value");
    }
    next();
    attrs.push_back(std::move(w));
  }
  next();
  return true;
}

bool GraphParser::typedAttrs(OpKind op, const std::vector<Written> &written,
                             AttrList &attrs) {
  // Errors point at the value written; the token after the attributes is
  // restored when all is well.
  Token after = tok_;
  std::vector<Attr> list;
  for (const Written &w : written) {
    bool declared = false;
    for (AttrId id : attrIds(op))
      declared |= w.name == attrName(id);
    if (!declared) {
      tok_ = w.value;
      return error(
          fmt::format("{} has no attribute '{}'", mnemonic(op), w.name));
    }
  }
  for (AttrId id : attrIds(op)) {
    auto w =
        std::find_if(written.begin(), written.end(),
                     [&](const Written &w) { return w.name == attrName(id); });
    if (w == written.end())
      return error(fmt::format("{} needs the attribute '{}'", mnemonic(op),
                               attrName(id)));
    tok_ = w->value;
    AttrValue value;
    std::visit(
        [&](auto declared) {
          using T = decltype(declared);
          const Token &t = w->value;
          char *end = nullptr;
          if constexpr (std::is_same_v<T, double>) {
            double v = std::strtod(t.text.c_str(), &end);
            if (t.kind == Token::Number && !*end && std::isfinite(v))
              value = v;
            else
              error("expected a number");
          } else if constexpr (std::is_same_v<T, int64_t>) {
            int64_t v;
            if (parseWhole(t, v))
              value = v;
            else
              error("expected a whole number");
          } else if constexpr (std::is_same_v<T, bool>) {
            if (t.kind == Token::Ident &&
                (t.text == "true" || t.text == "false"))
              value = t.text == "true";
            else
              error("expected true or false");
          } else if constexpr (std::is_same_v<T, LrSchedule>) {
            bool found = false;
            for (LrSchedule s :
                 {LrSchedule::Constant, LrSchedule::Exponential,
                  LrSchedule::Step, LrSchedule::Linear, LrSchedule::Cosine,
                  LrSchedule::Piecewise, LrSchedule::Plateau})
              if (t.kind == Token::Ident && t.text == scheduleName(s)) {
                value = s;
                found = true;
              }
            if (!found)
              error("expected constant, exponential, step, linear, cosine, "
                    "piecewise or plateau");
          } else if (!w->isList) {
            error("expected a list like [2, 3]");
          } else if constexpr (std::is_same_v<T, Dims>) {
            Dims dims;
            for (const Token &item : w->list) {
              int64_t d;
              if (!parseWhole(item, d)) {
                tok_ = item;
                error("expected a whole number");
                return;
              }
              dims.push_back(d);
            }
            value = dims;
          } else {
            Numbers numbers;
            for (const Token &item : w->list) {
              double v = std::strtod(item.text.c_str(), &end);
              if (*end || !std::isfinite(v)) {
                tok_ = item;
                error("expected a number");
                return;
              }
              numbers.push_back(v);
            }
            value = numbers;
          }
        },
        declaredValue(id));
    if (failed_)
      return false;
    list.push_back({id, value});
  }
  attrs = AttrList(std::move(list));
  tok_ = after;
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
  std::vector<Written> written;
  if (!parseAttrs(written))
    return false;
  // Words and numbers of a param, which are its fields, not attributes.
  std::map<std::string, std::string> words;
  for (const Written &w : written)
    words[w.name] = w.value.text;
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
      std::string role = words.count("role") ? words["role"] : "weight";
      std::string how = words.count("init") ? words["init"] : "zeros";
      InitKind init = how == "glorot_uniform" ? InitKind::GlorotUniform
                      : how == "normal"       ? InitKind::Normal
                      : how == "uniform"      ? InitKind::Uniform
                      : how == "ones"         ? InitKind::Ones
                                              : InitKind::Zeros;
      int64_t fanIn = 0, fanOut = 0;
      double scale = 0;
      for (const Written &w : written) {
        double v = std::strtod(w.value.text.c_str(), nullptr);
        if (w.name == "fan_in")
          fanIn = int64_t(v);
        if (w.name == "fan_out")
          fanOut = int64_t(v);
        if (w.name == "stddev" || w.name == "limit")
          scale = v;
      }
      node = g.param(name, type,
                     role == "optimizer_state" ? ParamRole::OptimizerState
                     : role == "statistic"     ? ParamRole::Statistic
                     : role == "frozen"        ? ParamRole::Frozen
                                               : ParamRole::Weight,
                     init, fanIn, fanOut);
      node->initScale = scale;
    }
  } else if (kind == OpKind::Const) {
    AttrList attrs;
    if (!typedAttrs(kind, written, attrs))
      return false;
    node = g.constant(attrs.value());
  } else {
    AttrList attrs;
    if (!typedAttrs(kind, written, attrs))
      return false;
    if (!takesOperands(kind, operands.size()))
      return error(fmt::format("{} takes {} operands", mnemonicText,
                               operandCountText(kind)));
    std::string shapeError;
    Type inferred = shapeRule(kind)(operands, attrs, shapeError);
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
    node = g.create(kind, operands, attrs);
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
