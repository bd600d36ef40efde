//===- BufferPlan.cpp - Parameter layout and scratch offsets --------------===//
#include "CodeGen/BufferPlan.h"

#include "Transforms/Passes.h"

#include <algorithm>
#include <stdexcept>

namespace sora::ir {

namespace {
constexpr int64_t kAlign = 64;
int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
} // namespace

void ParamLayout::addParams(const Graph &g) {
  for (const auto &n : g.nodes()) {
    // Statistics (running means) lie with the weights: checkpointed and
    // read by inference builds alike.
    if (n->op != OpKind::Param || n->role == ParamRole::OptimizerState ||
        find(n->name) || elsewhere.count(n->name))
      continue;
    // Each tensor starts on a 64-byte boundary, so its loops start aligned.
    weights.push_back({n->name, n->type, weightFloats, n->init, n->fanIn,
                       n->fanOut, n->initScale});
    weightFloats += alignUp(n->type.elements() * 4) / 4;
  }
  // Optimizer state mirrors the weights: each kind of state (Adam's m, its
  // v, a momentum, a square average) is one block laid out like the
  // weights, so that one index walks a weight and all its state.
  for (const auto &n : g.nodes()) {
    if (n->op != OpKind::Param || n->role != ParamRole::OptimizerState ||
        find(n->name) || n->name == kLrReductions)
      continue;
    const std::string prefix = "optimizer.";
    std::string rest = n->name.substr(prefix.size());
    size_t dot = rest.rfind('.');
    int slot = stateSlot(rest.substr(dot + 1));
    const ParamSlot *w = find(rest.substr(0, dot));
    if (!w || slot < 0)
      throw std::logic_error("optimizer state '" + n->name +
                             "' has no parameter");
    state.push_back({n->name, n->type, w->offset + slot * weightFloats,
                     InitKind::Zeros, 0, 0, 0});
    stateFloats = std::max(stateFloats, (slot + 1) * weightFloats);
  }
  // State of the optimizer as a whole goes after the mirrored blocks.
  for (const auto &n : g.nodes())
    if (n->op == OpKind::Param && n->name == kLrReductions && !find(n->name)) {
      state.push_back(
          {n->name, n->type, stateFloats, InitKind::Zeros, 0, 0, 0});
      stateFloats += alignUp(n->type.elements() * 4) / 4;
    }
}

int stateSlot(const std::string &name) {
  if (name == "m" || name == "momentum" || name == "square_avg")
    return 0;
  if (name == "v")
    return 1;
  return -1;
}

const ParamSlot *ParamLayout::find(const std::string &name) const {
  for (const auto *list : {&weights, &state})
    for (const ParamSlot &s : *list)
      if (s.name == name)
        return &s;
  return nullptr;
}

ScratchPlan planScratch(const Graph &g, const Node *exclude) {
  ScratchPlan plan;
  if (g.plan) {
    for (const auto &[node, offset] : g.plan->offsets)
      plan.offset[node] = offset;
    plan.bytes = g.plan->bytes;
    return plan;
  }
  // No plan pass: every value gets a buffer of its own.
  for (const auto &n : g.nodes()) {
    if (!isMaterialised(g, n.get()) || n.get() == exclude)
      continue;
    plan.offset[n.get()] = plan.bytes;
    plan.bytes += bufferBytes(g, n.get());
  }
  return plan;
}

} // namespace sora::ir
