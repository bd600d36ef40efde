//===- GraphViews.h - Graphviz and Mermaid pictures of a graph -*- C++ -*-===//
#pragma once

#include "IR/Graph.h"

#include <iosfwd>

namespace sora::ir {

/// A Graphviz digraph (`dot -Tsvg`): shapes on the edges, fused groups as
/// clusters.
void printDot(std::ostream &os, const Graph &g);

/// A Mermaid flowchart: the same picture for Markdown viewers.
void printMermaid(std::ostream &os, const Graph &g);

} // namespace sora::ir
