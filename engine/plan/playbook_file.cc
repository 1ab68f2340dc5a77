#include "plan/playbook_file.h"

#include <fstream>
#include <sstream>

#include "graph/step_graph.h"
#include "load/loader.h"
#include "model/exit_code.h"

namespace relengine::plan {

std::optional<model::Playbook> load_checked(const std::string& path, load::Diagnostics& diags,
                                            const KnownValid* known) {
  load::LoadResult r;
  if (!known || known->validator != load::validator_id()) {
    r = load::load_file(path);
  } else {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string source = buf.str();
    load::LoadOptions options;
    options.structure_known_valid = in && load::content_hash(source) == known->content_hash;
    r = in ? load::load_text(path, source, options) : load::load_file(path);
  }
  diags = r.diags;
  if (!r.playbook) return std::nullopt;
  graph::StepGraph::of_steps(*r.playbook).check(path, diags);
  if (diags.has_errors()) return std::nullopt;
  return std::move(r.playbook);
}

int report(const load::Diagnostics& diags, std::ostream& err, bool warnings) {
  std::size_t errors = 0;  // as shown: a message found twice at one place is one error
  for (const auto& d : diags.sorted()) {
    if (d.severity == load::Severity::Error) ++errors;
    if (warnings || d.severity == load::Severity::Error) err << load::format(d) << "\n";
  }
  if (errors) err << errors << (errors == 1 ? " error" : " errors") << "\n";
  return errors ? kBadInput : kOk;
}

}  // namespace relengine::plan
