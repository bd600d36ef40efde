//===- Jit.h - A model module compiled in-process ---------------*- C++ -*-===//
//
// `sorac run` and the ONNX conformance runner execute models without an
// object file: the module is optimised as for one, then handed to LLVM's
// ORC JIT. The runtime and libm resolve from the running process, which
// must export them (the executable links the runtime whole, with
// ENABLE_EXPORTS).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <memory>
#include <string>

namespace llvm::orc {
class LLJIT;
}

namespace sora {

class Jit {
public:
  /// Optimises `mod` at `optLevel` (0-3) for this machine and compiles it;
  /// throws std::logic_error when LLVM cannot.
  Jit(std::unique_ptr<llvm::Module> mod, std::unique_ptr<llvm::LLVMContext> ctx,
      int optLevel);
  ~Jit();
  Jit(const Jit &) = delete;
  Jit &operator=(const Jit &) = delete;

  /// The address of `symbol` (e.g. "<model>_desc"); throws when absent.
  void *lookup(const std::string &symbol);

private:
  std::unique_ptr<llvm::orc::LLJIT> jit_;
};

} // namespace sora
