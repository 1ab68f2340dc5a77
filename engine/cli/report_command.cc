// relengine report RUN [--format md|json] [-o FILE]: the release record, from the store alone
// (docs/report.md). The JSON document (schemas/report.schema.json) is the record; the Markdown is
// rendered from it, fit to paste into a GitHub issue.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "io/atomic_file.h"
#include "model/exit_code.h"
#include "state/store.h"

namespace relengine::cli {

using json = nlohmann::json;

namespace {

// Seconds since the epoch of an RFC 3339 UTC time with milliseconds (as the store writes them);
// nullopt for "" or anything else.
std::optional<double> epoch_seconds(const std::string& t) {
  if (t.size() < 20 || t.back() != 'Z') return std::nullopt;
  std::tm tm{};
  std::istringstream in(t.substr(0, 19));
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  double s = static_cast<double>(timegm(&tm));
  if (t.size() > 21 && t[19] == '.') s += std::atof(("0" + t.substr(19, t.size() - 20)).c_str());
  return s;
}

json duration(const std::string& from, const std::string& to) {
  auto a = epoch_seconds(from), b = epoch_seconds(to);
  if (!a || !b || *b < *a) return nullptr;
  return std::round((*b - *a) * 1000) / 1000;
}

json or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

std::vector<std::string> tail(const std::string& text, std::size_t n) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  return lines;
}

json build_record(state::RunStore& store, const state::RunRecord& run, state::RunStatus shown) {
  json r;
  r["report_version"] = 1;
  r["relengine"] = std::string("relengine ") + RELENGINE_VERSION;
  r["run"] = {{"id", run.id},
              {"name", run.name},
              {"playbook", run.playbook},
              {"playbook_hash", run.playbook_hash},
              {"status", state::name(shown)},
              {"started", run.started},
              {"finished", or_null(run.finished)},
              {"duration_s", duration(run.started, run.finished)}};
  r["inputs"] = run.inputs;  // the store keeps no secret input, not even its length
  json phases = json::array(), steps = json::array(), approvals = json::array(), tags = json::array(),
       links = json::array(), skipped = json::array(), failures = json::array();
  std::vector<std::string> phase_order;
  std::map<std::string, std::pair<std::string, std::string>> phase_span;
  std::map<std::string, std::vector<std::string>> phase_steps;
  for (const auto& s : store.steps(run.id)) {
    if (!phase_span.count(s.phase)) phase_order.push_back(s.phase);
    auto& [first, last] = phase_span[s.phase];
    if (!s.started.empty() && (first.empty() || s.started < first)) first = s.started;
    if (!s.finished.empty() && s.finished > last) last = s.finished;
    phase_steps[s.phase].push_back(s.id);
    json step = {{"id", s.id},
                 {"phase", s.phase},
                 {"status", state::name(s.status)},
                 {"reason", or_null(s.reason)},
                 {"attempts", s.attempts},
                 {"retries", std::max(0, s.attempts - 1)},
                 {"started", or_null(s.started)},
                 {"finished", or_null(s.finished)},
                 {"duration_s", duration(s.started, s.finished)},
                 {"exit_code", s.exit_code ? json(*s.exit_code) : json(nullptr)},
                 {"message", s.message},
                 {"outputs", s.outputs}};
    if (!s.approved_by.empty()) {
      json a = {{"by", s.approved_by},
                {"host", s.approved_host},
                {"at", s.approved_at},
                {"note", s.approval_note},
                {"automatic", s.auto_approved}};
      step["approval"] = a;
      a["step"] = s.id;
      approvals.push_back(a);
    }
    steps.push_back(step);
    if (auto t = s.outputs.find("tag"); t != s.outputs.end() && s.outputs.count("sha"))
      tags.push_back({{"step", s.id}, {"tag", t->second}, {"sha", s.outputs.at("sha")}});
    for (const auto& [k, v] : s.outputs)
      if (v.rfind("https://", 0) == 0) links.push_back({{"step", s.id}, {"output", k}, {"url", v}});
    if (s.status == state::StepStatus::Skipped)
      skipped.push_back({{"step", s.id}, {"reason", s.reason}, {"message", s.message}});
    if (s.status == state::StepStatus::Failed || (s.exit_code && *s.exit_code != 0)) {
      auto logs = store.read_log(run.id, s.id);
      json lines = json::array();
      if (!logs.empty())
        for (const auto& l : tail(logs.rbegin()->second, 20)) lines.push_back(l);
      failures.push_back({{"step", s.id},
                          {"status", state::name(s.status)},
                          {"attempts", s.attempts},
                          {"exit_code", s.exit_code ? json(*s.exit_code) : json(nullptr)},
                          {"message", s.message},
                          {"log_tail", lines}});
    }
  }
  for (const auto& p : phase_order) {
    const auto& [first, last] = phase_span[p];
    phases.push_back({{"id", p},
                      {"started", or_null(first)},
                      {"finished", or_null(last)},
                      {"duration_s", duration(first, last)},
                      {"steps", phase_steps[p]}});
  }
  r["phases"] = phases;
  r["steps"] = steps;
  r["approvals"] = approvals;
  r["tags"] = tags;
  r["links"] = links;
  r["skipped"] = skipped;
  r["failures"] = failures;
  return r;
}

// ---- Markdown (GitHub's): tables, and <details> for logs ----

// A table cell: one line, its pipes escaped, HTML's specials as entities.
std::string cell(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.is_null() ? std::string("–") : v.dump();
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

// Inline code that survives any backticks in `s`.
std::string code(const std::string& s) {
  std::size_t longest = 0, run = 0;
  for (char c : s) longest = std::max(longest, run = c == '`' ? run + 1 : 0);
  std::string fence(longest + 1, '`');
  return fence + (s.empty() || s.front() == '`' ? " " : "") + cell(s) + (s.empty() || s.back() == '`' ? " " : "") +
         fence;
}

std::string seconds(const json& d) {
  if (!d.is_number()) return "–";
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << d.get<double>() << " s";
  return out.str();
}

std::string markdown(const json& r) {
  std::ostringstream md;
  const json& run = r["run"];
  md << "# Release record: " << cell(run["name"]) << " (run " << cell(run["id"]) << ")\n\n";
  md << "| | |\n|---|---|\n";
  md << "| Status | **" << cell(run["status"]) << "** |\n";
  md << "| Playbook | " << code(run["playbook"]) << " (" << code(run["playbook_hash"]) << ") |\n";
  md << "| relengine | " << cell(r["relengine"]) << " |\n";
  md << "| Started | " << cell(run["started"]) << " |\n";
  md << "| Finished | " << cell(run["finished"]) << " |\n";
  md << "| Duration | " << seconds(run["duration_s"]) << " |\n\n";
  md << "## Inputs\n\n";
  if (r["inputs"].empty())
    md << "(none recorded; secrets are never recorded)\n\n";
  else {
    md << "| input | value |\n|---|---|\n";
    for (const auto& [k, v] : r["inputs"].items())
      md << "| " << code(k) << " | " << code(v.get<std::string>()) << " |\n";
    md << "\n(Secret inputs are never recorded.)\n\n";
  }
  md << "## Phases\n\n| phase | started | duration | steps |\n|---|---|---|---|\n";
  for (const auto& p : r["phases"])
    md << "| " << code(p["id"]) << " | " << cell(p["started"]) << " | " << seconds(p["duration_s"]) << " | "
       << p["steps"].size() << " |\n";
  md << "\n## Steps\n\n| step | phase | status | attempts | duration | message |\n|---|---|---|---|---|---|\n";
  for (const auto& s : r["steps"]) {
    std::string status =
        s["status"].get<std::string>() + (s["reason"].is_string() ? ": " + s["reason"].get<std::string>() : "");
    md << "| " << code(s["id"]) << " | " << cell(s["phase"]) << " | " << cell(status) << " | " << s["attempts"] << " | "
       << seconds(s["duration_s"]) << " | " << cell(s["message"]) << " |\n";
  }
  md << "\n## Approvals\n\n";
  if (r["approvals"].empty())
    md << "(none)\n";
  else {
    md << "| step | by | host | at | note |\n|---|---|---|---|---|\n";
    for (const auto& a : r["approvals"])
      md << "| " << code(a["step"]) << " | " << cell(a["by"]) << (a["automatic"].get<bool>() ? " (automatic)" : "")
         << " | " << cell(a["host"]) << " | " << cell(a["at"]) << " | " << cell(a["note"]) << " |\n";
  }
  md << "\n## Tags\n\n";
  if (r["tags"].empty())
    md << "(none)\n";
  else {
    md << "| tag | commit | step |\n|---|---|---|\n";
    for (const auto& t : r["tags"])
      md << "| " << code(t["tag"]) << " | " << code(t["sha"]) << " | " << code(t["step"]) << " |\n";
  }
  if (!r["links"].empty()) {
    md << "\n## Links\n\n";
    for (const auto& l : r["links"])
      md << "- " << code(l["step"]) << " " << cell(l["output"]) << ": <" << cell(l["url"]) << ">\n";
  }
  if (!r["skipped"].empty()) {
    md << "\n## Skipped\n\n| step | reason | message |\n|---|---|---|\n";
    for (const auto& s : r["skipped"])
      md << "| " << code(s["step"]) << " | " << cell(s["reason"]) << " | " << cell(s["message"]) << " |\n";
  }
  md << "\n## Failures\n\n";
  if (r["failures"].empty()) md << "(none)\n";
  for (const auto& f : r["failures"]) {
    md << "- " << code(f["step"]) << " (" << cell(f["status"]) << ", " << f["attempts"]
       << " attempts): " << cell(f["message"]) << "\n\n  <details><summary>last lines of its log</summary>\n\n";
    std::string text;
    for (const auto& l : f["log_tail"]) text += l.get<std::string>() + "\n";
    std::size_t longest = 0, run_len = 0;
    for (char c : text) longest = std::max(longest, run_len = c == '`' ? run_len + 1 : 0);
    std::string fence(std::max<std::size_t>(3, longest + 1), '`');
    md << "  " << fence << "\n";
    for (const auto& l : f["log_tail"]) md << "  " << l.get<std::string>() << "\n";
    md << "  " << fence << "\n\n  </details>\n\n";
  }
  return md.str();
}

}  // namespace

int cmd_report(const GlobalOptions& g, const std::string& run_id, const std::string& format,
               const std::string& output) {
  if (format != "md" && format != "json") {
    std::cerr << "relengine: report --format: '" << format << "' is not md or json\n";
    return kBadInput;
  }
  try {
    auto store = state::open_store(g.state_dir, state::OpenMode::ForReading);
    auto run = run_id == "latest" ? store->latest_run() : store->find_run(run_id);
    if (!run) {
      std::cerr << "relengine: no run '" << run_id << "' in " << store->location() << "; `relengine runs` lists them\n";
      return kStateProblem;
    }
    json record = build_record(*store, *run, shown_status(*run));
    std::string text = format == "json" ? record.dump(2) + "\n" : markdown(record);
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
