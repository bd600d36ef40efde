//===- Target.cpp - LLVM optimisation and object emission -----------------===//
#include "CodeGen/Target.h"
#include "IR/PhaseTimer.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/PassManager.h>
#include <llvm/IR/PassTimingInfo.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/ARMTargetParser.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>
#include <llvm/Transforms/IPO/MergeFunctions.h>

namespace sora {

using namespace llvm;

std::string normalizeTriple(const std::string &triple) {
  return Triple::normalize(triple.empty() ? sys::getDefaultTargetTriple()
                                          : triple);
}

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
  std::string tripleStr = normalizeTriple(triple);
  Triple t(tripleStr);
  const Target *target = TargetRegistry::lookupTarget(tripleStr, error);
  if (!target) {
    error = "unknown target '" + triple + "': " + error;
    return nullptr;
  }
  bool host = triple.empty() || t == Triple(normalizeTriple(""));
  std::string cpuName = cpu;
  std::string features;
  if ((cpu.empty() || cpu == "native") && host) {
    cpuName = sys::getHostCPUName().str();
    StringMap<bool> hostFeatures = sys::getHostCPUFeatures();
    for (auto &f : hostFeatures)
      features += (features.empty() ? "" : ",") +
                  std::string(f.second ? "+" : "-") + f.first().str();
  } else if (cpu.empty() || cpu == "native") {
    // Another target: its default CPU, as clang picks it. For Arm that is
    // the architecture's (thumbv7em: cortex-m4, with its FPv4-SP unit, so
    // that the hard-float ABI of *-eabihf has registers to pass floats in);
    // elsewhere LLVM's generic CPU.
    cpuName = t.isARM() || t.isThumb() ? ARM::getARMCPUForArch(t).str() : "";
    // RISC-V Linux is RV64GC with the lp64d ABI (what Debian's
    // riscv64-linux-gnu-gcc builds and links against): without these the
    // generic CPU is bare RV64I with soft floats.
    if (t.isRISCV() && t.isOSLinux())
      features = "+m,+a,+f,+d,+c";
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
  // The float ABI follows the triple (gnueabihf, eabihf: hard). RISC-V's
  // is an option: the double-float ABI wherever the CPU has D.
  if (t.isRISCV()) {
    std::unique_ptr<MCSubtargetInfo> sti(
        target->createMCSubtargetInfo(tripleStr, cpuName, features));
    if (sti && sti->checkFeatures("+d"))
      options.MCOptions.ABIName = t.isArch64Bit() ? "lp64d" : "ilp32d";
  }
  CodeGenOptLevel level = optLevel == 0   ? CodeGenOptLevel::None
                          : optLevel == 1 ? CodeGenOptLevel::Less
                          : optLevel == 2 ? CodeGenOptLevel::Default
                                          : CodeGenOptLevel::Aggressive;
  // Position-independent code, except on bare metal (no OS: no loader to
  // resolve a GOT), where objects are linked at fixed addresses.
  Reloc::Model reloc =
      t.getOS() == Triple::UnknownOS ? Reloc::Static : Reloc::PIC_;
  std::unique_ptr<TargetMachine> tm(target->createTargetMachine(
      tripleStr, cpuName, features, options, reloc, std::nullopt, level));
  if (!tm)
    error = "cannot create a target machine for " + tripleStr;
  return tm;
}

int targetVectorWidth(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  if (tm.getTargetTriple().isX86() && sti) {
    if (sti->checkFeatures("+avx512f"))
      return 16;
    if (sti->checkFeatures("+avx"))
      return 8; // avx2 implies avx
  }
  // 128 bits: SSE, AArch64's NEON, RVV's minimum VLEN. Targets without
  // vector units (thumbv7em, riscv64 without V) take 4 too: LLVM splits
  // <4 x float> into four scalar operations, a modest unroll that fits in
  // the registers (wider vectors would only spill).
  return 4;
}

bool bf16PairsPayOn(StringRef cpu) {
  // A vdpbf16ps does two multiply-adds per lane. AMD's Zen 4 and 5 issue it
  // as often as an FMA: twice the flops (the CNN in bf16 trains 1.37 x
  // faster than in f32 on an EPYC). Intel's Sapphire Rapids issues one
  // every 2 cycles where it issues 2 FMAs a cycle: half the flops (a
  // 12-accumulator loop: 111 against 218 GFLOP/s on one core), and the CNN
  // in bf16 took twice f32's time. Cooper Lake's one port for it matches
  // its two FMA ports at best. Elsewhere, the f32 FMAs of the rounded
  // operands.
  return cpu.starts_with("znver");
}

bool targetPrefersBf16Pairs(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  return tm.getTargetTriple().isX86() && sti &&
         sti->checkFeatures("+avx512f,+avx512bf16") &&
         bf16PairsPayOn(tm.getTargetCPU());
}

bool targetHasVnni(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  return tm.getTargetTriple().isX86() && sti &&
         sti->checkFeatures("+avx512f,+avx512vnni");
}

bool targetHasAmxBf16(const TargetMachine &tm) {
  const MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  return tm.getTargetTriple().isX86() && sti &&
         sti->checkFeatures("+avx512f,+amx-tile,+amx-bf16");
}

namespace {
/// The C library the code will call: on x86-64 GNU/Linux, glibc's vector
/// maths (libmvec, which libm's link script brings in) lets the vectoriser
/// call exp on 8 or 16 floats at once instead of one by one.
std::unique_ptr<TargetLibraryInfoImpl> libraryInfo(const TargetMachine &tm) {
  const Triple &t = tm.getTargetTriple();
  auto info = std::make_unique<TargetLibraryInfoImpl>(t);
  if (t.getArch() == Triple::x86_64 && t.isOSLinux() && t.isGNUEnvironment())
    info->addVectorizableFunctionsFromVecLib(TargetLibraryInfoImpl::LIBMVEC_X86,
                                             t);
  return info;
}
} // namespace

void optimizeModule(Module &mod, TargetMachine &tm, int optLevel) {
  PhaseTimer timer("LLVM optimisation");
  mod.setTargetTriple(tm.getTargetTriple().str());
  mod.setDataLayout(tm.createDataLayout());
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PipelineTuningOptions tuning;
  tuning.LoopVectorization = optLevel >= 2;
  // No SLP vectoriser: the kernels are emitted in vectors already. It only
  // ever changed matmul_nt's closing sums (no faster: the seed's batch-1
  // latency, its forward products and the CNN's layers timed the same)
  // and took a fifth of the optimisation time: without it, the CNN's
  // optimisation takes 0.54 s instead of 0.76, the seed's 0.18 instead of
  // 0.21 (medians of 5, interleaved).
  tuning.SLPVectorization = false;
  // No partial or runtime unrolling: the micro-kernels are register-tiled
  // and unrolled where it pays when emitted, and the vectoriser interleaves
  // its loops; LLVM's unroller only copied loops (remainders, cold ones).
  // Turning it off halves the object and cuts compile time by a third (the
  // 33-layer MLP 0.85 -> 0.6 s) with the same training speed. Loops of a
  // few constant iterations are still unrolled in full.
  tuning.LoopUnrolling = false;
  // --time-passes: LLVM's own report of each pass, after sorac's phases.
  PassInstrumentationCallbacks instrumentation;
  TimePassesHandler passTimes(PhaseTimer::enabled());
  passTimes.registerCallbacks(instrumentation);
  PassBuilder pb(&tm, tuning, std::nullopt, &instrumentation);
  std::unique_ptr<TargetLibraryInfoImpl> library = libraryInfo(tm);
  fam.registerPass([&] { return TargetLibraryAnalysis(*library); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  OptimizationLevel level = optLevel == 0   ? OptimizationLevel::O0
                            : optLevel == 1 ? OptimizationLevel::O1
                            : optLevel == 2 ? OptimizationLevel::O2
                                            : OptimizationLevel::O3;
  // An op that appears in several kernels or layers was emitted as several
  // identical op functions (KernelFunctions.cpp): one is kept before the
  // pipeline spends time on each.
  pb.registerPipelineStartEPCallback(
      [](ModulePassManager &mpm, OptimizationLevel) {
        mpm.addPass(MergeFunctionsPass());
      });
  ModulePassManager mpm = level == OptimizationLevel::O0
                              ? pb.buildO0DefaultPipeline(level)
                              : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(mod, mam);
}

bool emitCode(Module &mod, TargetMachine &tm, bool assembly, std::string &out,
              std::string &error) {
  mod.setTargetTriple(tm.getTargetTriple().str());
  mod.setDataLayout(tm.createDataLayout());
  PhaseTimer timer("LLVM code generation");
  raw_string_ostream os(out);
  buffer_ostream bos(os);
  legacy::PassManager pm;
  TimePassesIsEnabled = PhaseTimer::enabled(); // the code generator's passes
  std::unique_ptr<TargetLibraryInfoImpl> library = libraryInfo(tm);
  pm.add(new TargetLibraryInfoWrapperPass(*library));
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
