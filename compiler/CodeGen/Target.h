//===- Target.h - LLVM optimisation and object emission --------*- C++ -*-===//
#pragma once

#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

namespace sora {

/// `triple` in LLVM's normal form (aarch64-linux-gnu becomes
/// aarch64-unknown-linux-gnu); empty: the host's.
std::string normalizeTriple(const std::string &triple);

/// A target machine for `triple` (empty: the host) and `cpu` (empty or
/// "native": the host's CPU with its features when the target is the host,
/// else the target's default CPU). Sets `error` on failure: an unknown
/// target, or a CPU the target does not know (both usage errors).
std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const std::string &triple, const std::string &cpu,
                    int optLevel, std::string &error);

/// Floats per vector register for the micro-kernels on `tm`'s CPU: 16 with
/// AVX-512F, 8 with AVX/AVX2, else 4 (SSE, NEON, RVV's 128-bit minimum; on
/// targets without vector units LLVM splits the vectors into scalars).
int targetVectorWidth(const llvm::TargetMachine &tm);

/// Whether bfloat16 products on a CPU named `cpu` (LLVM's name) should
/// multiply pairs with AVX512_BF16's vdpbf16ps, given that it has it: only
/// where that beats two FMAs per lane (AMD's Zen 4 and later).
bool bf16PairsPayOn(llvm::StringRef cpu);
/// Whether `tm`'s CPU has vdpbf16ps on 512-bit vectors and it pays there.
bool targetPrefersBf16Pairs(const llvm::TargetMachine &tm);
/// Whether `tm`'s CPU has AVX512_VNNI's u8 x i8 dot product (vpdpbusd) on
/// 512-bit vectors.
bool targetHasVnni(const llvm::TargetMachine &tm);

/// Whether `tm`'s CPU has AMX's bfloat16 tiles (amx-tile, amx-bf16) with
/// AVX-512.
bool targetHasAmxBf16(const llvm::TargetMachine &tm);

/// Runs LLVM's standard -O<level> pipeline over the module.
void optimizeModule(llvm::Module &mod, llvm::TargetMachine &tm, int optLevel);

/// Object code or assembly for the module.
bool emitCode(llvm::Module &mod, llvm::TargetMachine &tm, bool assembly,
              std::string &out, std::string &error);

} // namespace sora
