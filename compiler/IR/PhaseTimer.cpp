//===- PhaseTimer.cpp - Wall time of the compiler's phases ----------------===//
#include "IR/PhaseTimer.h"

#include <cstdio>
#include <string>
#include <vector>

namespace sora {

namespace {

struct Phase {
  std::string name;
  int depth;      ///< how many phases were open when it was first entered
  int parent;     ///< that enclosing phase's row, or -1
  double seconds; ///< summed over its entries
};

bool timing = false;
std::vector<Phase> table;
std::vector<int> open; ///< the rows of the phases now running, innermost last

} // namespace

PhaseTimer::PhaseTimer(const char *phase) {
  if (!timing)
    return;
  int parent = open.empty() ? -1 : open.back();
  for (size_t i = 0; i < table.size() && entry_ < 0; ++i)
    if (table[i].name == phase && table[i].parent == parent)
      entry_ = int(i);
  if (entry_ < 0) {
    entry_ = int(table.size());
    table.push_back({phase, int(open.size()), parent, 0.0});
  }
  open.push_back(entry_);
  start_ = std::chrono::steady_clock::now();
}

PhaseTimer::~PhaseTimer() {
  if (entry_ < 0)
    return;
  std::chrono::duration<double> spent =
      std::chrono::steady_clock::now() - start_;
  table[entry_].seconds += spent.count();
  open.pop_back();
}

void PhaseTimer::enable() { timing = true; }

bool PhaseTimer::enabled() { return timing; }

void PhaseTimer::print(std::ostream &os) {
  double total = 0;
  for (const Phase &p : table)
    if (p.depth == 0)
      total += p.seconds;
  os << "===- sorac phases (wall seconds, --time-passes) -===\n";
  char line[128];
  // Children follow their parent in the table, but a phase first entered
  // after its parent's sibling would not: print each parent's children
  // under it, depth first.
  auto printRows = [&](auto &self, int parent) -> void {
    for (size_t i = 0; i < table.size(); ++i) {
      const Phase &p = table[i];
      if (p.parent != parent)
        continue;
      std::snprintf(line, sizeof line, "  %-*s%-*s %9.4f %5.1f%%\n",
                    2 * p.depth, "", 40 - 2 * p.depth, p.name.c_str(),
                    p.seconds, total > 0 ? 100 * p.seconds / total : 0.0);
      os << line;
      self(self, int(i));
    }
  };
  printRows(printRows, -1);
  std::snprintf(line, sizeof line, "  %-40s %9.4f\n", "total", total);
  os << line;
}

} // namespace sora
