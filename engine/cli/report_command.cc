// relengine report RUN [--format md|json|html] [-o FILE]: the release record, from the store alone
// (docs/report.md), built and rendered by view/record.
#include <iostream>

#include "cli/commands.h"
#include "io/atomic_file.h"
#include "model/exit_code.h"
#include "state/store.h"
#include "view/record.h"

namespace relengine::cli {

using json = nlohmann::json;

int cmd_report(const GlobalOptions& g, const std::string& run_id, const std::string& format,
               const std::string& output) {
  if (format != "md" && format != "json" && format != "html") {
    std::cerr << "relengine: report --format: '" << format << "' is not md, json or html\n";
    return kBadInput;
  }
  try {
    auto store = state::open_store(g.state_dir, state::OpenMode::ForReading);
    auto run = run_id == "latest" ? store->latest_run() : store->find_run(run_id);
    if (!run) {
      std::cerr << "relengine: no run '" << run_id << "' in " << store->location() << "; `relengine runs` lists them\n";
      return kStateProblem;
    }
    json record = view::build_record(*store, *run, state::shown_status(*run));
    std::string text = format == "json"   ? record.dump(2) + "\n"
                       : format == "html" ? view::html(record)
                                          : view::markdown(record);
    if (output.empty() || output == "-") {
      std::cout << text;
      return kOk;
    }
    std::string error;
    if (!io::write_file_atomically(output, text, error)) {
      std::cerr << "relengine: cannot write " << output << ": " << error << "\n";
      return kBadInput;
    }
    if (!g.quiet) std::cout << "wrote " << output << "\n";
    return kOk;
  } catch (const state::StateError& e) {
    std::cerr << "relengine: " << e.what() << "\n";
    return kStateProblem;
  }
}

}  // namespace relengine::cli
