//===- TrainWriter.h - A train block back as .sora source ------*- C++ -*-===//
//
// The train block half of ModelWriter.cpp, and the spellings of numbers,
// strings and names both halves write.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "sora/dsl/Program.h"

#include <string>

namespace sora::dsl {

/// The shortest decimal that reads back (strtod) as the same double; no
/// leading '.' and no "inf", as the grammar's numbers need.
std::string soraNumber(double v);

/// `s` as a .sora string literal; `error` set when it cannot be one (a
/// .sora string ends on its line).
std::string soraString(const std::string &s, std::string &error);

/// An identifier of the grammar ([A-Za-z_][A-Za-z0-9_]*) that is no
/// keyword.
bool soraIdentifier(const std::string &name);

/// A name for a binding: an identifier that is no keyword, no built-in
/// (those cannot be rebound) and no flag or choice word (a reader would
/// take it for one).
bool soraBindable(const std::string &name);

/// `train <model> { ... }` with every key that differs from its default;
/// `error` set when some value has no spelling.
std::string writeTrainBlock(const Model &model, const TrainConfig &train,
                            std::string &error);

} // namespace sora::dsl
