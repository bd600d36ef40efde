//===- Target.h - LLVM optimisation and object emission --------*- C++ -*-===//
#pragma once

#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

namespace sora {

/// A target machine for `triple` (empty: the host) and `cpu` (empty or
/// "native": the host's CPU with its features). Sets `error` on failure.
std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const std::string &triple, const std::string &cpu,
                    int optLevel, std::string &error);

/// Runs LLVM's standard -O<level> pipeline over the module.
void optimizeModule(llvm::Module &mod, llvm::TargetMachine &tm, int optLevel);

/// Object code or assembly for the module.
bool emitCode(llvm::Module &mod, llvm::TargetMachine &tm, bool assembly,
              std::string &out, std::string &error);

} // namespace sora
