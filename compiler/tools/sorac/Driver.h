//===- Driver.h - What the driver's commands share -------------*- C++ -*-===//
#pragma once

#include "sora/dsl/Program.h"

#include <string>

namespace sorac {

/// Exit statuses (architecture.md).
enum Exit { kOk = 0, kInputError = 1, kUsageError = 2, kInternalError = 3 };

/// Reads a whole source file (a regular file of at most 64 MiB); prints why
/// not on failure.
bool readFile(const std::string &path, std::string &text);
/// `dir` made absolute (as the runtime's data lookup needs it).
std::string absoluteDirectory(const std::string &dir);
/// The model named `name` (or the only one); prints why not and sets
/// `status` on failure.
const sora::dsl::Model *selectModel(const sora::dsl::Program &program,
                                    const std::string &name,
                                    const std::string &input, int &status);

/// `sorac run ...` and `sorac eval ...` (Run.cpp).
int runCommand(int argc, char **argv);

} // namespace sorac
