//===- VectorOps.h - Explicit vectors for the micro-kernels -----*- C++ -*-===//
//
// The register-blocked kernels (convolutions, pooling, the matmul_tn weight
// gradient) are built from explicit LLVM vectors rather than left to the
// loop vectoriser, which only vectorises innermost loops: a register tile
// keeps a block of outputs in vector accumulators across a whole reduction,
// so that each value loaded feeds several multiply-adds. A vector that runs
// past the end of a row has its spare lanes masked off: never loaded, never
// stored.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/KernelEmitter.h"

#include <llvm/IR/DerivedTypes.h>

#include <vector>

namespace sora::ir {

/// Vector operations on the kernel's float buffers, KernelEmitter's
/// vectorWidth lanes wide.
struct Vec {
  KernelEmitter &k;
  int64_t lanes;
  llvm::FixedVectorType *type;

  explicit Vec(KernelEmitter &k);
  /// Keeps 512-bit vectors whole in the kernel being emitted, even where the
  /// CPU's tuning prefers 256 bits for the loop vectoriser.
  void keepWide();

  /// How many vectors `count` floats take.
  int64_t vectors(int64_t count) const { return (count + lanes - 1) / lanes; }
  llvm::Value *zero() const;
  llvm::Value *splat(llvm::Value *s);
  /// a * b + acc, fused where the target can (scalars too).
  llvm::Value *fma(llvm::Value *a, llvm::Value *b, llvm::Value *acc) {
    return k.fma(a, b, acc);
  }
  llvm::Value *lane(llvm::Value *v, int64_t i);
  llvm::Value *mask(int64_t used);
  llvm::Value *at(llvm::Value *base, llvm::Value *index);
  /// The `used` floats at base[index..] (the lanes after them are 0).
  llvm::Value *load(llvm::Value *base, llvm::Value *index, int64_t used);
  /// `lanes` floats of `node` from element `index`.
  llvm::Value *load(const Node *node, llvm::Value *index) {
    return load(k.buffer(node), index, lanes);
  }
  /// Stores the `used` first lanes of `v` at base[index..].
  void store(llvm::Value *base, llvm::Value *index, llvm::Value *v,
             int64_t used);
};

/// Vector accumulators carried through KernelEmitter::reduce.
using Accs = std::vector<llvm::Value *>;

} // namespace sora::ir
