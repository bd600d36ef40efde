//===- Descriptor.h - The sora_model_desc constant of a model ---*- C++ -*-===//
#pragma once

#include "CodeGen/ModelCodeGen.h"

#include <llvm/IR/Function.h>
#include <llvm/IR/GlobalVariable.h>

namespace sora::ir {

/// The kernels a descriptor points at (null when the model has none).
struct ModelKernels {
  llvm::Function *predict = nullptr, *evaluate = nullptr, *train = nullptr,
                 *gradStep = nullptr, *applyUpdate = nullptr;
};

/// Floats per input sample, per prediction and per label row as the
/// kernels read it (class indices are one float).
struct ModelSizes {
  int64_t input = 1, output = 1, label = 1;
};
ModelSizes modelSizes(const CompiledModel &cm);

/// The runtime's enum sora_loss_kind for a loss.
int64_t lossKind(dsl::LossKind loss);

/// Defines `<prefix>_desc`, the sora_model_desc of `cm` (baked: an
/// inference build, whose weights are no instance's).
llvm::GlobalVariable *
emitDescriptor(llvm::Module &mod, const CompiledModel &cm,
               const ModelKernels &kernels, bool baked,
               const std::vector<std::string> &profileRows);

} // namespace sora::ir
