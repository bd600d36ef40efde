//===- RowOps.h - Reductions over one row of a batch ------------*- C++ -*-===//
//
// The per-row pieces that softmax, the losses and the metrics share.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/KernelEmitter.h"

namespace sora::ir {

/// max_j z[row + j] over M elements.
llvm::Value *rowMax(KernelEmitter &k, const Node *z, llvm::Value *row,
                    int64_t M);
/// sum_j exp(z[row + j] - mx); when `store` is set, each exp(z - mx) is also
/// written to it at the same index.
llvm::Value *rowSumExp(KernelEmitter &k, const Node *z, llvm::Value *row,
                       int64_t M, llvm::Value *mx, const Node *store);
/// The index (i64) of the first maximum of v[row .. row + M).
llvm::Value *rowArgMax(KernelEmitter &k, const Node *v, llvm::Value *row,
                       int64_t M);

} // namespace sora::ir
