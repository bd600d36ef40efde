//===- MemoryPlanning.cpp - Scratch buffers reused by liveness ------------===//
//
// Each value that is written to memory (not a leaf, not a fused-away member
// of a group) needs a scratch buffer for maxBatch rows. Its live range runs
// from the step that writes it to the last step that reads it, steps being
// the positions where ops (or fused groups) run. Buffers are placed greedily,
// largest first, at the lowest offset that no buffer with an overlapping live
// range occupies (the arena planners of TFLite and Glow work alike). Live
// ranges are closed intervals, so a step never writes a buffer it is still
// reading.
//
// When the optimizer update is fused, the gradients it reads are pinned at
// the start of scratch in the parameters' own layout, so that one index
// walks parameters, gradients and optimizer state together.
//
//===----------------------------------------------------------------------===//
#include "Transforms/Passes.h"

#include <algorithm>
#include <map>

namespace sora::ir {

namespace {

constexpr int64_t kAlign = 64;
int64_t alignUp(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

/// Where the group or op that computes `n` runs.
int step(const Graph &g, const Node *n) {
  return n->group >= 0 ? g.groups[n->group].root->id : n->id;
}

} // namespace

/// Is `n` written to scratch (as opposed to a leaf, a constant, or a value
/// that lives only in registers inside a fused group)?
bool isMaterialised(const Graph &g, const Node *n) {
  if (!n->hasResult() || n->operands.empty() || n->op == OpKind::Const)
    return false;
  return n->group < 0 || g.groups[n->group].root == n;
}

int64_t bufferBytes(const Graph &g, const Node *n) {
  int64_t rows = n->type.batched ? g.maxBatch : 1;
  return alignUp(rows * n->type.elements() * 4);
}

bool planMemory(Graph &g) {
  struct Buffer {
    const Node *node;
    int64_t bytes;
    int first, last;
    int64_t offset = -1;
  };
  std::map<const Node *, size_t> index;
  std::vector<Buffer> buffers;
  for (const auto &n : g.nodes())
    if (isMaterialised(g, n.get())) {
      index[n.get()] = buffers.size();
      int s = step(g, n.get());
      buffers.push_back({n.get(), bufferBytes(g, n.get()), s, s});
    }
  for (const auto &n : g.nodes())
    for (const Node *o : n->operands)
      if (auto it = index.find(o); it != index.end())
        buffers[it->second].last =
            std::max(buffers[it->second].last, step(g, n.get()));
  int end = int(g.nodes().size());
  for (const Graph::Output &o : g.outputs())
    if (auto it = index.find(o.node); it != index.end())
      buffers[it->second].last = end;

  // Pinned: the gradients of a fused optimizer update, in parameter layout.
  int64_t pinnedBytes = 0;
  for (const FusionGroup &group : g.groups) {
    if (group.kind != FusionGroup::OptimizerUpdate)
      continue;
    int64_t offset = 0;
    for (const Node *update : group.chain) {
      const Node *w = update->operands[0], *grad = update->operands[1];
      Buffer &b = buffers[index.at(grad)];
      b.offset = offset;
      b.last = end; // the pinned block is never reused
      offset += alignUp(w->type.elements() * 4);
    }
    pinnedBytes = offset;
  }

  std::vector<size_t> order;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].offset < 0)
      order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return buffers[a].bytes > buffers[b].bytes;
  });
  std::vector<size_t> placed;
  for (size_t i : order) {
    Buffer &b = buffers[i];
    // Busy ranges of placed buffers alive at the same time, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed) {
      const Buffer &p = buffers[j];
      if (p.first <= b.last && b.first <= p.last)
        busy.push_back({p.offset, p.offset + p.bytes});
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = pinnedBytes;
    for (const auto &[lo, hi] : busy) {
      if (offset + b.bytes <= lo)
        break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    placed.push_back(i);
  }

  MemoryPlan plan;
  for (const Buffer &b : buffers) {
    plan.offsets.push_back({b.node, b.offset});
    plan.bytes = std::max(plan.bytes, b.offset + b.bytes);
    plan.sumOfBuffers += b.bytes;
  }
  for (int s = 0; s <= end; ++s) {
    int64_t live = 0;
    for (const Buffer &b : buffers)
      if (b.first <= s && s <= b.last)
        live += b.bytes;
    plan.peakLive = std::max(plan.peakLive, live);
  }
  g.plan = plan;
  return true;
}

} // namespace sora::ir
