//===- FrontEnd.cpp - Read, parse, check, choose the model ----------------===//
#include "Driver.h"

#include "IR/PhaseTimer.h"
#include "sora/dsl/Parser.h"
#include "sora/dsl/Sema.h"

#include <iostream>

namespace sorac {

int FrontEnd::read(const std::string &input, bool werror) {
  std::string text;
  if (!readFile(input, text))
    return kInputError;
  file_.emplace(sourceName(input), std::move(text));
  diags_.emplace(*file_, std::cerr);
  diags_->setWarningsAreErrors(werror);
  return kGoOn;
}

int FrontEnd::parse() {
  sora::PhaseTimer timer("parse");
  ast_ = sora::parseFile(*file_, *diags_);
  return ast_ ? kGoOn : kInputError;
}

int FrontEnd::check(const std::string &name) {
  {
    sora::PhaseTimer timer("check");
    program_ = sora::checkProgram(*ast_, *diags_);
  }
  if (!program_)
    return kInputError;
  const std::string &input = file_->path();
  if (!name.empty()) {
    for (const auto &m : program_->models)
      if (m.name == name) {
        model_ = &m;
        return kGoOn;
      }
    std::cerr << "sorac: error: no model named '" << name << "' in " << input
              << "\n";
    return kUsageError;
  }
  if (program_->models.size() == 1) {
    model_ = &program_->models[0];
    return kGoOn;
  }
  std::cerr << "sorac: error: " << input
            << " defines several models; choose one with --model:";
  for (const auto &m : program_->models)
    std::cerr << " " << m.name;
  std::cerr << "\n";
  return kUsageError;
}

int FrontEnd::supported(const char *training) {
  if (training && !model_->train) {
    diags_->report(sora::Diag::NotSupportedYet, model_->range,
                   "sorac " + std::string(training) +
                       " needs a train block for model '" + model_->name + "'");
    return kInputError;
  }
  return kGoOn;
}

int FrontEnd::load(const std::string &input, const std::string &name,
                   const char *training) {
  int status = read(input, false);
  if (status == kGoOn)
    status = parse();
  if (status == kGoOn)
    status = check(name);
  if (status == kGoOn)
    status = supported(training);
  if (diags_)
    diags_->flush();
  return status;
}

std::string FrontEnd::directory() const {
  return absoluteDirectory(file_->directory());
}

} // namespace sorac
