//===- InferenceBuild.cpp - What an inference build bakes in --------------===//
//
// `sorac --inference --weights W` bakes the checkpoint's weights into the
// object; with --quantize=int8, the dense layers' products become int8. A
// training build with --weights W bakes its frozen layers' weights only.
// The activation scales of the int8 products come from the f32 model
// itself: its predict graph, the output replaced by the activations those
// products read (exposeInt8Inputs), is compiled in-process with the baked
// weights and run on the first training samples; each product's range is
// the least and greatest value it saw, which quantizeInt8 turns into a
// scale and a zero point.
//
//===----------------------------------------------------------------------===//
#include "Driver.h"

#include "CodeGen/Jit.h"
#include "CodeGen/ModelCodeGen.h"
#include "IR/PhaseTimer.h"
#include "Transforms/Passes.h"
#include "sora/runtime.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <memory>

namespace sorac {

bool loadWeights(const sora::dsl::Model &model, const std::string &dir,
                 const std::string &path, std::vector<float> &out,
                 std::vector<sora::ir::ParamSlot> *slots) {
  // The full model (training included), for the tensors a checkpoint has.
  sora::ir::CompiledModel full = sora::ir::buildModelGraphs(
      model, dir, sora::ir::PipelineOptions::standard(),
      sora::ir::ModelGraphs::Training);
  auto describe = [](const std::vector<sora::ir::ParamSlot> &slots) {
    std::vector<sora_param_desc> descs;
    for (const sora::ir::ParamSlot &s : slots) {
      sora_param_desc d{};
      d.name = s.name.c_str();
      d.offset = s.offset;
      d.size = s.type.elements();
      d.rank = int64_t(s.type.dims.size());
      for (size_t i = 0; i < s.type.dims.size() && i < 4; ++i)
        d.shape[i] = s.type.dims[i];
      d.init = int64_t(s.init);
      d.fan_in = s.fanIn;
      d.fan_out = s.fanOut;
      descs.push_back(d);
    }
    return descs;
  };
  std::vector<sora_param_desc> params = describe(full.layout.weights);
  std::vector<sora_param_desc> state = describe(full.layout.state);
  sora_model_desc desc{};
  desc.name = model.name.c_str();
  desc.input_size = desc.output_size = desc.label_size = 1;
  desc.params_floats = full.layout.weightFloats;
  desc.opt_state_floats = full.layout.stateFloats;
  desc.max_batch = 1;
  desc.num_params = int64_t(params.size());
  desc.params = params.data();
  desc.num_state = int64_t(state.size());
  desc.state = state.empty() ? nullptr : state.data();
  desc.model_hash = sora::ir::modelHash(full);
  sora_model *m = nullptr;
  if (sora_model_create(&desc, &m) != SORA_OK ||
      sora_model_load(m, path.c_str()) != SORA_OK) {
    std::cerr << "sorac: error: cannot read the weights: " << sora_last_error()
              << "\n";
    sora_model_destroy(m);
    return false;
  }
  float *block = sora_model_params(m);
  out.assign(block, block + desc.params_floats);
  sora_model_destroy(m);
  if (slots)
    *slots = full.layout.weights;
  return true;
}

bool bakeFrozen(sora::ir::CompiledModel &cm, const std::string &directory,
                const std::string &path) {
  std::vector<float> block;
  std::vector<sora::ir::ParamSlot> slots;
  if (!loadWeights(*cm.model, directory, path, block, &slots))
    return false;
  if (sora::ir::bakeFrozenWeights(cm, block, slots) == 0) {
    std::cerr << "sorac: error: --weights without --inference bakes the "
                 "frozen layers' weights (trainable: false), and model '"
              << cm.model->name << "' has none\n";
    return false;
  }
  return true;
}

bool calibrateInt8(sora::ir::CompiledModel &cm, const std::string &directory,
                   int64_t samples) {
  sora::PhaseTimer timer("int8 calibration");
  const sora::dsl::Model &model = *cm.model;
  if (!model.train) {
    std::cerr << "sorac: error: --quantize=int8 calibrates on the train "
                 "block's data, and model '"
              << model.name << "' has no train block\n";
    return false;
  }
  std::vector<int64_t> widths;
  sora::ir::CompiledModel probe = sora::ir::buildModelGraphs(
      model, directory, sora::ir::PipelineOptions::standard(),
      sora::ir::ModelGraphs::Predict,
      [&](sora::ir::Graph &g) { widths = sora::ir::exposeInt8Inputs(g); });
  if (widths.empty())
    return true; // no dense layer: nothing to quantize
  if (probe.layout.weightFloats != cm.layout.weightFloats)
    throw std::logic_error("int8: the calibration graph has other weights");
  probe.bakedParams = cm.bakedParams;

  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> mod = sora::ir::emitModule(probe, *ctx).module;
  sora::Jit jit(std::move(mod), std::move(ctx), 2);
  const auto *desc = static_cast<const sora_model_desc *>(
      jit.lookup(probe.symbolPrefix() + "_desc"));
  sora_dataset set;
  if (sora_dataset_load_inputs(&desc->data, desc->num_inputs, desc->inputs,
                               nullptr, desc->source_dir, &set) != SORA_OK) {
    std::cerr << "sorac: error: cannot load the calibration data: "
              << sora_last_error() << "\n";
    return false;
  }

  // The predict kernel, batch by batch, writes the activations side by side.
  int64_t width = 0;
  for (int64_t w : widths)
    width += w;
  std::vector<sora::ir::ActivationRange> ranges(
      widths.size(), {std::numeric_limits<double>::infinity(),
                      -std::numeric_limits<double>::infinity()});
  std::vector<float> out(size_t(desc->max_batch * width));
  void *scratch = sora_alloc(size_t(desc->scratch_bytes));
  int64_t count = std::min(samples, set.count);
  for (int64_t row = 0; row < count; row += desc->max_batch) {
    int64_t rows = std::min(desc->max_batch, count - row);
    desc->predict(nullptr, nullptr, scratch, set.x + row * desc->input_size,
                  nullptr, rows, 0, out.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float *values = out.data() + r * width;
      for (size_t i = 0; i < widths.size(); values += widths[i++])
        for (int64_t j = 0; j < widths[i]; ++j) {
          ranges[i].min = std::min(ranges[i].min, double(values[j]));
          ranges[i].max = std::max(ranges[i].max, double(values[j]));
        }
    }
  }
  sora_free(scratch);
  sora_dataset_free(&set);
  sora::ir::quantizeInt8(*cm.predict, ranges);
  return true;
}

} // namespace sorac
