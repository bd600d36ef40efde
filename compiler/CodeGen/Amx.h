//===- Amx.h - Intel AMX tiles for the bfloat16 convolutions ---*- C++ -*-===//
//
// With `precision = bf16` on a CPU with AMX (Intel's Sapphire Rapids and
// later; KernelEmitter::amx), the stride-1 convolutions are implicit matrix
// products on AMX's tile registers: one tdpbf16ps multiplies 16 x 32
// bfloat16 by 32 x 16 into 16 x 16 f32 sums, 16 times the multiply-adds of
// a vdpbf16ps. AmxConv.cpp emits the convolution and its input gradient,
// AmxFilterGradient.cpp the filter gradient, AmxMatMul.cpp a dense layer's
// forward product; they use the tile registers
// by number, configured by a constant (tileConfig) loaded where a thread's
// part starts and released where it ends. Where the OS refuses AMX's state
// (sora_amx_ready, asked at run time) the vector code runs (ifAmxReady).
//
// Both see a sample as "flat rows": with the input padded to Wp = out.w +
// kw - 1 columns, output pixel (y, x) is flat row q = y Wp + x and its tap
// (a, b) is padded pixel q + a Wp + b, so that for every tap 16 consecutive
// flat rows are 16 pixels a fixed stride apart: one tile load. The flat
// rows with x >= out.w are computed and never stored (or multiply zeros).
// The sums are those of f32 products of the same rounded operands, in
// another order, each computed by one thread whatever their number.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/KernelEmitter.h"

#include <llvm/IR/IntrinsicsX86.h>

#include <functional>

namespace sora::ir {

constexpr int64_t kTileRows = 16;      ///< rows of a tile (and f32 columns)
constexpr int64_t kTileRowBytes = 64;  ///< bytes of a tile's row
constexpr int64_t kBlockRows = 32;     ///< flat rows of a block: 2 tiles
constexpr int64_t kMaxStack = 1 << 19; ///< bytes of each copy on the stack

/// A sample's flat rows for an output image `out` and a kh x kw kernel.
struct FlatRows {
  int64_t wp;     ///< columns of the padded image
  int64_t blocks; ///< blocks of 32 flat rows
  int64_t pixels; ///< pixels of the padded image, with what the last
                  ///< block's taps read past its end
};
FlatRows flatRows(int64_t outH, int64_t outW, int64_t kh, int64_t kw);

/// The 64-byte tile configuration (palette 1): tiles 0-3 16 x 16 f32, 4-5
/// 16 rows of kStep bfloat16, 6-7 kStep / 2 rows of 16 pairs.
llvm::Constant *tileConfig(llvm::Module &mod, int64_t kStep);

/// AMX's instructions on tile registers by number (the intrinsics clang's
/// _tile_* macros use): LLVM treats each as touching any memory, so loads
/// and stores around them stay in order.
struct Amx {
  KernelEmitter &k;
  llvm::Value *tile(int t) { return k.b.getInt8(uint8_t(t)); }
  void call(llvm::Intrinsic::ID id, std::vector<llvm::Value *> args) {
    k.b.CreateIntrinsic(id, {}, args);
  }
  void zero(int t) { call(llvm::Intrinsic::x86_tilezero, {tile(t)}); }
  void load(int t, llvm::Value *at, int64_t stride) {
    call(llvm::Intrinsic::x86_tileloadd64, {tile(t), at, k.i64(stride)});
  }
  void store(int t, llvm::Value *at, int64_t stride) {
    call(llvm::Intrinsic::x86_tilestored64, {tile(t), at, k.i64(stride)});
  }
  void dot(int c, int a, int b) {
    call(llvm::Intrinsic::x86_tdpbf16ps, {tile(c), tile(a), tile(b)});
  }

  // Every kernel keeps a block of `rows` x `cols` tiles of sums (at most 2
  // x 2) in tiles 2 m + j, its A tiles in 4 + m and its B tiles in 6 + j.
  void zeroSums(int64_t rows, int64_t cols) {
    for (int m = 0; m < rows; ++m)
      for (int j = 0; j < cols; ++j)
        zero(2 * m + j);
  }
  /// Sums += A tiles x B tiles.
  void products(int64_t rows, int64_t cols) {
    for (int m = 0; m < rows; ++m)
      for (int j = 0; j < cols; ++j)
        dot(2 * m + j, 4 + m, 6 + j);
  }
  /// Stores the sums, tile 2 m + j at float 256 (2 m + j) of `sums`.
  void storeSums(int64_t rows, int64_t cols, llvm::Value *sums) {
    for (int m = 0; m < rows; ++m)
      for (int j = 0; j < cols; ++j)
        store(2 * m + j,
              k.b.CreateInBoundsGEP(k.b.getFloatTy(), sums,
                                    k.i64((2 * m + j) * 256)),
              64);
  }
};

/// A 64-byte aligned stack buffer of `bytes`, once per call of the function.
llvm::Value *stackBytes(KernelEmitter &k, int64_t bytes);
/// The bfloat16 element `index` of `base`.
llvm::Value *bf16At(KernelEmitter &k, llvm::Value *base, llvm::Value *index);

/// The 16 x 16 transpose of 16 vectors of 16 32-bit lanes (to AMX's
/// layouts): four rounds, each swapping the off-diagonal blocks of size 8,
/// 4, 2 and 1 (vpermt2d).
std::vector<llvm::Value *> transpose16(llvm::IRBuilder<> &b,
                                       std::vector<llvm::Value *> v);

/// Emits amx() where the OS lets the process use AMX's tiles (the
/// runtime's sora_amx_ready, asked at run time), else vectors().
void ifAmxReady(KernelEmitter &k, const std::function<void()> &amx,
                const std::function<void()> &vectors);

/// Whether matmul_nt or matmul `n` (a dense layer's forward product or its
/// input gradient) can run on AMX tiles, and its loop nest there
/// (AmxMatMul.cpp).
bool amxMatMulFits(const KernelEmitter &k, const Node &n);
void lowerAmxMatMul(KernelEmitter &k, const Node &n);

} // namespace sora::ir
