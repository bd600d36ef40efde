//===- Options.h - The command line, through LLVM's OptTable ----*- C++ -*-===//
//
// Why llvm::opt (OptTable) and not llvm::cl: cl::opt options are global and
// share one registry with the thousands that libLLVM registers, so sorac
// would accept LLVM's internal flags, and its own --stats and --version
// collide with LLVM's; cl prints its own errors and exits on them. An
// OptTable is a plain table (Options.td, as clang's): parsing reports
// unknown arguments and missing values and leaves the words and the exit
// status to the driver, which keeps sorac's one-line errors and status 2.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/STLFunctionalExtras.h>
#include <llvm/Option/Arg.h>
#include <llvm/Option/OptTable.h>
#include <llvm/Option/Option.h>

namespace sorac {

/// Which command takes an option (Options.td's visibilities);
/// llvm::opt::DefaultVis is `sorac FILE`.
enum CommandVisibility : unsigned {
  RunVis = 1 << 1,
  EvalVis = 1 << 2,
  ImportVis = 1 << 3
};
using llvm::opt::DefaultVis;

enum OptionID : unsigned {
  OPT_INVALID = 0,
#define OPTION(...) LLVM_MAKE_OPT_ID(__VA_ARGS__),
#include "Options.inc"
#undef OPTION
};

/// A command's name in messages ("sorac run"), the options it accepts
/// while parsing and those its --help lists, and the text around them.
struct Command {
  const char *name;
  unsigned accepts, lists;
  const char *overview, *usage, *epilogue;
};

/// Parses argv with the option table, then walks the arguments in order as
/// a hand parser would, so that the first mistake is the one reported:
/// --help and --version answer at once, an unknown argument or a missing
/// value is a usage error, and `each` gets every other argument (inputs
/// too) with its spelling on the command line. Returns kGoOn, or the exit
/// status `each` or the walk ends with.
int parseCommandLine(
    const Command &command, llvm::ArrayRef<const char *> argv,
    llvm::function_ref<int(const llvm::opt::Arg &, llvm::StringRef)> each);

/// `sorac --version`, in clang's manner: the version, then the target.
void printVersion();

/// Parses a whole non-negative number; false if it is not one.
bool parseCount(const std::string &text, int64_t &out);

} // namespace sorac
