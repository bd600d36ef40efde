//===- KernelEmitter.h - Building loop nests in LLVM IR --------*- C++ -*-===//
//
// What a lowering rule sees: the IRBuilder, the kernel's arguments, the base
// pointer of every value's buffer, and helpers that build counted loops
// (with a constant trip count wherever the bound is a shape) and reductions.
// Floating-point ops carry `reassoc contract`, so LLVM may vectorise
// reductions and form FMAs; the result is still deterministic for a given
// object file.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "IR/Graph.h"

#include <llvm/IR/IRBuilder.h>

#include <functional>
#include <map>

namespace sora::ir {

class KernelEmitter {
public:
  KernelEmitter(llvm::Function *fn, llvm::IRBuilder<> &builder)
      : b(builder), fn_(fn) {}

  llvm::IRBuilder<> &b;
  // The kernel's arguments (see sora_kernel_fn in sora/runtime.h).
  llvm::Value *params = nullptr, *optState = nullptr, *scratch = nullptr;
  llvm::Value *x = nullptr, *y = nullptr, *n = nullptr, *step = nullptr;
  llvm::Value *out = nullptr;

  /// Base pointer (float*) of `node`'s buffer.
  llvm::Value *buffer(const Node *node) const { return buffers_.at(node); }
  void setBuffer(const Node *node, llvm::Value *ptr) { buffers_[node] = ptr; }

  /// Element `index` of `node` (a Const folds to its value).
  llvm::Value *load(const Node *node, llvm::Value *index);
  void store(const Node *node, llvm::Value *index, llvm::Value *value);

  llvm::Value *i64(int64_t v) { return b.getInt64(v); }
  llvm::Value *f32(double v);
  /// Number of rows of a value: the batch size if batched, else 1.
  llvm::Value *rows(const Node *node) {
    return node->type.batched ? n : i64(1);
  }

  using Body = std::function<void(llvm::Value *)>;
  /// for (i = lo; i < hi; ++i) body(i)
  void loop(llvm::Value *lo, llvm::Value *hi, const Body &body,
            const char *name = "i");
  void loop(int64_t hi, const Body &body, const char *name = "i") {
    loop(i64(0), i64(hi), body, name);
  }

  using ReduceBody = std::function<std::vector<llvm::Value *>(
      llvm::Value *, const std::vector<llvm::Value *> &)>;
  /// acc = init; for (i = lo; i < hi; ++i) acc = body(i, acc); return acc
  std::vector<llvm::Value *> reduce(llvm::Value *lo, llvm::Value *hi,
                                    std::vector<llvm::Value *> init,
                                    const ReduceBody &body,
                                    const char *name = "r");
  llvm::Value *
  reduce(int64_t hi, llvm::Value *init,
         const std::function<llvm::Value *(llvm::Value *, llvm::Value *)> &body,
         const char *name = "r");

  /// Calls a float intrinsic (exp, log, sqrt, maxnum, ...).
  llvm::Value *call(llvm::Intrinsic::ID id, std::vector<llvm::Value *> args);

  /// for each row r and element e of a value shaped like `like`:
  /// body(flat index r * elements + e)
  void forEachElement(const Node *like, const Body &body);

private:
  llvm::Function *fn_;
  std::map<const Node *, llvm::Value *> buffers_;
};

/// Emits the code of one node.
using Lowering = void (*)(KernelEmitter &k, const Node &node);
Lowering lowering(OpKind op);

} // namespace sora::ir
