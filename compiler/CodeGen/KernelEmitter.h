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

#include "IR/OpTable.h"

#include <llvm/IR/IRBuilder.h>

#include <array>
#include <functional>
#include <map>

namespace sora::ir {

/// A qmatmul_nt's weight [M, K], quantized at compile time (Int8Lowerings):
/// read-only globals.
struct Int8Weights {
  /// i8, in tiles of 16 rows: [M/16][K/4][16][4] (K and M padded with
  /// zeros), so that one 64-byte load holds 4 columns of 16 rows.
  llvm::Constant *packed;
  llvm::Constant *scales;  ///< f32[M padded]: activation scale * row scale
  llvm::Constant *offsets; ///< i32[M padded]: -zero_point * row sum
};

class KernelEmitter {
public:
  KernelEmitter(llvm::Function *fn, llvm::IRBuilder<> &builder)
      : b(builder), fn_(fn) {}

  llvm::IRBuilder<> &b;
  // The kernel's arguments (see sora_kernel_fn in sora/runtime.h, and
  // RuntimeContract.def).
  llvm::Value *params = nullptr, *optState = nullptr, *scratch = nullptr;
  llvm::Value *x = nullptr, *y = nullptr, *n = nullptr, *step = nullptr;
  llvm::Value *out = nullptr;
  /// Sets the argument values above to `kernel`'s arguments.
  void setArguments(llvm::Function *kernel);

  /// Base pointer (float*) of `node`'s buffer: resolved the first time a
  /// function of the kernel uses it, in that function's setup block (in an
  /// op function: one of its arguments).
  llvm::Value *buffer(const Node *node);
  /// How a buffer is found (an argument, a parameter block or scratch
  /// offset), through the builder given; set once per kernel and shared by
  /// the parallel parts of its own code.
  using BufferResolver = std::function<llvm::Value *(
      KernelEmitter &, llvm::IRBuilder<> &, const Node *)>;
  BufferResolver resolveBuffer;
  /// reduce_on_plateau's count of reductions (kLrReductions), if the kernel
  /// has one: shared by its op functions and parallel parts.
  const Node *lrReductions = nullptr;
  /// Ends the function's setup block (its arguments read; buffers are
  /// added to it as they are first used) and continues in its body.
  void beginBody();

  /// Element `index` of `node` (a Const folds to its value).
  llvm::Value *load(const Node *node, llvm::Value *index);
  void store(const Node *node, llvm::Value *index, llvm::Value *value);

  // --- Elementwise ops and fused epilogues ----------------------------------
  /// An elementwise op's value at `index` (`inRow`: the index within the
  /// sample, from which bias_add finds its column), its operands loaded.
  llvm::Value *element(const Node &n, llvm::Value *index, llvm::Value *inRow);
  /// Stores `value` as `n`'s element at `index`; when `n` anchors a fused
  /// chain, the chain is applied first and the root's buffer receives it.
  /// A vector `value` is the elements from `index` on (consecutive columns
  /// from `inRow`), its first `used` lanes real: the chain runs on vectors.
  void storeResult(const Node &n, llvm::Value *index, llvm::Value *value,
                   llvm::Value *inRow, int64_t used = 0);
  /// While the anchor of `group` is lowered, storeResult applies its chain.
  void setEpilogue(const FusionGroup *group) { epilogue_ = group; }
  bool hasEpilogue(const Node &n) const {
    return epilogue_ && epilogue_->anchor == &n;
  }

  /// A stack buffer of `floats` floats for the kernel's duration (a tile
  /// that stays in cache), and its elements.
  llvm::Value *tile(int64_t floats);
  llvm::Value *loadTile(llvm::Value *tile, llvm::Value *i);
  void storeTile(llvm::Value *tile, llvm::Value *i, llvm::Value *v);

  // --- Explicit vectors, for the micro-kernels (VectorOps.h) ---------------
  /// Floats per vector register of the target (16 with AVX-512).
  int vectorWidth = 8;
  /// Whether products of bfloat16 operands (round_bf16 values) may run as
  /// vdpbf16ps on pairs of them (Bf16 in VectorOps.h): AVX512_BF16.
  bool bf16Dot = false;
  /// Whether int8 products may run as AVX512_VNNI's vpdpbusd.
  bool vnni = false;
  /// Whether bfloat16 convolutions may run on AMX tiles (AmxConv.cpp).
  bool amx = false;
  /// The packed weights of the kernel's int8 products (qmatmul_nt), by node.
  const std::map<const Node *, Int8Weights> *int8 = nullptr;
  /// a * b + c, fused where the target can (scalars or vectors).
  llvm::Value *fma(llvm::Value *a, llvm::Value *b, llvm::Value *c);

