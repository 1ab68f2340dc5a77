// libFuzzer target: playbook bytes -> load_text (YAML parse, schema, model, semantic checks)
// and, when valid, the step graph's cycle check and topological order. Must never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/step_graph.h"
#include "load/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = relengine::load::load_text("fuzz.yaml", text);
  for (const auto& d : r.diags.sorted()) (void)relengine::load::format(d);
  if (r.playbook) {
    auto g = relengine::graph::StepGraph::of_steps(*r.playbook);
    relengine::load::Diagnostics diags;
    g.report_cycles("fuzz.yaml", diags);
    (void)g.topological_order();
  }
  return 0;
}
