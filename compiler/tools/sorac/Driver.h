//===- Driver.h - What the driver's commands share -------------*- C++ -*-===//
#pragma once

#include "sora/dsl/Program.h"

#include <string>
#include <vector>

namespace sorac {

/// Exit statuses (architecture.md).
enum Exit { kOk = 0, kInputError = 1, kUsageError = 2, kInternalError = 3 };

/// Reads a whole source file (a regular file of at most 64 MiB; "-" is
/// standard input); prints why not on failure.
bool readFile(const std::string &path, std::string &text);
/// The name diagnostics give the input: "<stdin>" for "-".
std::string sourceName(const std::string &input);

/// Whether `a` and `b` name one file: the same inode where both exist
/// (through symbolic and hard links), else the same resolved path.
bool sameFile(const std::string &a, const std::string &b);
/// False, after saying so as GCC does, when one of `outputs` names one of
/// `inputs`: writing it would destroy the input. Empty paths and "-"
/// (standard input or output) are skipped.
bool outputsSpareInputs(const std::vector<std::string> &outputs,
                        const std::vector<std::string> &inputs);

/// A command-line mistake, in one line as clang reports it:
/// `sorac: error: MESSAGE; see 'COMMAND --help'`. Returns kUsageError.
int usageError(const std::string &message, const std::string &command);
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
