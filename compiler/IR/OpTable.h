//===- OpTable.h - A rule per op, filled one way ---------------*- C++ -*-===//
//
// Every per-op table (shape rules, folders, gradient rules, formulas,
// lowerings) is an OpTable: a family of ops gets a rule from its Ops.def
// traits (setWhere), every other op its own (set). Giving an op two rules is
// a bug caught when the table is built.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "IR/Graph.h"

#include <array>
#include <stdexcept>
#include <string>

namespace sora::ir {

template <typename Rule> class OpTable {
public:
  void set(OpKind op, Rule rule) {
    if (rules_[int(op)])
      throw std::logic_error(std::string("two rules for ") + mnemonic(op));
    rules_[int(op)] = rule;
  }
  /// `rule` for every op with `trait`.
  void setWhere(Trait trait, Rule rule) {
    for (int i = 0; i < kNumOps; ++i)
      if (hasTrait(OpKind(i), trait))
        set(OpKind(i), rule);
  }
  /// `rule` for every op that has none yet (a table's default).
  void fillRest(Rule rule) {
    for (Rule &r : rules_)
      if (!r)
        r = rule;
  }
  /// The rule of `op`, or nullptr.
  Rule operator[](OpKind op) const { return rules_[int(op)]; }

private:
  std::array<Rule, kNumOps> rules_{};
};

} // namespace sora::ir
