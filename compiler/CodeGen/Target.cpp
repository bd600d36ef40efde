//===- Target.cpp - LLVM optimisation and object emission
//------------------===//
#include "CodeGen/Target.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/PassManager.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

namespace sora {

using namespace llvm;

std::unique_ptr<TargetMachine> createTargetMachine(const std::string &triple,
                                                   const std::string &cpu,
                                                   int optLevel,
                                                   std::string &error) {
  static bool initialised = [] {
    InitializeAllTargetInfos();
    InitializeAllTargets();
    InitializeAllTargetMCs();
    InitializeAllAsmPrinters();
    return true;
  }();
  (void)initialised;
  std::string tripleStr =
      triple.empty() ? sys::getDefaultTargetTriple() : triple;
  const Target *target = TargetRegistry::lookupTarget(tripleStr, error);
  if (!target)
    return nullptr;
  bool host = triple.empty() ||
              Triple(tripleStr) == Triple(sys::getDefaultTargetTriple());
  std::string cpuName = cpu;
  std::string features;
  if ((cpu.empty() || cpu == "native") && host) {
    cpuName = sys::getHostCPUName().str();
    StringMap<bool> hostFeatures = sys::getHostCPUFeatures();
    for (auto &f : hostFeatures)
      features += (features.empty() ? "" : ",") +
                  std::string(f.second ? "+" : "-") + f.first().str();
  } else if (cpu == "native") {
    cpuName = "";
  }
  if (!cpuName.empty()) {
    std::unique_ptr<MCSubtargetInfo> sti(
        target->createMCSubtargetInfo(tripleStr, "", ""));
    if (sti && !sti->isCPUStringValid(cpuName)) {
      error = "unknown CPU '" + cpuName + "' for " + tripleStr;
      return nullptr;
    }
  }
  TargetOptions options;
  CodeGenOptLevel level = optLevel == 0   ? CodeGenOptLevel::None
                          : optLevel == 1 ? CodeGenOptLevel::Less
                          : optLevel == 2 ? CodeGenOptLevel::Default
                                          : CodeGenOptLevel::Aggressive;
  std::unique_ptr<TargetMachine> tm(target->createTargetMachine(
      tripleStr, cpuName, features, options, Reloc::PIC_, std::nullopt, level));
  if (!tm)
    error = "cannot create a target machine for " + tripleStr;
  return tm;
}

void optimizeModule(Module &mod, TargetMachine &tm, int optLevel) {
  mod.setTargetTriple(tm.getTargetTriple().str());
  mod.setDataLayout(tm.createDataLayout());
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PipelineTuningOptions tuning;
  tuning.LoopVectorization = optLevel >= 2;
  tuning.SLPVectorization = optLevel >= 2;
  PassBuilder pb(&tm, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  OptimizationLevel level = optLevel == 0   ? OptimizationLevel::O0
                            : optLevel == 1 ? OptimizationLevel::O1
                            : optLevel == 2 ? OptimizationLevel::O2
                                            : OptimizationLevel::O3;
  ModulePassManager mpm = level == OptimizationLevel::O0
                              ? pb.buildO0DefaultPipeline(level)
                              : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(mod, mam);
}

bool emitCode(Module &mod, TargetMachine &tm, bool assembly, std::string &out,
              std::string &error) {
  mod.setTargetTriple(tm.getTargetTriple().str());
  mod.setDataLayout(tm.createDataLayout());
  raw_string_ostream os(out);
  buffer_ostream bos(os);
  legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, bos, nullptr,
                             assembly ? CodeGenFileType::AssemblyFile
                                      : CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit this file type";
    return false;
  }
  pm.run(mod);
  return true;
}

} // namespace sora
