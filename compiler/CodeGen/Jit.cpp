//===- Jit.cpp - A model module compiled in-process -----------------------===//
#include "CodeGen/Jit.h"
#include "CodeGen/Target.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/TargetSelect.h>

#include <stdexcept>

namespace sora {

Jit::Jit(std::unique_ptr<llvm::Module> mod,
         std::unique_ptr<llvm::LLVMContext> ctx, int optLevel) {
  std::string error;
  auto tm = createTargetMachine("", "", optLevel, error);
  if (!tm)
    throw std::logic_error(error);
  optimizeModule(*mod, *tm, optLevel);
  static bool initialised = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // glibc's vector maths, which x86-64 code may call (Target.cpp).
    llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
    return true;
  }();
  (void)initialised;
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb)
    throw std::logic_error(llvm::toString(jtmb.takeError()));
  // Code generation as quick as the optimisation asked for.
  jtmb->setCodeGenOptLevel(optLevel == 0 ? llvm::CodeGenOptLevel::None
                                         : llvm::CodeGenOptLevel::Default);
  auto jit =
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*jtmb).create();
  if (!jit)
    throw std::logic_error(llvm::toString(jit.takeError()));
  jit_ = std::move(*jit);
  // The runtime and libm come from this process.
  jit_->getMainJITDylib().addGenerator(llvm::cantFail(
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          jit_->getDataLayout().getGlobalPrefix())));
  if (llvm::Error e = jit_->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx))))
    throw std::logic_error(llvm::toString(std::move(e)));
}

Jit::~Jit() = default;

void *Jit::lookup(const std::string &symbol) {
  auto address = jit_->lookup(symbol);
  if (!address)
    throw std::logic_error(llvm::toString(address.takeError()));
  return address->toPtr<void *>();
}

} // namespace sora
