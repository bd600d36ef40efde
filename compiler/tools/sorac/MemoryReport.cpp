//===- MemoryReport.cpp - sorac --emit=memory: RAM and flash, before running
//===//
//
// What a build needs of a microcontroller, known before anything runs: the
// RAM block an instance takes (create_in's MEMORY_BYTES, exact: the
// runtime lays out the same parts), and the flash the object takes, read
// from the compiled object's sections: code, and read-only data (baked and
// frozen weights, the descriptor, constants).
//
//===----------------------------------------------------------------------===//
#include "Driver.h"

#include "CodeGen/ModelCodeGen.h"

#include <fmt/format.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/Support/MemoryBuffer.h>

namespace sorac {

namespace {

/// Bytes of the object's allocated sections, by what holds them.
struct Sections {
  int64_t code = 0, readOnly = 0, data = 0, zeroed = 0;
};

Sections sectionsOf(const std::string &object) {
  Sections s;
  auto buffer = llvm::MemoryBuffer::getMemBuffer(object, "", false);
  auto file = llvm::object::ObjectFile::createObjectFile(*buffer);
  if (!file) {
    llvm::consumeError(file.takeError());
    throw std::logic_error("--emit=memory: the object cannot be read");
  }
  for (const llvm::object::SectionRef &section : (*file)->sections()) {
    auto *elf = llvm::dyn_cast<llvm::object::ELFObjectFileBase>(file->get());
    if (elf && !(llvm::object::ELFSectionRef(section).getFlags() &
                 llvm::ELF::SHF_ALLOC))
      continue; // symbols, relocations, build attributes
    auto bytes = int64_t(section.getSize());
    if (section.isText())
      s.code += bytes;
    else if (section.isBSS())
      s.zeroed += bytes;
    else if (elf && (llvm::object::ELFSectionRef(section).getFlags() &
                     llvm::ELF::SHF_WRITE))
      s.data += bytes;
    else
      s.readOnly += bytes;
  }
  return s;
}

} // namespace

std::string memoryReport(const sora::ir::CompiledModel &cm,
                         const std::string &object, const std::string &triple) {
  sora::ir::InstanceMemory ram = sora::ir::instanceMemory(cm);
  Sections flash = sectionsOf(object);
  std::string r = fmt::format("{} for {}, batches of up to {} rows:\n",
                              cm.symbolPrefix(), triple, cm.maxBatch);
  auto row = [&](const char *what, int64_t bytes, const std::string &note) {
    r += fmt::format("  {:<20}{:>10}{}\n", what, bytes,
                     note.empty() ? "" : "  " + note);
  };
  r +=
      fmt::format("RAM, the block given to create_in: {} bytes\n", ram.total());
  row("instance header", ram.header, "");
  row("trainable weights", ram.weights, "");
  row("optimizer state", ram.optimizerState, "");
  row("scratch", ram.scratch, "activations and gradients, as planned");
  row("packed inputs", ram.pack, "");
  row("alignment", ram.alignment, "");
  r += fmt::format("flash, the object's code and read-only data: {} bytes\n",
                   flash.code + flash.readOnly + flash.data);
  row("code", flash.code, "");
  int64_t baked = sora::ir::bakedBytes(cm);
  row("read-only data", flash.readOnly,
      baked && (!cm.bakedParams.empty() || !cm.bakedFrozen.empty())
          ? fmt::format("{} of it {} weights", baked,
                        cm.bakedParams.empty() ? "frozen" : "baked")
          : "");
  if (flash.data || flash.zeroed)
    r += fmt::format("the object's own variables (RAM too): {} bytes of "
                     ".data, {} of .bss\n",
                     flash.data, flash.zeroed);
  return r;
}

} // namespace sorac
