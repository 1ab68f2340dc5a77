#include "render/graph_render.h"

#include <boost/asio/io_context.hpp>
#include <boost/process/async.hpp>
#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <cstdio>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "render/html.h"

namespace relengine::render {

namespace bp = boost::process;

namespace {

struct Style {
  const char* fill;    // node fill
  const char* stroke;  // border
  const char* ascii;   // state in text, readable in black and white
};

const Style& style_of(const std::string& status) {
  static const std::map<std::string, Style> styles = {
      {"succeeded", {"#d4edda", "#2e7d32", "ok"}},     {"skipped", {"#e3eef9", "#5b7fa6", "skip"}},
      {"failed", {"#f8d7da", "#c62828", "FAIL"}},      {"waiting", {"#fff3cd", "#b7791f", "wait"}},
      {"interrupted", {"#eadcf5", "#6a1b9a", "intr"}}, {"cancelled", {"#eeeeee", "#757575", "cncl"}},
      {"running", {"#d0e4ff", "#1565c0", "run"}},      {"pending", {"#ffffff", "#9e9e9e", "..."}},
  };
  static const Style none{"#ffffff", "#607d8b", ""};
  auto it = styles.find(status);
  return it == styles.end() ? none : it->second;
}

std::string state_text(const GraphNode& n) {
  if (n.status.empty()) return "";
  return n.status + (n.reason.empty() ? "" : ": " + n.reason);
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string fit(const std::string& s, std::size_t width) {
  if (s.size() <= width) return s;
  return width > 3 ? s.substr(0, width - 3) + "..." : s.substr(0, width);
}

std::string format_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

std::vector<std::vector<std::size_t>> dependencies_of(const GraphModel& m) {
  std::vector<std::vector<std::size_t>> deps(m.nodes.size());
  for (const auto& [from, to] : m.edges) deps[to].push_back(from);
  return deps;
}

}  // namespace

void render_ascii(std::ostream& out, const GraphModel& m, bool color, std::size_t width) {
  auto paint = [&](const std::string& text, const std::string& status) {
    if (!color || status.empty()) return text;
    static const std::map<std::string, const char*> ansi = {
        {"succeeded", "\033[32m"},   {"skipped", "\033[36m"},   {"failed", "\033[31m"}, {"waiting", "\033[33m"},
        {"interrupted", "\033[35m"}, {"cancelled", "\033[90m"}, {"running", "\033[34m"}};
    auto it = ansi.find(status);
    return it == ansi.end() ? text : std::string(it->second) + text + "\033[0m";
  };
  out << m.title << " (" << m.playbook << ")";
  if (!m.run_id.empty()) out << "  run " << m.run_id << ": " << m.run_status;
  out << "\n";
  out << (m.run_id.empty()
              ? "marks: [G] manual gate  [!] irreversible  <- needs\n"
              : "state: ok succeeded  skip skipped  FAIL failed  wait waiting  intr interrupted  cncl cancelled\n"
                "       ... pending  run running    marks: [G] gate  [!] irreversible  <- needs\n");
  auto deps = dependencies_of(m);
  std::map<std::string, std::string> phase_of;
  for (const auto& n : m.nodes) phase_of[n.id] = n.phase;
  for (const auto& ph : m.phases) {
    out << "\n== " << ph.id << (ph.name.empty() ? "" : ": " + ph.name) << "\n";
    std::size_t previous = static_cast<std::size_t>(-1);
    for (auto i : ph.nodes) {
      const GraphNode& n = m.nodes[i];
      std::string line = "  ";
      if (!m.run_id.empty()) {
        std::string st = style_of(n.status).ascii;
        line += paint(st + std::string(st.size() < 4 ? 4 - st.size() : 0, ' '), n.status) + " ";
      }
      std::string mark = n.gate ? "[G] " : n.irreversible ? "[!] " : "    ";
      line += mark + n.id;
      // Needs, unless it is just the line above.
      std::vector<std::string> shown;
      bool only_previous = deps[i].size() == 1 && deps[i][0] == previous;
      if (!only_previous)
        for (auto d : deps[i]) shown.push_back(m.nodes[d].id);
      std::string tail;
      if (!shown.empty()) {
        tail = "  <- ";
        std::size_t count = 0;
        for (const auto& s : shown) {
          std::string piece = (count ? ", " : "") + s;
          if (tail.size() + piece.size() > 46) {
            tail += ", +" + std::to_string(shown.size() - count);
            break;
          }
          tail += piece;
          ++count;
        }
      }
      std::size_t visible = 2 + (m.run_id.empty() ? 0 : 5) + 4 + n.id.size();
      std::string name = n.name.empty() ? "" : "  " + n.name;
      std::size_t room = width > visible + tail.size() ? width - visible - tail.size() : 0;
      line += fit(name, room) + tail;
      out << line << "\n";
      previous = i;
    }
  }
}

void render_dot(std::ostream& out, const GraphModel& m) {
  out << "digraph \"" << dot_escape(m.title) << "\" {\n"
      << "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, compound=true, newrank=true, "
      << "label=\"" << dot_escape(m.title + (m.run_id.empty() ? "" : "  (run " + m.run_id + ": " + m.run_status + ")"))
      << "\", labelloc=t];\n"
      << "  node [fontname=\"Helvetica\", fontsize=10, shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"];\n"
      << "  edge [color=\"#78909c\", arrowsize=0.6];\n";
  for (std::size_t p = 0; p < m.phases.size(); ++p) {
    const auto& ph = m.phases[p];
    out << "  subgraph \"cluster_" << dot_escape(ph.id) << "\" {\n"
        << "    label=\"" << dot_escape(ph.id + (ph.name.empty() ? "" : ": " + ph.name)) << "\";\n"
        << "    style=\"rounded,filled\"; color=\"#cfd8dc\"; fillcolor=\"#f7f9fa\";\n";
    for (auto i : ph.nodes) {
      const GraphNode& n = m.nodes[i];
      const Style& st = style_of(n.status);
      std::string label = n.id;
      if (!n.name.empty() && n.name != n.id) label += "\n" + n.name;
      if (n.gate)
        label = "[gate] " + label;
      else if (n.irreversible)
        label = "[irreversible] " + label;
      if (!n.status.empty()) label += "\n" + state_text(n);
      std::string shape = n.gate ? "hexagon" : n.irreversible ? "octagon" : "box";
      std::string style = n.gate || n.irreversible ? "filled" : "rounded,filled";
      if (n.status == "cancelled" || n.status == "pending") style += ",dashed";
      out << "    \"" << dot_escape(n.id) << "\" [label=\"" << dot_escape(label) << "\", shape=" << shape
          << ", style=\"" << style << "\", fillcolor=\"" << st.fill << "\", color=\"" << st.stroke << "\""
          << (n.irreversible ? ", peripheries=2" : "") << ", tooltip=\"" << dot_escape(n.message) << "\"];\n";
    }
    out << "  }\n";
  }
  for (const auto& [from, to] : m.edges)
    out << "  \"" << dot_escape(m.nodes[from].id) << "\" -> \"" << dot_escape(m.nodes[to].id) << "\";\n";
  out << "}\n";
}

void render_mermaid(std::ostream& out, const GraphModel& m) {
  // Mermaid ids must be plain words: steps are s0, s1, ... and their real ids go in the labels,
  // where [, ], . and quotes are written as entities.
  auto label_escape = [](const std::string& s) {
    std::string escaped;
    for (char c : s) {
      switch (c) {
        case '"':
          escaped += "#quot;";
          break;
        case '[':
          escaped += "#91;";
          break;
        case ']':
          escaped += "#93;";
          break;
        case '<':
          escaped += "#lt;";
          break;
        case '>':
          escaped += "#gt;";
          break;
        case '\n':
          escaped += "<br/>";
          break;
        default:
          escaped += c;
      }
    }
    return escaped;
  };
  out << "---\ntitle: " << label_escape(m.title)
      << (m.run_id.empty() ? "" : " (run " + m.run_id + ": " + m.run_status + ")") << "\n---\nflowchart TD\n";
  for (std::size_t p = 0; p < m.phases.size(); ++p) {
    const auto& ph = m.phases[p];
    out << "  subgraph p" << p << "[\"" << label_escape(ph.id + (ph.name.empty() ? "" : ": " + ph.name)) << "\"]\n";
    for (auto i : ph.nodes) {
      const GraphNode& n = m.nodes[i];
      std::string label = n.id;
      if (!n.name.empty() && n.name != n.id) label += "\n" + n.name;
      if (!n.status.empty()) label += "\n" + state_text(n);
      std::string text = "\"" + label_escape(label) + "\"";
      std::string shape = n.gate ? "{{" + text + "}}" : n.irreversible ? "[[" + text + "]]" : "(" + text + ")";
      out << "    s" << i << shape << "\n";
    }
    out << "  end\n";
  }
  for (const auto& [from, to] : m.edges) out << "  s" << from << " --> s" << to << "\n";
  std::set<std::string> used;
  for (const auto& n : m.nodes)
    if (!n.status.empty()) used.insert(n.status);
  for (const auto& status : used) {
    const Style& st = style_of(status);
    out << "  classDef " << status << " fill:" << st.fill << ",stroke:" << st.stroke << "\n";
  }
  for (std::size_t i = 0; i < m.nodes.size(); ++i)
    if (!m.nodes[i].status.empty()) out << "  class s" << i << " " << m.nodes[i].status << "\n";
}

bool render_svg(const GraphModel& m, std::string& svg, std::string& error) {
  auto dot = bp::search_path("dot");
  if (dot.empty()) {
    error =
        "Graphviz's `dot` is not installed (Debian: apt-get install graphviz); "
        "--format dot or mermaid work without it";
    return false;
  }
  std::ostringstream text;
  render_dot(text, m);
  boost::asio::io_context io;
  std::future<std::string> out, err;
  std::error_code ec;
  const std::string input = text.str();  // must outlive the asynchronous write below
  bp::child c(dot, "-Tsvg", bp::std_in<boost::asio::buffer(input), bp::std_out> out, bp::std_err > err, io, ec);
  if (ec) {
    error = "cannot run dot: " + ec.message();
    return false;
  }
  io.run();
  c.wait(ec);
  if (c.exit_code() != 0) {
    error = "dot failed: " + err.get();
    return false;
  }
  svg = out.get();
  return true;
}

void render_html(std::ostream& out, const GraphModel& m, const std::string& svg) {
  std::string inline_svg = svg;
  if (auto start = inline_svg.find("<svg"); start != std::string::npos) inline_svg = inline_svg.substr(start);
  // Fit the page's width: Graphviz sizes the picture in points; its viewBox keeps the proportions.
  if (auto end = inline_svg.find('>'); end != std::string::npos) {
    static const std::regex size(R"re(\s(width|height)="[^"]*")re");
    inline_svg = std::regex_replace(inline_svg.substr(0, end), size, "") + " width=\"100%\"" + inline_svg.substr(end);
  }
  std::string title = m.title + (m.run_id.empty() ? "" : " — run " + m.run_id);
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>" << html_escape(title) << "</title>\n<style>\n"
      << "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#263238;background:#fff}\n"
      << "h1{font-size:20px;margin:0 0 4px}p.meta{color:#546e7a;margin:0 0 16px}\n"
      << ".legend{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 16px;font-size:12px}\n"
      << ".legend span{border:1px solid;border-radius:4px;padding:2px 8px}\n"
      << ".graph{overflow:auto;border:1px solid #cfd8dc;border-radius:6px;padding:8px;margin-bottom:24px}\n"
      << ".graph svg{max-width:1100px;height:auto;display:block;margin:0 auto}\n"
      << "table{border-collapse:collapse;font-size:13px;width:100%}\n"
      << "th,td{border-bottom:1px solid #eceff1;padding:4px 8px;text-align:left;vertical-align:top}\n"
      << "th{background:#f5f7f8}td.state{font-weight:bold;border-left:6px solid}\n"
      << "</style>\n</head>\n<body>\n"
      << "<h1>" << html_escape(m.title) << "</h1>\n<p class=\"meta\">" << html_escape(m.playbook);
  if (!m.run_id.empty())
    out << " &middot; run <code>" << html_escape(m.run_id) << "</code> &middot; <strong data-run-status=\""
        << html_escape(m.run_status) << "\">" << html_escape(m.run_status) << "</strong>";
  out << "</p>\n<div class=\"legend\">\n";
  for (const char* s :
       {"succeeded", "skipped", "failed", "waiting", "interrupted", "cancelled", "running", "pending"}) {
    const Style& st = style_of(s);
    out << "  <span style=\"background:" << st.fill << ";border-color:" << st.stroke << "\">" << s << "</span>\n";
  }
  out << "  <span style=\"border-style:dashed\">hexagon: manual gate</span>\n"
      << "  <span style=\"border-style:double;border-width:3px\">double octagon: irreversible</span>\n"
      << "</div>\n<div class=\"graph\">\n"
      << inline_svg << "\n</div>\n"
      << "<table>\n<thead><tr><th>Phase</th><th>Step</th><th>State</th><th>Attempts</th><th>Duration</th><th>Message</"
         "th></tr></thead>\n<tbody>\n";
  for (const auto& ph : m.phases)
    for (auto i : ph.nodes) {
      const GraphNode& n = m.nodes[i];
      const Style& st = style_of(n.status);
      std::string duration;
      if (auto d = duration_seconds(n.started, n.finished)) duration = format_duration(*d);
      std::string marks = n.gate ? " (gate)" : n.irreversible ? " (irreversible)" : "";
      out << "<tr data-step=\"" << html_escape(n.id) << "\" data-status=\"" << html_escape(n.status) << "\"><td>"
          << html_escape(n.phase) << "</td><td><code>" << html_escape(n.id) << "</code>" << marks
          << (n.name.empty() ? "" : "<br><small>" + html_escape(n.name) + "</small>") << "</td>"
          << "<td class=\"state\" style=\"border-left-color:" << st.stroke << "\">"
          << html_escape(n.status.empty() ? "-" : state_text(n)) << "</td><td>" << n.attempts << "</td><td>" << duration
          << "</td><td>" << html_escape(n.message) << "</td></tr>\n";
    }
  out << "</tbody>\n</table>\n</body>\n</html>\n";
}

}  // namespace relengine::render
