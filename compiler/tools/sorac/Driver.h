//===- Driver.h - What the driver's commands share -------------*- C++ -*-===//
#pragma once

#include "sora/dsl/AST.h"
#include "sora/dsl/Diagnostics.h"
#include "sora/dsl/Program.h"
#include "sora/dsl/Source.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sora::ir {
struct CompiledModel;
struct ParamSlot;
} // namespace sora::ir

namespace sorac {

/// Exit statuses (architecture.md).
enum Exit { kOk = 0, kInputError = 1, kUsageError = 2, kInternalError = 3 };
/// Not an exit status: what a step returns when all is well so far.
constexpr int kGoOn = -1;

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

/// Writes `data` to `path` through a temporary file in the same directory,
/// so that a failure leaves no half-written file; says why not on failure.
bool writeAtomically(const std::string &path, const std::string &data);

/// A command-line mistake, in one line as clang reports it:
/// `sorac: error: MESSAGE; see 'COMMAND --help'`. Returns kUsageError.
int usageError(const std::string &message, const std::string &command);
/// `dir` made absolute (as the runtime's data lookup needs it).
std::string absoluteDirectory(const std::string &dir);

/// The parameter block of `model` read from the checkpoint `path` with the
/// runtime's checked loader (names, shapes, model hash), for --inference
/// and --emit=onnx; `slots`, if given, receives where each tensor lies
/// (InferenceBuild.cpp).
bool loadWeights(const sora::dsl::Model &model, const std::string &dir,
                 const std::string &path, std::vector<float> &out,
                 std::vector<sora::ir::ParamSlot> *slots = nullptr);
/// --emit=memory (MemoryReport.cpp): the RAM block an instance of `cm`
/// takes, part by part, and the flash of `object` (compiled for `triple`).
std::string memoryReport(const sora::ir::CompiledModel &cm,
                         const std::string &object, const std::string &triple);

/// --weights W for a training build (InferenceBuild.cpp): the frozen
/// layers' weights of `cm` from W, baked into the object, out of the
/// instance's block. False, after saying why, when W cannot be read or the
/// model has no frozen layer.
bool bakeFrozen(sora::ir::CompiledModel &cm, const std::string &directory,
                const std::string &path);
/// --quantize=int8 (InferenceBuild.cpp): runs the f32 model `cm` (an inference
/// build, its weights baked) on the first `samples` samples of its train
/// block's data, then makes its dense products int8 with the activation
/// scales seen. False, after saying why, when the data cannot be had.
bool calibrateInt8(sora::ir::CompiledModel &cm, const std::string &directory,
                   int64_t samples);

/// The front end that `sorac FILE` and `sorac run`/`eval` share, in steps
/// that each report what goes wrong (diagnostics on stderr) and return
/// kGoOn or the exit status. `sorac FILE` takes them one by one, as it may
/// stop between them (a .ir file, --emit=ast); run and eval take load().
/// Not copyable: the diagnostics refer to the source.
class FrontEnd {
public:
  FrontEnd() = default;
  FrontEnd(const FrontEnd &) = delete;
  FrontEnd &operator=(const FrontEnd &) = delete;

  /// Reads `input`: a file, or "-" (standard input, named <stdin>).
  int read(const std::string &input, bool werror);
  int parse();
  /// Checks the program and chooses the model `name` (or the only one).
  int check(const std::string &name);
  /// Refuses a model this version cannot compile (several inputs), and
  /// for `training` (the command, "run" or "eval") one with no train block.
  int supported(const char *training = nullptr);
  /// All the steps, then prints the warnings (before the work starts).
  int load(const std::string &input, const std::string &name,
           const char *training);

  const sora::SourceFile &file() const { return *file_; }
  sora::DiagnosticEngine &diags() { return *diags_; }
  const sora::ast::File &ast() const { return *ast_; }
  const sora::dsl::Model &model() const { return *model_; }
  /// The source's directory, absolute: where relative data paths start.
  std::string directory() const;

private:
  std::optional<sora::SourceFile> file_;
  std::optional<sora::DiagnosticEngine> diags_;
  std::optional<sora::ast::File> ast_;
  std::optional<sora::dsl::Program> program_;
  const sora::dsl::Model *model_ = nullptr;
};

/// `sorac run ...` and `sorac eval ...` (Run.cpp); argv[1] is the command.
int runCommand(int argc, char **argv);
/// `sorac import FILE.onnx ...` (Import.cpp).
int importCommand(int argc, char **argv);

} // namespace sorac
