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

/// Products of bfloat16 operands two at a time, for `precision = bf16` on
/// AVX512_BF16: vdpbf16ps adds a[2j] b[2j] + a[2j+1] b[2j+1] to lane j of
/// an f32 accumulator, so a reduction runs over pairs of its index, each
/// vector operand holding the pair of every lane interleaved. The operands
/// are round_bf16 values (f32 with 16 zero low bits): their bfloat16 is
/// their upper half, taken exactly.
struct Bf16 {
  Vec &vec;
  llvm::FixedVectorType *pairs; ///< <32 x bfloat>: 16 lanes of pairs
  explicit Bf16(Vec &vec);

  /// acc + the products of the pairs of `a` and `b`, lane by lane.
  llvm::Value *dot(llvm::Value *acc, llvm::Value *a, llvm::Value *b);
  /// The pair (base[index], base[index + 1]) in every lane.
  llvm::Value *splatPair(llvm::Value *base, llvm::Value *index);
  /// The values of `lo` then `hi` in order: lane j holds the pair of
  /// values 2j and 2j + 1 (a row's consecutive values, for dot products
  /// along it).
  llvm::Value *pack(llvm::Value *lo, llvm::Value *hi);
  /// Lane j holds (even[j], odd[j]): two f32 vectors interleaved.
  llvm::Value *interleave(llvm::Value *even, llvm::Value *odd);
  /// Pair `index` of a tile of pair vectors in every lane (a broadcast
  /// load).
  llvm::Value *splatStored(llvm::Value *tile, llvm::Value *index);
  /// A stack buffer of `count` pair vectors (64-byte aligned), and its
  /// vector `i`.
  llvm::Value *tile(int64_t count);
  llvm::Value *load(llvm::Value *tile, llvm::Value *i);
  void store(llvm::Value *tile, llvm::Value *i, llvm::Value *v);
};

/// Whether every operand of product `n` is a round_bf16 value.
bool bf16Operands(const Node &n);
/// Whether product `n` may multiply bfloat16 pairs: the target has them and
/// every operand is a round_bf16 value.
bool bf16Pairs(const KernelEmitter &k, const Node &n);

/// Vector accumulators carried through KernelEmitter::reduce.
using Accs = std::vector<llvm::Value *>;

} // namespace sora::ir
