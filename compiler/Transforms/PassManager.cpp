//===- PassManager.cpp - Pipelines as data --------------------------------===//
#include "IR/PhaseTimer.h"
#include "Transforms/Passes.h"

#include <ostream>
#include <sstream>
#include <stdexcept>

namespace sora::ir {

const std::vector<PassInfo> &allPasses() {
  static const std::vector<PassInfo> passes = {
#define PASS(Name, Function, Description) {Name, Function, Description},
#include "Transforms/Passes.def"
  };
  return passes;
}

std::vector<std::string> defaultPipeline() {
  std::vector<std::string> names;
  for (const PassInfo &p : allPasses())
    names.push_back(p.name);
  return names;
}

PipelineOptions PipelineOptions::standard() {
  PipelineOptions o;
  o.passes = defaultPipeline();
  return o;
}

std::string parsePipeline(const std::string &list,
                          std::vector<std::string> &out) {
  out.clear();
  if (list == "none")
    return "";
  std::stringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    bool known = false;
    for (const PassInfo &p : allPasses())
      known |= name == p.name;
    if (!known) {
      std::string names;
      for (const PassInfo &p : allPasses())
        names += std::string(names.empty() ? "" : ", ") + p.name;
      return "unknown pass '" + name + "' (passes: " + names + ", or none)";
    }
    out.push_back(name);
  }
  return "";
}

void runPipeline(Graph &g, const PipelineOptions &options) {
  PhaseTimer timer("graph passes");
  for (const std::string &name : options.passes) {
    for (const PassInfo &p : allPasses()) {
      if (name != p.name)
        continue;
      {
        PhaseTimer passTimer(p.name);
        p.run(g);
      }
      if (options.verifyEach) {
        std::string error = verify(g);
        if (!error.empty())
          throw std::logic_error("after pass '" + name + "' on @" + g.name() +
                                 ": " + error);
      }
      if (options.printTo &&
          (options.printAfterAll || options.printAfter == name)) {
        *options.printTo << "// -----// IR after " << name << " //----- //\n";
        print(*options.printTo, g);
      }
    }
  }
}

} // namespace sora::ir
