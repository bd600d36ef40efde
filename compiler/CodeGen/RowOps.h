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
/// softmax(z[row .. row + M)) into `out` at the same indices, each value p
/// passed through finish(j, index, p) before it is stored.
void rowSoftmax(KernelEmitter &k, const Node *z, llvm::Value *row, int64_t M,
                const Node &out,
                const std::function<llvm::Value *(llvm::Value *, llvm::Value *,
                                                  llvm::Value *)> &finish);
/// sums[j] = sum of x[r * M + j] over every row r of x, seen as rows of M
/// elements (bias_grad), for j < M: the sums zeroed, then accumulated
/// through get(j) and set(j, value) in loops over the rows (`rowName`) and
/// their elements. A large x (a convolution's output gradient) is summed in
/// two fixed halves of its rows, which threads share, then set(j, the sum
/// of the halves' sums): the same sums at every thread count.
/// Fixed parts of the batch whose sums a reduction threads share adds in
/// order at the end (sumColumns, a small kernel's filter gradient): the
/// same sums whatever the number of threads.
constexpr int64_t kBatchParts = 2;
/// The first sample of batch part `part` (part kBatchParts: the end).
llvm::Value *batchPartStart(KernelEmitter &k, llvm::Value *part);
/// set(i, the sum over the parts p of parts[p * count + i]) for i < count,
/// in order of p.
void addBatchParts(
    KernelEmitter &k, llvm::Value *parts, int64_t count,
    const std::function<void(llvm::Value *, llvm::Value *)> &set);

void sumColumns(KernelEmitter &k, const Node *x, int64_t M,
                const std::function<llvm::Value *(llvm::Value *)> &get,
                const std::function<void(llvm::Value *, llvm::Value *)> &set,
                const char *rowName);
/// The index (i64) of the first maximum of v[row .. row + M).
llvm::Value *rowArgMax(KernelEmitter &k, const Node *v, llvm::Value *row,
                       int64_t M);

} // namespace sora::ir
