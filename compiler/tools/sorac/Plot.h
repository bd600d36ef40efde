//===- Plot.h - sorac run --plot: the training curves as SVG ----*- C++ -*-===//
#pragma once

#include "sora/runtime.h"

#include <string>
#include <vector>

namespace sorac {

/// The picture --plot writes: loss per epoch, and accuracy in a second panel
/// when the model reports it (`accuracy`); the validation curves dashed,
/// where there are any. `source` names the model's file in the subtitle,
/// with the epochs and the `seconds` they took.
std::string plotSvg(const std::string &model, const std::string &source,
                    const std::vector<sora_epoch_report> &history,
                    double seconds, bool accuracy);

} // namespace sorac
