//===- Options.cpp - The command line, through LLVM's OptTable ------------===//
#include "Options.h"

#include "Driver.h"

#include <llvm/Config/llvm-config.h>
#include <llvm/Option/ArgList.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include <iostream>

namespace sorac {

namespace {

#define PREFIX(NAME, VALUE)                                                    \
  constexpr llvm::StringLiteral NAME##_init[] = VALUE;                         \
  constexpr llvm::ArrayRef<llvm::StringLiteral> NAME(                          \
      NAME##_init, std::size(NAME##_init) - 1);
#include "Options.inc"
#undef PREFIX

constexpr llvm::opt::OptTable::Info kOptions[] = {
#define OPTION(...) LLVM_CONSTRUCT_OPT_INFO(__VA_ARGS__),
#include "Options.inc"
#undef OPTION
};

class OptionTable : public llvm::opt::GenericOptTable {
public:
  OptionTable() : GenericOptTable(kOptions) {}
};

const OptionTable &table() {
  static const OptionTable table;
  return table;
}

void printHelp(const Command &command) {
  std::string text;
  llvm::raw_string_ostream os(text);
  table().printHelp(os, command.usage, command.overview, /*ShowHidden=*/false,
                    /*ShowAllAliases=*/false,
                    llvm::opt::Visibility(command.lists));
  std::cout << text << (command.epilogue ? command.epilogue : "");
}

/// How many command-line words `arg` took: its option's, and a value's
/// when the value is a word of its own.
unsigned wordsTaken(const llvm::opt::Arg &arg) {
  const llvm::opt::Arg &spelled = arg.getAlias() ? *arg.getAlias() : arg;
  return spelled.getOption().getKind() == llvm::opt::Option::SeparateClass ? 2
                                                                           : 1;
}

} // namespace

int parseCommandLine(
    const Command &command, llvm::ArrayRef<const char *> argv,
    llvm::function_ref<int(const llvm::opt::Arg &, llvm::StringRef)> each) {
  unsigned missingIndex = 0, missingCount = 0;
  llvm::opt::InputArgList args = table().ParseArgs(
      argv, missingIndex, missingCount, llvm::opt::Visibility(command.accepts));
  // ParseArgs passes over an empty word; it is an input, as a shell hands
  // it over (`sorac ""` cannot read '').
  llvm::opt::Arg empty(table().getOption(OPT_INPUT), "", 0, "");
  unsigned next = 0;
  auto emptyWordsBefore = [&](unsigned index) {
    for (; next < index; ++next)
      if (int status = each(empty, ""); status != kGoOn)
        return status;
    return kGoOn;
  };
  for (const llvm::opt::Arg *arg : args) {
    if (int status = emptyWordsBefore(arg->getIndex()); status != kGoOn)
      return status;
    next = arg->getIndex() + wordsTaken(*arg);
    llvm::StringRef spelled = args.getArgString(arg->getIndex());
    switch (arg->getOption().getID()) {
    case OPT_help:
      printHelp(command);
      return kOk;
    case OPT_version:
      printVersion();
      return kOk;
    case OPT_UNKNOWN:
      return usageError("unknown argument '" + spelled.str() + "'",
                        command.name);
    default:
      if (int status = each(*arg, spelled); status != kGoOn)
        return status;
    }
  }
  if (!missingCount)
    return emptyWordsBefore(unsigned(argv.size()));
  if (int status = emptyWordsBefore(missingIndex); status != kGoOn)
    return status;
  return usageError("option '" + std::string(args.getArgString(missingIndex)) +
                        "' needs a value",
                    command.name);
}

void printVersion() {
  std::cout << "sorac version " << SORAC_VERSION << " (LLVM "
            << LLVM_VERSION_STRING
            << ")\nTarget: " << llvm::sys::getDefaultTargetTriple() << "\n";
}

bool parseCount(const std::string &text, int64_t &out) {
  if (text.empty() || text.size() > 18)
    return false;
  for (char c : text)
    if (c < '0' || c > '9')
      return false;
  out = std::stoll(text);
  return true;
}

} // namespace sorac
