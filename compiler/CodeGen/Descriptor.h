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

/// One model input as a sora_input_desc describes it.
struct InputDesc {
  std::string name;
  int64_t offset, size; ///< slots of the packed sample row
  bool integer;         ///< int32_t ids rather than floats
  int64_t idLimit;      ///< ids must be below it; 0: unchecked
};

/// The model's inputs for the runtime, in declaration order, tiling the
/// packed sample row, each integer one with its ids' limit. More than one gives
/// an instance a pack buffer of max_batch rows (<MODEL>_MEMORY_BYTES).
std::vector<InputDesc> inputDescs(const CompiledModel &cm);

/// The runtime's enum sora_loss_kind for a loss.
int64_t lossKind(dsl::LossKind loss);

/// Defines `<prefix>_desc`, the sora_model_desc of `cm` (baked: an
/// inference build, whose weights are no instance's).
llvm::GlobalVariable *
emitDescriptor(llvm::Module &mod, const CompiledModel &cm,
               const ModelKernels &kernels, bool baked,
               const std::vector<std::string> &profileRows);

} // namespace sora::ir
