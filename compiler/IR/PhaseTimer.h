//===- PhaseTimer.h - Wall time of the compiler's phases --------*- C++ -*-===//
//
// `sorac --time-passes` reports how long each phase of a compilation took:
// the front end, building the graphs, autodiff, each graph pass, lowering
// to LLVM IR, LLVM's optimisation and its code generation. A phase is a
// scope:
//
//   { PhaseTimer t("autodiff"); ... }
//
// Phases opened inside another are its parts (printed indented); a phase
// entered several times (a graph pass run on each of the model's graphs)
// adds up. With timing off (the default) a PhaseTimer costs one branch.
//
//===----------------------------------------------------------------------===//
#ifndef SORA_IR_PHASETIMER_H
#define SORA_IR_PHASETIMER_H

#include <chrono>
#include <ostream>

namespace sora {

class PhaseTimer {
public:
  explicit PhaseTimer(const char *phase);
  ~PhaseTimer();
  PhaseTimer(const PhaseTimer &) = delete;
  PhaseTimer &operator=(const PhaseTimer &) = delete;

  /// Turns timing on for the rest of the process (--time-passes).
  static void enable();
  static bool enabled();
  /// The phases timed so far, in the order they were first entered, with
  /// the wall seconds of each; then the total of the outermost phases.
  static void print(std::ostream &os);

private:
  int entry_ = -1; ///< the phase's row in the table; -1: timing is off
  std::chrono::steady_clock::time_point start_;
};

} // namespace sora

#endif
