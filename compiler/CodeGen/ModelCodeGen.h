//===- ModelCodeGen.h - A model's kernels, descriptor and API --*- C++ -*-===//
//
// Turns the graphs of one model into an LLVM module: one function per
// kernel (train step, evaluate, predict), the `sora_model_desc` constant
// that tells the runtime about them, and the model-prefixed C API
// (`<model>_create`, `<model>_fit`, ...) as thin calls into the runtime.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "CodeGen/BufferPlan.h"
#include "IR/Graph.h"
#include "Transforms/Passes.h"
#include "sora/dsl/Program.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <map>
#include <memory>

namespace sora::ir {

/// Everything compiled for one model.
struct CompiledModel {
  const dsl::Model *model;
  std::unique_ptr<Graph> predict, evaluate,
      train; ///< evaluate/train may be null
  /// The train graph with the gradients as outputs, for data-parallel
  /// training: emitted as two kernels, grad_step (all but the updates; the
  /// gradients land at the start of scratch in the weights' layout) and
  /// apply_update (the one loop of updates reading them). Null when the
  /// model cannot train that way (no train block, not every weight has the
  /// same kind of update, no memory plan).
  std::unique_ptr<Graph> dataParallel;
  ParamLayout layout;
  int64_t maxBatch = 0;
  std::string sourceDir; ///< absolute directory of the .sora file
  /// Floats per vector register for the micro-kernels: the host's (16 with
  /// AVX-512, 8 with AVX2, else 4) unless set for another target.
  int vectorWidth = 0;
  /// Whether the target multiplies bfloat16 pairs (AVX512_BF16's
  /// vdpbf16ps), for `precision = bf16`: where it has them and they pay
  /// (bf16PairsPayOn); the host's choice when vectorWidth is 0.
  bool bf16Dot = false;
  /// Whether the target has AVX512_VNNI's vpdpbusd (int8 products); the
  /// host's when vectorWidth is 0.
  bool vnni = false;
  /// Whether the target has AMX's bfloat16 tiles (tdpbf16ps), for the
  /// convolutions of `precision = bf16`; the host's when vectorWidth is 0.
  bool amx = false;
  /// Bits of the target's pointers (and size_t), for the API's signatures.
  int pointerBits = 64;
  /// --profile: the train step times each op or fused group and reports it
  /// under "<layer>\t<phase>" (one row per distinct pair).
  bool profile = false;
  /// The prefix of every exported symbol (default: the model's name), so
  /// that two builds of one model can link into one program.
  std::string prefix;
  /// An inference build: the parameter block, baked into read-only data;
  /// the kernels read it instead of an instance's parameters.
  std::vector<float> bakedParams;
  /// A training build's frozen weights (`trainable: false`) taken from a
  /// checkpoint (--weights), by name: read-only data, out of the instance's
  /// block (layout.elsewhere), so that on a microcontroller they stay in
  /// flash.
  std::map<std::string, std::vector<float>> bakedFrozen;

  const std::string &symbolPrefix() const {
    return prefix.empty() ? model->name : prefix;
  }
};

/// Whether cm.dataParallel splits into grad_step and apply_update (every
/// weight in the one update loop, each gradient pinned at its weight's
/// offset); buildModelGraphs drops the graph when not.
bool dataParallelReady(const CompiledModel &cm);

/// A hash of the model's structure (tensor names and shapes, optimizer
/// state included), stored in checkpoints.
int64_t modelHash(const CompiledModel &cm);

/// Which graphs buildModelGraphs makes: each kind adds to the one before.
enum class ModelGraphs {
  Predict,     ///< predict alone (inference builds, imports)
  Training,    ///< also evaluate and train, if the model has a train block
  DataParallel ///< also grad_step and apply_update's (MPI needs an OS)
};

/// Builds the graphs `which` names, runs the graph passes over each and
/// lays out the parameters (no LLVM involved). `preparePredict`, if given,
/// changes the predict graph before its passes (int8 calibration's
/// outputs).
CompiledModel
buildModelGraphs(const dsl::Model &model, const std::string &sourceDir,
                 const PipelineOptions &pipeline = PipelineOptions::standard(),
                 ModelGraphs which = ModelGraphs::DataParallel,
                 const std::function<void(Graph &)> &preparePredict = {});

/// Takes the frozen weights of `cm` out of its parameter block: their
/// values (from `block`, laid out as `slots`, a checkpoint's) go into
/// cm.bakedFrozen and the layout is made again without them. Returns how
/// many tensors were frozen.
int bakeFrozenWeights(CompiledModel &cm, const std::vector<float> &block,
                      const std::vector<ParamSlot> &slots);

/// Bytes of scratch the largest kernel of `cm` needs for maxBatch rows.
int64_t scratchBytes(const CompiledModel &cm);

/// The memory of one instance, as sora_model_memory_bytes counts it (the
/// block create_in takes): its header, then each part on a 64-byte
/// boundary, with 64 bytes to align the start.
struct InstanceMemory {
  int64_t header = 256; ///< SORA_MODEL_HEADER_BYTES
  int64_t weights = 0;  ///< the trainable weights (0 when baked)
  int64_t optimizerState = 0;
  int64_t scratch = 0; ///< activations and gradients, as planned
  int64_t pack = 0;    ///< several inputs: max_batch packed rows
  int64_t alignment = 64;
  int64_t total() const {
    return header + weights + optimizerState + scratch + pack + alignment;
  }
};
InstanceMemory instanceMemory(const CompiledModel &cm);

/// What emitModule makes.
struct EmittedModule {
  std::unique_ptr<llvm::Module> module;
  int trainLoopNests = 0; ///< outermost loops of the train-step kernel
};

/// The kernels, the descriptor (Descriptor.cpp) and the API of `cm`.
EmittedModule emitModule(const CompiledModel &cm, llvm::LLVMContext &ctx);

/// The read-only bytes of baked weights: a training build's frozen ones; an
/// inference build's, each parameter the predict graph reads, in f32, or
/// packed in int8 with its scales and offsets where only int8 products
/// read it (Int8Lowerings.cpp).
int64_t bakedBytes(const CompiledModel &cm);

/// The C header that goes with the object.
std::string emitHeader(const CompiledModel &cm, const std::string &sourcePath);

} // namespace sora::ir
