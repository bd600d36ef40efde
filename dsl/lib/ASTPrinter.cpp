//===- ASTPrinter.cpp - `sorac --emit=ast` --------------------------------===//
//
// An indented outline of the tree, one node per line with its position
// (`@line:col`), for tests of the parser (precedence, chains, named
// arguments) that do not depend on later stages.
//
//===----------------------------------------------------------------------===//
#include "sora/dsl/AST.h"

#include <ostream>

namespace sora::ast {

namespace {

class Printer {
public:
  Printer(std::ostream &os, const SourceFile &source)
      : os_(os), source_(source) {}

  void file(const File &f) {
    for (const TopLevel &item : f.items) {
      if (auto *m = boost::get<Model>(&item.get()))
        model(*m);
      else
        train(boost::get<Train>(item.get()));
    }
  }

private:
  std::ostream &line() { return os_ << std::string(depth_ * 2, ' '); }
  /// Ends a node's line with its position.
  std::string at(const Located &node) const {
    LineCol lc = source_.lineCol(node.range.begin);
    return " @" + std::to_string(lc.line) + ":" + std::to_string(lc.col) + "\n";
  }
  static std::string escaped(const std::string &s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    return out;
  }
  struct Indent {
    Printer &p;
    explicit Indent(Printer &p) : p(p) { ++p.depth_; }
    ~Indent() { --p.depth_; }
  };

  void model(const Model &m) {
    line() << "Model " << m.name.name << at(m.name);
    Indent in(*this);
    for (const Statement &s : m.body) {
      if (auto *i = boost::get<InputStmt>(&s.get())) {
        line() << "Input " << i->name.name << " : " << i->type.element.name
               << "[";
        for (size_t d = 0; d < i->type.dims.size(); ++d)
          os_ << (d ? ", " : "") << i->type.dims[d].text;
        os_ << "]" << at(*i);
      } else {
        auto &b = boost::get<Binding>(s.get());
        line() << (b.isOutput ? "Output " : "Binding ") << b.name.name
               << at(b.name);
        Indent in2(*this);
        expr(b.value);
      }
    }
  }

  void train(const Train &t) {
    line() << "Train " << t.model.name << at(t.model);
    Indent in(*this);
    for (const TrainEntry &e : t.entries) {
      line() << "Key " << e.key.name << at(e.key);
      Indent in2(*this);
      expr(e.value);
    }
  }

  void expr(const Expr &e) {
    if (e.rest.empty())
      return product(e.first);
    line() << "Sum";
    for (const SumTail &t : e.rest)
      os_ << " " << t.op;
    os_ << at(e);
    Indent in(*this);
    product(e.first);
    for (const SumTail &t : e.rest)
      product(t.operand);
  }

  void product(const Product &p) {
    if (p.rest.empty())
      return unary(p.first);
    line() << "Product";
    for (const ProductTail &t : p.rest)
      os_ << " " << t.op;
    os_ << at(p);
    Indent in(*this);
    unary(p.first);
    for (const ProductTail &t : p.rest)
      unary(t.operand);
  }

  void unary(const Unary &u) {
    if (!u.negate)
      return chain(u.chain);
    line() << "Negate" << at(u);
    Indent in(*this);
    chain(u.chain);
  }

  void chain(const Chain &c) {
    if (c.steps.empty())
      return primary(c.head);
    line() << "Chain" << at(c);
    Indent in(*this);
    primary(c.head);
    for (const Call &step : c.steps)
      call(step);
  }

  void call(const Call &c) {
    line() << "Call " << c.callee.name << at(c);
    Indent in(*this);
    for (const Arg &a : c.args) {
      if (a.name) {
        line() << "Named " << a.name->name << at(a);
        Indent in2(*this);
        expr(a.value);
      } else {
        expr(a.value);
      }
    }
  }

  void primary(const Primary &p) {
    struct Visitor {
      Printer &pr;
      void operator()(const Number &n) {
        pr.line() << "Number " << n.text << pr.at(n);
      }
      void operator()(const String &s) {
        pr.line() << "String \"" << escaped(s.value) << "\"" << pr.at(s);
      }
      void operator()(const Ident &i) {
        pr.line() << "Ident " << i.name << pr.at(i);
      }
      void operator()(const x3::forward_ast<Call> &c) { pr.call(c.get()); }
      void operator()(const x3::forward_ast<List> &l) {
        pr.line() << "List" << pr.at(l.get());
        Indent in(pr);
        for (const Expr &e : l.get().items)
          pr.expr(e);
      }
      void operator()(const x3::forward_ast<Expr> &e) { pr.expr(e.get()); }
    };
    boost::apply_visitor(Visitor{*this}, p);
  }

  std::ostream &os_;
  const SourceFile &source_;
  int depth_ = 0;
};

} // namespace

void print(std::ostream &os, const File &file, const SourceFile &source) {
  Printer(os, source).file(file);
}

} // namespace sora::ast
