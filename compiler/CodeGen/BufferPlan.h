//===- BufferPlan.h - Where every tensor lives -----------------*- C++ -*-===//
//
// The buffer form of a compiled model: each weight and optimizer-state
// tensor gets an offset in the parameter and state blocks (one layout shared
// by all kernels of a model), and each intermediate value of a kernel gets a
// 64-byte aligned offset in the scratch block, sized for `maxBatch` rows.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "IR/Graph.h"

#include <map>
#include <set>
#include <string>

namespace sora::ir {

struct ParamSlot {
  std::string name;
  Type type;
  int64_t offset; ///< in floats
  InitKind init;
  int64_t fanIn, fanOut;
  double initScale; ///< Normal: the stddev; Uniform: the limit
};

/// Layout of the parameter block and of the optimizer-state block.
struct ParamLayout {
  std::vector<ParamSlot> weights;
  std::vector<ParamSlot> state;
  int64_t weightFloats = 0;
  int64_t stateFloats = 0;
  /// Parameters kept out of the block: frozen weights baked into the
  /// object's read-only data (CompiledModel::bakedFrozen).
  std::set<std::string> elsewhere;

  /// Adds every Param of `g` not laid out yet, in graph order.
  void addParams(const Graph &g);
  const ParamSlot *find(const std::string &name) const;
};

/// Which block of the optimizer state a slot name lives in ("m" and "v" of
/// Adam are blocks 0 and 1; "momentum" and "square_avg" block 0), or -1.
int stateSlot(const std::string &name);

/// Scratch offsets of one kernel's intermediates.
struct ScratchPlan {
  std::map<const Node *, int64_t> offset; ///< bytes
  int64_t bytes = 0;
};

/// Scratch offsets for `g`'s values: the plan pass's if it ran, else one
/// buffer per value (except `exclude`, written to the caller's output).
ScratchPlan planScratch(const Graph &g, const Node *exclude = nullptr);

} // namespace sora::ir
