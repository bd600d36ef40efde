//===- SemaData.cpp - Train blocks: validation data, feature scaling ------===//
//
// `validation = idx(...) | csv(...)` replaces a validation_split of `data`;
// `csv(..., standardize: true | normalize: true)` on `data` makes the model
// scale its f32 inputs by the training part's statistics, which then apply
// to every source and to every later use of the model.
//
//===----------------------------------------------------------------------===//
#include "SemaImpl.h"

#include <fmt/format.h>

namespace sora::dsl::sema {

bool Checker::evalScaling(const Args &args, DataSource &d) {
  const ast::Expr *standardize = args.expr("standardize");
  const ast::Expr *normalize = args.expr("normalize");
  if (standardize && normalize && args.flag("standardize") &&
      args.flag("normalize")) {
    diags_.report(Diag::DuplicateArgument, normalize->range,
                  "give standardize: or normalize:, not both: each scales "
                  "every feature column on its own");
    diags_.note(standardize->range, "standardize: is given here");
    return false;
  }
  if (standardize && args.flag("standardize")) {
    d.scaling = DataSource::Standardize;
    d.scalingAt = standardize->range;
  } else if (normalize && args.flag("normalize")) {
    d.scaling = DataSource::Normalize;
    d.scalingAt = normalize->range;
  }
  return true;
}

void Checker::checkValidation(
    TrainConfig &config, const Model &model,
    const std::map<std::string, SourceRange> &keysAt) {
  auto validationAt = keysAt.find("validation");
  auto splitAt = keysAt.find("validation_split");
  if (validationAt != keysAt.end() && splitAt != keysAt.end()) {
    diags_.report(Diag::DuplicateArgument, splitAt->second,
                  "validation_split holds out part of 'data', but the train "
                  "block gives validation data of its own: keep one");
    diags_.note(validationAt->second, "the validation data is given here");
  }
  // The statistics are the training part's; the other sources are scaled
  // with them (by the model), never with their own.
  for (auto [source, key] :
       {std::pair{&config.test, "test"}, {&config.validation, "validation"}})
    if (source->scaling != DataSource::NoScaling) {
      diags_.report(Diag::ArgumentType, source->scalingAt,
                    fmt::format("scaling belongs on 'data': the {} source is "
                                "scaled with the statistics of the training "
                                "data",
                                key));
      source->scaling = DataSource::NoScaling;
    }
  if (config.data.scaling == DataSource::NoScaling)
    return;
  bool floats = false;
  for (int in : model.inputs)
    floats |= !model.nodes[in].integer;
  if (!floats) {
    diags_.report(Diag::ArgumentType, config.data.scalingAt,
                  fmt::format("model '{}' has no f32 input to scale: its "
                              "inputs are ids",
                              model.name));
    config.data.scaling = DataSource::NoScaling;
  }
}

} // namespace sora::dsl::sema
