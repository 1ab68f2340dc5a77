// The release record of a run (docs/report.md): built from the store alone as one JSON document
// (schemas/report.schema.json), and rendered from it as Markdown (fit to paste into a GitHub
// issue) or as one self-contained HTML page. Used by `relengine report` and `relengine serve`.
#include "view/record.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>

#include "render/html.h"

namespace relengine::view {

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

}  // namespace

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

namespace {

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

std::string markdown_of(const json& r) {
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

// ---- HTML: one self-contained page (no script, no network resource) ----

std::string esc(const std::string& s) { return render::html_escape(s); }

std::string esc(const json& v) {
  return esc(v.is_string() ? v.get<std::string>() : v.is_null() ? std::string("–") : v.dump());
}

// A link only to what is plainly a web address; anything else is text.
std::string link(const json& url) {
  std::string u = url.is_string() ? url.get<std::string>() : "";
  if (u.rfind("https://", 0) != 0) return esc(url);
  return "<a href=\"" + esc(u) + "\" rel=\"noreferrer\">" + esc(u) + "</a>";
}

const char* colour_of(const std::string& status) {
  static const std::map<std::string, const char*> colours = {
      {"succeeded", "#2e7d32"},   {"skipped", "#5b7fa6"},   {"failed", "#c62828"},  {"waiting", "#b7791f"},
      {"interrupted", "#6a1b9a"}, {"cancelled", "#757575"}, {"running", "#1565c0"}, {"paused", "#b7791f"}};
  auto it = colours.find(status);
  return it == colours.end() ? "#9e9e9e" : it->second;
}

std::string html_of(const json& r) {
  std::ostringstream h;
  const json& run = r["run"];
  std::string status = run["status"].get<std::string>();
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>Release record: " << esc(run["name"]) << " (run " << esc(run["id"]) << ")</title>\n<style>\n"
    << "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#263238;max-width:1200px}\n"
    << "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #eceff1}\n"
    << "table{border-collapse:collapse;font-size:13px;width:100%}\n"
    << "th,td{border-bottom:1px solid #eceff1;padding:4px 8px;text-align:left;vertical-align:top}\n"
    << "th{background:#f5f7f8}td.state{font-weight:bold;border-left:6px solid}\n"
    << "pre{background:#f5f7f8;padding:8px;overflow:auto;font-size:12px}code{font-size:12px}\n"
    << "</style>\n</head>\n<body>\n";
  h << "<h1>Release record: " << esc(run["name"]) << " (run <code>" << esc(run["id"]) << "</code>)</h1>\n";
  h << "<table class=\"summary\">\n"
    << "<tr><th>Status</th><td class=\"state\" data-run-status=\"" << esc(status)
    << "\" style=\"border-left-color:" << colour_of(status) << "\">" << esc(status) << "</td></tr>\n"
    << "<tr><th>Playbook</th><td><code>" << esc(run["playbook"]) << "</code> (<code>" << esc(run["playbook_hash"])
    << "</code>)</td></tr>\n"
    << "<tr><th>relengine</th><td>" << esc(r["relengine"]) << "</td></tr>\n"
    << "<tr><th>Started</th><td>" << esc(run["started"]) << "</td></tr>\n"
    << "<tr><th>Finished</th><td>" << esc(run["finished"]) << "</td></tr>\n"
    << "<tr><th>Duration</th><td>" << esc(seconds(run["duration_s"])) << "</td></tr>\n</table>\n";
  h << "<h2>Inputs</h2>\n";
  if (r["inputs"].empty())
    h << "<p>(none recorded; secrets are never recorded)</p>\n";
  else {
    h << "<table class=\"inputs\">\n<tr><th>input</th><th>value</th></tr>\n";
    for (const auto& [k, v] : r["inputs"].items())
      h << "<tr><td><code>" << esc(k) << "</code></td><td><code>" << esc(v) << "</code></td></tr>\n";
    h << "</table>\n<p>(Secret inputs are never recorded.)</p>\n";
  }
  h << "<h2>Phases</h2>\n<table "
       "class=\"phases\">\n<tr><th>phase</th><th>started</th><th>duration</th><th>steps</th></tr>\n";
  for (const auto& p : r["phases"])
    h << "<tr><td><code>" << esc(p["id"]) << "</code></td><td>" << esc(p["started"]) << "</td><td>"
      << esc(seconds(p["duration_s"])) << "</td><td>" << p["steps"].size() << "</td></tr>\n";
  h << "</table>\n<h2>Steps</h2>\n<table class=\"steps\">\n"
    << "<tr><th>step</th><th>phase</th><th>status</th><th>attempts</th><th>duration</th><th>message</th></tr>\n";
  for (const auto& s : r["steps"]) {
    std::string st = s["status"].get<std::string>();
    std::string shown = st + (s["reason"].is_string() ? ": " + s["reason"].get<std::string>() : "");
    h << "<tr data-step=\"" << esc(s["id"]) << "\" data-status=\"" << esc(st) << "\"><td><code>" << esc(s["id"])
      << "</code></td><td>" << esc(s["phase"]) << "</td><td class=\"state\" style=\"border-left-color:" << colour_of(st)
      << "\">" << esc(shown) << "</td><td>" << s["attempts"] << "</td><td>" << esc(seconds(s["duration_s"]))
      << "</td><td>" << esc(s["message"]) << "</td></tr>\n";
  }
  h << "</table>\n<h2>Approvals</h2>\n";
  if (r["approvals"].empty())
    h << "<p>(none)</p>\n";
  else {
    h << "<table class=\"approvals\">\n<tr><th>step</th><th>by</th><th>host</th><th>at</th><th>note</th></tr>\n";
    for (const auto& a : r["approvals"])
      h << "<tr><td><code>" << esc(a["step"]) << "</code></td><td>" << esc(a["by"])
        << (a["automatic"].get<bool>() ? " (automatic)" : "") << "</td><td>" << esc(a["host"]) << "</td><td>"
        << esc(a["at"]) << "</td><td>" << esc(a["note"]) << "</td></tr>\n";
    h << "</table>\n";
  }
  h << "<h2>Tags</h2>\n";
  if (r["tags"].empty())
    h << "<p>(none)</p>\n";
  else {
    h << "<table class=\"tags\">\n<tr><th>tag</th><th>commit</th><th>step</th></tr>\n";
    for (const auto& t : r["tags"])
      h << "<tr><td><code>" << esc(t["tag"]) << "</code></td><td><code>" << esc(t["sha"]) << "</code></td><td><code>"
        << esc(t["step"]) << "</code></td></tr>\n";
    h << "</table>\n";
  }
  if (!r["links"].empty()) {
    h << "<h2>Links</h2>\n<ul>\n";
    for (const auto& l : r["links"])
      h << "<li><code>" << esc(l["step"]) << "</code> " << esc(l["output"]) << ": " << link(l["url"]) << "</li>\n";
    h << "</ul>\n";
  }
  if (!r["skipped"].empty()) {
    h << "<h2>Skipped</h2>\n<table class=\"skipped\">\n<tr><th>step</th><th>reason</th><th>message</th></tr>\n";
    for (const auto& s : r["skipped"])
      h << "<tr><td><code>" << esc(s["step"]) << "</code></td><td>" << esc(s["reason"]) << "</td><td>"
        << esc(s["message"]) << "</td></tr>\n";
    h << "</table>\n";
  }
  h << "<h2>Failures</h2>\n";
  if (r["failures"].empty()) h << "<p>(none)</p>\n";
  for (const auto& f : r["failures"]) {
    h << "<div class=\"failure\" data-step=\"" << esc(f["step"]) << "\"><p><code>" << esc(f["step"]) << "</code> ("
      << esc(f["status"]) << ", " << f["attempts"] << " attempts): " << esc(f["message"]) << "</p>\n"
      << "<details><summary>last lines of its log</summary>\n<pre>";
    for (const auto& l : f["log_tail"]) h << esc(l) << "\n";
    h << "</pre></details></div>\n";
  }
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace

std::string markdown(const json& record) { return markdown_of(record); }
std::string html(const json& record) { return html_of(record); }

}  // namespace relengine::view
