//===- JitModel.h - A .sora model compiled and JITted -----------*- C++ -*-===//
//
// Shared by the tests that run generated kernels: compiles a .sora source
// in-process with the same pipeline as the driver (parse, check, build the
// graphs, emit, optimise at -O2 unless told otherwise), loads the module
// with LLVM's ORC JIT and looks up the model's descriptor. The JIT resolves
// the runtime's symbols from the test executable itself.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/ModelCodeGen.h"
#include "CodeGen/Target.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"
#include "sora/runtime.h"

#include <gtest/gtest.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/TargetSelect.h>

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace sora::jit {

/// A model compiled and loaded into this process.
struct JitModel {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<SourceFile> file;
  std::optional<dsl::Program> program;
  ir::CompiledModel cm;
  const sora_model_desc *desc = nullptr;

  /// The parameter `name`'s floats within a parameter block.
  float *slot(std::vector<float> &params, const std::string &name) const {
    const ir::ParamSlot *s = cm.layout.find(name);
    EXPECT_TRUE(s) << name;
    return s ? params.data() + s->offset : nullptr;
  }
};

/// Compiles the first model of `source` and JITs it; on a diagnostic (or
/// any other failure) records a test failure and returns null. `optLevel`
/// is LLVM's (IR passes and code generation, like sorac's -O0..-O3); the
/// graph passes are `pipeline`'s whatever it is. `configure` may set the
/// compiled model's target choices (vector width, bf16 pairs) before its
/// code is emitted.
inline std::unique_ptr<JitModel>
compile(const std::string &source,
        const ir::PipelineOptions &pipeline = ir::PipelineOptions::standard(),
        int optLevel = 2,
        const std::function<void(ir::CompiledModel &)> &configure = nullptr) {
  auto jm = std::make_unique<JitModel>();
  jm->file = std::make_unique<SourceFile>("test.sora", source);
  std::ostringstream diagnostics;
  DiagnosticEngine diags(*jm->file, diagnostics);
  auto ast = parseFile(*jm->file, diags);
  if (ast)
    jm->program = checkProgram(*ast, diags);
  if (!jm->program || jm->program->models.empty()) {
    ADD_FAILURE() << diagnostics.str();
    return nullptr;
  }
  jm->cm = ir::buildModelGraphs(jm->program->models[0], ".", pipeline);
  if (configure)
    configure(jm->cm);

  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto mod = ir::emitModule(jm->cm, *ctx).module;
  std::string error;
  auto tm = createTargetMachine("", "", optLevel, error);
  if (!tm) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  optimizeModule(*mod, *tm, optLevel);

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto host = llvm::cantFail(llvm::orc::JITTargetMachineBuilder::detectHost());
  host.setCodeGenOptLevel(tm->getOptLevel());
  jm->jit = llvm::cantFail(
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(host).create());
  // glibc's vector maths, which x86-64 code may call (Target.cpp).
  llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1");
  jm->jit->getMainJITDylib().addGenerator(llvm::cantFail(
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          jm->jit->getDataLayout().getGlobalPrefix())));
  llvm::cantFail(jm->jit->addIRModule(
      llvm::orc::ThreadSafeModule(std::move(mod), std::move(ctx))));
  std::string descName = jm->program->models[0].name + "_desc";
  jm->desc = llvm::cantFail(jm->jit->lookup(descName))
                 .toPtr<const sora_model_desc *>();
  return jm;
}

/// A batch of inputs and one-hot labels for a model's descriptor.
struct Batch {
  int64_t n;
  std::vector<float> x, y;
};

/// Normal(0, 1) inputs and a random class per row, from the seed.
inline Batch randomBatch(const sora_model_desc &d, int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Batch b{n, std::vector<float>(n * d.input_size),
          std::vector<float>(n * d.label_size, 0.0f)};
  for (float &v : b.x)
    v = normal(rng);
  // An integer input's slots hold ids below its limit, as int32_t bits.
  for (int64_t k = 0; k < d.num_inputs; ++k) {
    const sora_input_desc &in = d.inputs[k];
    for (int64_t r = 0; in.integer && r < n; ++r)
      for (int64_t e = 0; e < in.size; ++e) {
        int32_t id = int32_t(rng() % uint32_t(in.id_limit ? in.id_limit : 1));
        std::memcpy(&b.x[r * d.input_size + in.offset + e], &id, sizeof id);
      }
  }
  for (int64_t r = 0; r < n; ++r)
    b.y[r * d.label_size + rng() % d.label_size] = 1;
  return b;
}

} // namespace sora::jit