  // --- The functions a kernel is made of (KernelFunctions.cpp) -------------
  /// for (i = 0; i < count; ++i) body(e, i), the iterations shared among
  /// the runtime's threads (sora_parallel_for) when the loop does at least
  /// a threshold of work; `workPerIteration` estimates its multiply-adds.
  /// The body is emitted into another function through emitter `e`: it
  /// must not use values of the enclosing code other than constants.
  void
  parallelLoop(llvm::Value *count, int64_t workPerIteration,
               const std::function<void(KernelEmitter &, llvm::Value *)> &body);
  /// As parallelLoop, but body(e, begin, end) emits a whole range [begin,
  /// end) of the iterations, the part one thread runs: it can prepare
  /// something once for its iterations (a copy of a kernel on its stack) or
  /// order them itself (each block of samples through all of its
  /// iterations, while the block is in cache). `work`: the multiply-adds of
  /// all the iterations. `sweep`: one range per thread
  /// (sora_parallel_sweep), for a body that sweeps the same data once per
  /// range, whatever its size (the whole batch, for a filter gradient).
  /// `sharedBuffer`: a pointer of this function's (a stack buffer) that the
  /// body reads as `e.shared`, for the ranges to leave results in for the
  /// code after the loop.
  void parallelRanges(llvm::Value *count, llvm::Value *work,
                      const std::function<void(KernelEmitter &, llvm::Value *,
                                               llvm::Value *)> &body,
                      bool sweep = false, llvm::Value *sharedBuffer = nullptr);
  /// In the body of a parallelRanges given a shared buffer: its pointer.
  llvm::Value *shared = nullptr;

  /// Emits `body`, one op or fused group, into an op function called
  /// `name` (LLVM numbers namesakes), whose
  /// arguments are the rows, the step and the buffers the op uses, and
  /// calls it here with this kernel's buffers. An op function names no
  /// kernel's memory plan, so the same op in two kernels or two layers is
  /// the same function, which LLVM keeps once (MergeFunctions, Target.cpp).
  /// The body may not use the kernel's block arguments (params, scratch,
  /// ...) directly: only buffer(), n and step.
  void opFunction(const std::string &name,
                  const std::function<void(KernelEmitter &)> &body);

  /// The most rows of a batched buffer (its size, to tell which buffers an
  /// op function may take as `noalias`).
  int64_t maxRows = 1;

  /// Outermost loops emitted so far (for --stats).
  int loopNests = 0;

