//===- BufferPlan.cpp - Parameter layout and scratch offsets
//---------------===//
#include "CodeGen/BufferPlan.h"

namespace sora::ir {

namespace {
constexpr int64_t kAlign = 64;
int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
} // namespace

void ParamLayout::addParams(const Graph &g) {
  for (const auto &n : g.nodes()) {
    if (n->op != OpKind::Param || find(n->name))
      continue;
    bool isWeight = n->role == ParamRole::Weight;
    int64_t &used = isWeight ? weightFloats : stateFloats;
    // Each tensor starts on a 64-byte boundary, so its loops start aligned.
    ParamSlot slot{n->name, n->type, used, n->init, n->fanIn, n->fanOut};
    used += alignUp(n->type.elements() * 4) / 4;
    (isWeight ? weights : state).push_back(slot);
  }
}

const ParamSlot *ParamLayout::find(const std::string &name) const {
  for (const auto *list : {&weights, &state})
    for (const ParamSlot &s : *list)
      if (s.name == name)
        return &s;
  return nullptr;
}

ScratchPlan planScratch(const Graph &g, int64_t maxBatch, const Node *exclude) {
  ScratchPlan plan;
  for (const auto &n : g.nodes()) {
    if (n->operands.empty() || n->type.none || n.get() == exclude)
      continue;
    int64_t rows = n->type.batched ? maxBatch : 1;
    plan.offset[n.get()] = plan.bytes;
    plan.bytes += alignUp(rows * n->type.elements() * 4);
  }
  return plan;
}

} // namespace sora::ir
