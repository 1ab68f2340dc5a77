// `relengine export github-actions`: one GitHub Actions workflow that runs a playbook, phase by
// phase, with relengine doing the work in every job (docs/github-actions.md). Each phase is a job
// (`relengine run --run-id gh-RUN --phase P --with-deps`), cut at each gate or irreversible step
// into segments; each gate is a job of its own in a GitHub environment that, once GitHub lets it
// run, records the approval (`relengine approve`). What cannot be expressed faithfully is refused
// with a positioned error, never dropped.
#pragma once

#include <optional>
#include <string>

#include "load/diagnostics.h"
#include "plan/plan.h"

namespace relengine::exporter {

enum class StateMode { Postgres, Artifact };

struct GithubOptions {
  std::string playbook;                 // the playbook's path from the repository's root, as given
  std::string environment = "release";  // the environment of gates that name none
  std::string setup_file;               // --setup: the steps that install relengine, instead of the action
  std::string setup_text;               // its bytes (read by the caller)
  StateMode state = StateMode::Postgres;
  std::string action = "confidential-containers/relengine@main";  // --relengine-action
  std::string runs_on = "ubuntu-latest";
};

// The workflow's text, or nullopt with the problems in `diags` (each positioned).
std::optional<std::string> github_workflow(const plan::Prepared& prepared, const GithubOptions& options,
                                           load::Diagnostics& diags);

// The actions the workflow uses, pinned by commit (GitHub's hardening guide), with their tags.
struct PinnedAction {
  const char* name;
  const char* sha;
  const char* tag;
};
extern const PinnedAction kCheckout, kUploadArtifact, kDownloadArtifact, kCache;

}  // namespace relengine::exporter
