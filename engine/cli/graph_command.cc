// `relengine graph`: the step graph of a playbook, optionally with a run's state, in one of
// the formats of render/.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "graph/step_graph.h"
#include "io/atomic_file.h"
#include "load/loader.h"
#include "plan/playbook_file.h"
#include "render/graph_render.h"
#include "state/store.h"

namespace relengine::cli {

int cmd_graph(const GlobalOptions& g, const std::string& playbook, const std::string& run_id, const std::string& format,
              const std::string& output) {
  load::Diagnostics diags;
  auto loaded = plan::load_checked(playbook, diags);
  if (!loaded) return plan::report(diags, std::cerr, false);
  const model::Playbook& pb = *loaded;
  load::InputSources sources;
  sources.lenient = true;
  std::vector<state::StepRecord> records;
  plan::Expansions expansions;  // the for_each lists the run computed: its instances are drawn
  std::string run_status;
  std::string id;
  if (!run_id.empty()) {
    try {
      auto store = state::open_store(g.state_dir, state::OpenMode::ForReading);
      auto run = run_id == "latest" ? store->latest_run() : store->find_run(run_id);
      if (!run) {
        std::cerr << "relengine: no run '" << run_id << "' in " << store->location()
                  << "; `relengine runs` lists them\n";
        return kStateProblem;
      }
      id = run->id;
      run_status = state::name(run->status);
      sources.recorded = run->inputs;
      records = store->steps(run->id);
      expansions = plan::parse_expansions(store->expansions(run->id));
    } catch (const state::StateError& e) {
      std::cerr << "relengine: " << e.what() << "\n";
      return kStateProblem;
    }
  }
  load::Diagnostics input_diags;
  auto prepared = plan::prepare(pb, sources, input_diags, &expansions);
  if (input_diags.has_errors()) {
    for (const auto& d : input_diags.sorted()) std::cerr << load::format(d) << "\n";
    return kBadInput;
  }
  auto model = render::build_graph_model(prepared, id.empty() ? nullptr : &records, id, run_status);

  std::ostringstream text;
  if (format == "ascii") {
    bool color = g.color && output.empty() && isatty(STDOUT_FILENO);
    render::render_ascii(text, model, color);
  } else if (format == "dot") {
    render::render_dot(text, model);
  } else if (format == "mermaid") {
    render::render_mermaid(text, model);
  } else {
    std::string svg, error;
    if (!render::render_svg(model, svg, error)) {
      std::cerr << "relengine: " << error << "\n";
      return kBadInput;
    }
    if (format == "svg")
      text << svg;
    else
      render::render_html(text, model, svg);
  }
  if (output.empty() || output == "-") {
    std::cout << text.str();
    return kOk;
  }
  std::string error;
  if (!io::write_file_atomically(output, text.str(), error)) {
    std::cerr << "relengine: " << error << "\n";
    return kBadInput;
  }
  if (!g.quiet) std::cerr << "wrote " << output << "\n";
  return kOk;
}

}  // namespace relengine::cli