  llvm::Value *i64(int64_t v) { return b.getInt64(v); }
  llvm::Value *f32(double v);
  /// Number of rows of a value: the batch size if batched, else 1.
  llvm::Value *rows(const Node *node) {
    return node->type.batched ? n : i64(1);
  }
  /// Rows of the last dimension: rows(node) times every other dimension
  /// (a [?, T, K] value has n * T rows of K).
  llvm::Value *lines(const Node *node) {
    int64_t perSample = node->type.elements() / node->type.dims.back();
    return perSample == 1 ? rows(node) : mulRows(node, perSample);
  }
  /// rows(node) * factor.
  llvm::Value *mulRows(const Node *node, int64_t factor) {
    return b.CreateMul(rows(node), i64(factor), "", true, true);
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
  /// for each batch row r of a value shaped like `like`: body(e, flat index
  /// of the row's first element), the rows shared among threads when a
  /// full batch holds enough elements to be worth it. As for parallelLoop,
  /// the body emits through `e` and uses no value of the enclosing code.
  void
  forEachRow(const Node *like,
             const std::function<void(KernelEmitter &, llvm::Value *)> &body);

private:
  /// A new emitter for `f`, with this one's settings (vector width,
  /// epilogue, buffers, signature) and `f`'s arguments bound; given
  /// `opBuffers`, for an op function whose buffers they are.
  KernelEmitter
  derived(llvm::Function *f, llvm::IRBuilder<> &builder,
          const std::vector<const Node *> *opBuffers = nullptr) const;
  /// Sets the argument values from `f`'s arguments: a kernel's
  /// (RuntimeContract.def) or an op function's (n, step, opBuffers_).
  void bindArguments(llvm::Function *f);

  /// The index of operand `i` of elementwise `n` at element `index`.
  llvm::Value *operandIndex(const Node &n, size_t i, llvm::Value *index,
                            llvm::Value *inRow);

  llvm::Function *fn_;
  std::map<const Node *, llvm::Value *> buffers_;
  llvm::BasicBlock *setup_ = nullptr;
  const FusionGroup *epilogue_ = nullptr;
  int depth_ = 0;
  int64_t lanes_ = 0; ///< f32() makes vectors of lanes_ while nonzero
  llvm::Value *context_ = nullptr; ///< the kernel arguments, for workers
  int parallelLoops_ = 0;
  /// In an op function (and its parts): the nodes whose buffers are its
  /// arguments after n and step, in order.
  bool inOpFunction_ = false;
  std::vector<const Node *> opBuffers_;
};

/// Index arithmetic on in-bounds, non-negative element indices (nuw, nsw:
/// lets LLVM fold and vectorise address computations).
inline llvm::Value *mulIdx(KernelEmitter &k, llvm::Value *a, int64_t c) {
  return k.b.CreateMul(a, k.i64(c), "", true, true);
}
inline llvm::Value *addIdx(KernelEmitter &k, llvm::Value *a, llvm::Value *b) {
  return k.b.CreateAdd(a, b, "", true, true);
}
/// a - b of element indices (nsw: no signed overflow).
inline llvm::Value *subIdx(KernelEmitter &k, llvm::Value *a, llvm::Value *b) {
  return k.b.CreateSub(a, b, "", false, true);
}

/// Emits body(c) for each case c < cases, the one run being c == `index`
/// (code specialised to a constant, picked at run time).
void forEachCase(KernelEmitter &k, llvm::Value *index, int64_t cases,
                 const std::function<void(int64_t)> &body);

/// A private, read-only, 64-byte aligned global `name` of `mod` holding
/// `data` (baked weights, packed int8 weights and their scales).
llvm::GlobalVariable *readOnlyData(llvm::Module &mod, llvm::Constant *data,
                                   const std::string &name);

/// An elementwise op's math on one element (Formulas.cpp).
using Formula = llvm::Value *(*)(KernelEmitter &k, const Node &n,
                                 const std::vector<llvm::Value *> &operands);
Formula formula(OpKind op);

/// The learning rate (double) of update `n` at the kernel's step, as its
/// schedule gives it (Schedules.cpp).
llvm::Value *learningRate(KernelEmitter &k, const Node &n);

/// The fused update of every parameter (an OptimizerUpdate group): one loop
/// over the parameter block, with the gradients at the start of scratch in
/// the parameters' layout and the optimizer state as [m | v].
void lowerOptimizerGroup(KernelEmitter &k, const FusionGroup &group,
                         int64_t weightFloats);

/// A weight's gradient op and its update as one loop nest (an
/// UpdateEpilogue group).
void lowerUpdateGroup(KernelEmitter &k, const FusionGroup &group);

/// matmul_tn `grad`'s block dW[i0 + a, j0 + c * VW + v] for a < rows,
/// c < vectors, summed over every row in vector registers and stored to
/// `tile` (rows x vectors * VW floats) (Optimizers.cpp).
void gradientBlock(KernelEmitter &k, const Node &grad, llvm::Value *i0,
                   int64_t rows, llvm::Value *j0, int64_t vectors,
                   llvm::Value *tile);

/// The blocks of a matmul_tn gradient, `bands` bands of rows by `panels`
/// panels of columns, shared among threads a panel at a time through all
/// of its bands, so that the panel's part of B stays in the L1 cache while
/// the bands read it (band by band, a wide B streamed from L2 once per
/// band). `perThread(e)` runs once where a thread's part starts (the
/// constants and tiles its blocks share) and returns the block body,
/// body(band, panel) (Optimizers.cpp).
using BlockBody = std::function<void(llvm::Value *band, llvm::Value *panel)>;
void forEachGradientBlock(
    KernelEmitter &k, int64_t bands, int64_t panels, int64_t workPerBlock,
    const std::function<BlockBody(KernelEmitter &)> &perThread);

/// Emits the code of one node.
using Lowering = void (*)(KernelEmitter &k, const Node &node);
Lowering lowering(OpKind op);

/// The lowering table; each op family registers its rules into it.
using LoweringTable = OpTable<Lowering>;
/// Convolution, pooling and dropout (ImageLowerings.cpp and the files it
/// names).
void registerImageLowerings(LoweringTable &table);
/// Embeddings and the ops along the last dimension (AxisLowerings.cpp).
void registerAxisLowerings(LoweringTable &table);
/// Every loss, its gradient and the metrics (LossLowerings.cpp).
void registerLossLowerings(LoweringTable &table);
void registerMetricLowerings(LoweringTable &table);
/// int8 products (Int8Lowerings.cpp).
void registerInt8Lowerings(LoweringTable &table);
/// The packed int8 weights of `g`'s qmatmul_nt ops, from an inference
/// build's baked parameters (Int8Lowerings.cpp).
struct CompiledModel;
std::map<const Node *, Int8Weights>
packInt8Weights(llvm::Module &mod, const CompiledModel &cm, const Graph &g);
/// Batch and layer normalisation, running statistics (NormLowerings.cpp).
void registerNormLowerings(LoweringTable &table);
/// Optimizer updates (Optimizers.cpp).
void registerOptimizerLowerings(LoweringTable &table);

} // namespace sora::ir
