//===- RuntimeContract.h - Types shared with the runtime --------*- C++ -*-===//
//
// The LLVM form of the runtime's structs and of the kernel signature, built
// from RuntimeContract.def.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <llvm/IR/DerivedTypes.h>

#include <array>

namespace sora::ir {

/// The runtime structs the generated object defines constants of.
enum class RuntimeStruct {
  sora_data_spec,
  sora_param_desc,
  sora_input_desc,
  sora_early_stopping,
  sora_plateau,
  sora_model_desc
};

/// The struct's LLVM type (a literal struct: an int64_t[4] is four i64).
llvm::StructType *runtimeStructType(llvm::LLVMContext &ctx, RuntimeStruct s);

/// sora_kernel_fn: void(params, opt_state, scratch, x, y, n, step, out).
llvm::FunctionType *kernelFunctionType(llvm::LLVMContext &ctx);

constexpr int kNumKernelArgs = 0
#define SORA_KERNEL_ARG(member, name, Kind) +1
#include "CodeGen/RuntimeContract.def"
    ;

/// The kernel arguments' names, in order.
extern const std::array<const char *, kNumKernelArgs> kKernelArgNames;

} // namespace sora::ir
