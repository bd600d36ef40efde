//===- BufferPlan.cpp - Parameter layout and scratch offsets
//---------------===//
#include "CodeGen/BufferPlan.h"

#include "Transforms/Passes.h"

#include <stdexcept>

namespace sora::ir {

namespace {
constexpr int64_t kAlign = 64;
int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
} // namespace

void ParamLayout::addParams(const Graph &g) {
  for (const auto &n : g.nodes()) {
    if (n->op != OpKind::Param || n->role != ParamRole::Weight || find(n->name))
      continue;
    // Each tensor starts on a 64-byte boundary, so its loops start aligned.
    weights.push_back(
        {n->name, n->type, weightFloats, n->init, n->fanIn, n->fanOut});
    weightFloats += alignUp(n->type.elements() * 4) / 4;
  }
  // Optimizer state mirrors the weights: every m in one block laid out like
  // the weights, then every v, so that one index walks them all.
  for (const auto &n : g.nodes()) {
    if (n->op != OpKind::Param || n->role != ParamRole::OptimizerState ||
        find(n->name))
      continue;
    const std::string prefix = "optimizer.";
    std::string weight = n->name.substr(prefix.size());
    bool isV = weight.size() > 2 && weight.substr(weight.size() - 2) == ".v";
    weight.resize(weight.size() - 2);
    const ParamSlot *w = find(weight);
    if (!w)
      throw std::logic_error("optimizer state '" + n->name +
                             "' has no parameter");
    state.push_back({n->name, n->type, w->offset + (isV ? weightFloats : 0),
                     InitKind::Zeros, 0, 0});
    stateFloats = 2 * weightFloats;
  }
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
