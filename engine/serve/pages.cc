#include "serve/pages.h"

#include <sstream>

#include "render/html.h"

namespace relengine::serve {

namespace {

using render::html_escape;
std::string esc(const std::string& s) { return html_escape(s); }

// A path segment of a link: everything but unreserved characters %-escaped.
std::string url_part(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

const char* kStyle = R"css(
body{font-family:Helvetica,Arial,sans-serif;margin:20px;color:#263238;background:#fff}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:12px;margin-bottom:12px}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 4px}
a{color:#1565c0}p.note{color:#8d6e63}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #eceff1;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f7f8}table.wide{width:100%;margin-top:16px}
main{display:flex;gap:16px;align-items:flex-start}
#graph{flex:3;overflow:auto;border:1px solid #cfd8dc;border-radius:6px;padding:8px;min-width:0}
#graph svg{width:100%;height:auto}#graph g.node{cursor:pointer}
#graph g.node[data-status=running] polygon,#graph g.node[data-status=running] path{stroke-width:3}
#panel{flex:2;border:1px solid #cfd8dc;border-radius:6px;padding:12px;min-width:280px;max-width:560px;font-size:13px}
pre.log{background:#f5f7f8;padding:8px;overflow:auto;max-height:360px;font-size:12px;white-space:pre-wrap}
.state{font-weight:bold}
[data-status=succeeded]>.state,.state[data-status=succeeded]{color:#2e7d32}
[data-status=failed]>.state,.state[data-status=failed]{color:#c62828}
[data-status=running]>.state,.state[data-status=running]{color:#1565c0}
[data-status=waiting]>.state,.state[data-status=waiting],[data-status=paused]>.state,.state[data-status=paused]{color:#b7791f}
[data-status=interrupted]>.state,.state[data-status=interrupted]{color:#6a1b9a}
#steps tr[data-step]{cursor:pointer}
)css";

std::string head(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
}

const char* kScript = R"js('use strict';
// relengine serve: keeps its pages live. Everything shown is escaped; nothing is written anywhere.
(function () {
  const esc = (s) => String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const enc = encodeURIComponent;
  window.relengine = { loadedAt: Date.now(), updates: 0 };

  const runs = document.getElementById('runs');
  if (runs) {
    const refresh = async () => {
      try {
        const r = await fetch('/api/runs', { cache: 'no-store' });
        if (!r.ok) return;
        const list = await r.json();
        runs.tBodies[0].innerHTML = list.map((x) => `<tr data-run="${esc(x.id)}" data-status="${esc(x.status)}">` +
          `<td><a href="/runs/${enc(x.id)}"><code>${esc(x.id)}</code></a></td><td>${esc(x.name)}</td>` +
          `<td class="state">${esc(x.status)}</td><td>${esc(x.started)}</td><td>${esc(x.finished || '')}</td></tr>`).join('');
      } catch (e) { /* the server is away for now: the next refresh tries again */ }
    };
    setInterval(refresh, 3000);
    return;
  }

  const root = document.getElementById('run');
  if (!root) return;
  const id = root.dataset.run;
  const graph = document.getElementById('graph');
  const panel = document.getElementById('panel');
  let version = root.dataset.version;
  let selected = null;
  let queue = Promise.resolve();
  const later = (f) => { queue = queue.then(f).catch(() => {}); };

  const duration = (a, b) => {
    if (!a || !b) return '';
    const d = (Date.parse(b) - Date.parse(a)) / 1000;
    return Number.isFinite(d) ? d.toFixed(3) + ' s' : '';
  };

  // The SVG's nodes get their step and state as attributes, and answer clicks.
  function mark(state) {
    const by = {};
    if (state) state.steps.forEach((s) => { by[s.id] = s; });
    graph.querySelectorAll('g.node').forEach((g) => {
      const t = g.querySelector('title');
      if (!t) return;
      const step = t.textContent;
      g.dataset.step = step;
      if (state) g.dataset.status = by[step] ? by[step].status : 'pending';
      if (!g.dataset.bound) {
        g.dataset.bound = '1';
        g.addEventListener('click', () => select(step));
      }
    });
  }

  function rows(state) {
    const by = {};
    state.steps.forEach((s) => { by[s.id] = s; });
    document.querySelectorAll('#steps tr[data-step]').forEach((tr) => {
      const s = by[tr.dataset.step];
      if (!s) return;
      tr.dataset.status = s.status;
      tr.cells[2].textContent = s.status + (s.reason ? ': ' + s.reason : '');
      tr.cells[3].textContent = s.attempts;
      tr.cells[4].textContent = duration(s.started, s.finished);
      tr.cells[5].textContent = s.message;
    });
  }

  async function update(state) {
    if (state.version !== version) {
      const r = await fetch(`/runs/${enc(id)}/graph.svg?v=${enc(state.version)}`, { cache: 'no-store' });
      if (r.ok) {
        graph.innerHTML = await r.text();
        version = state.version;
      }
    }
    const status = document.getElementById('run-status');
    status.textContent = state.run.status;
    status.dataset.status = state.run.status;
    mark(state);
    rows(state);
    window.relengine.updates += 1;
    if (selected) await show(selected);
  }

  async function show(step) {
    const r = await fetch(`/api/runs/${enc(id)}/steps/${enc(step)}?lines=40`, { cache: 'no-store' });
    if (!r.ok) {
      panel.textContent = `Cannot read ${step}: HTTP ${r.status}`;
      return;
    }
    const s = await r.json();
    const outputs = Object.entries(s.outputs || {});
    const logs = s.logs || [];
    const a = s.approval;
    panel.dataset.step = s.id;
    panel.dataset.status = s.status;
    panel.innerHTML = `<h2><code>${esc(s.id)}</code></h2><table>` +
      `<tr><th>status</th><td class="state" data-status="${esc(s.status)}">${esc(s.status)}${s.reason ? ': ' + esc(s.reason) : ''}</td></tr>` +
      `<tr><th>phase</th><td>${esc(s.phase)}</td></tr>` +
      `<tr><th>attempts</th><td>${esc(s.attempts)}</td></tr>` +
      `<tr><th>started</th><td>${esc(s.started)}</td></tr>` +
      `<tr><th>finished</th><td>${esc(s.finished)}</td></tr>` +
      `<tr><th>duration</th><td>${esc(duration(s.started, s.finished))}</td></tr>` +
      `<tr><th>exit code</th><td>${esc(s.exit_code)}</td></tr>` +
      `<tr><th>message</th><td>${esc(s.message)}</td></tr>` +
      (a ? `<tr><th>approved</th><td>${esc(a.by)}${a.automatic ? ' (automatic)' : ''} on ${esc(a.host)} at ${esc(a.at)}: ${esc(a.note)}</td></tr>` : '') +
      `</table><h3>Outputs</h3>` +
      (outputs.length ? '<table>' + outputs.map(([k, v]) => `<tr><th><code>${esc(k)}</code></th><td><code>${esc(v)}</code></td></tr>`).join('') + '</table>' : '<p>(none)</p>') +
      `<h3>Log (last lines of each attempt)</h3>` +
      (logs.length ? logs.map((l) => `<p>attempt ${esc(l.attempt)}</p><pre class="log">${esc(l.tail.join('\n'))}</pre>`).join('') : '<p>(nothing yet)</p>');
  }

  function select(step) {
    selected = step;
    later(() => show(step));
  }

  mark(null);
  const asked = new URLSearchParams(window.location.search).get('step');  // /runs/ID?step=STEP: shown at once
  if (asked) select(asked);
  document.querySelectorAll('#steps tr[data-step]').forEach((tr) => tr.addEventListener('click', () => select(tr.dataset.step)));
  const events = new EventSource(`/api/runs/${enc(id)}/events`);
  events.addEventListener('state', (e) => {
    const state = JSON.parse(e.data);
    later(() => update(state));
  });
})();
)js";

}  // namespace

std::string runs_page(const std::string& store_location, const nlohmann::json& runs, const std::string& problem) {
  std::ostringstream h;
  h << head("relengine runs") << "<header><h1>Runs</h1><span>in <code>" << esc(store_location)
    << "</code> (read-only)</span></header>\n"
    << "<table class=\"wide\" id=\"runs\"><thead><tr><th>run</th><th>playbook</th><th>status</th><th>started</th>"
       "<th>finished</th></tr></thead><tbody>\n";
  for (const auto& r : runs) {
    std::string id = r["id"].get<std::string>(), status = r["status"].get<std::string>();
    h << "<tr data-run=\"" << esc(id) << "\" data-status=\"" << esc(status) << "\"><td><a href=\"/runs/" << url_part(id)
      << "\"><code>" << esc(id) << "</code></a></td><td>" << esc(r["name"].get<std::string>())
      << "</td><td class=\"state\">" << esc(status) << "</td><td>" << esc(r["started"].get<std::string>())
      << "</td><td>" << esc(r["finished"].is_string() ? r["finished"].get<std::string>() : "") << "</td></tr>\n";
  }
  h << "</tbody></table>\n";
  if (!problem.empty()) h << "<p class=\"note\">" << esc(problem) << "</p>\n";
  h << "<p>Updated every 3 s. JSON: <a href=\"/api/runs\">/api/runs</a>.</p>\n"
    << "<script src=\"/static/relengine.js\"></script>\n</body>\n</html>\n";
  return h.str();
}

std::string run_page(const state::RunRecord& run, const nlohmann::json& state, const std::string& svg,
                     const std::string& note) {
  std::ostringstream h;
  std::string status = state["run"]["status"].get<std::string>();
  std::string link = "/runs/" + url_part(run.id);
  h << head(run.name + " — run " + run.id) << "<header><a href=\"/\">runs</a><h1>" << esc(run.name)
    << "</h1><span>run <code>" << esc(run.id)
    << "</code></span><strong class=\"state\" id=\"run-status\" data-status=\"" << esc(status) << "\">" << esc(status)
    << "</strong><span>report: <a href=\"" << link << "/report.html\">HTML</a> · <a href=\"" << link
    << "/report.md\">Markdown</a> · <a href=\"" << link << "/report.json\">JSON</a></span></header>\n";
  if (!note.empty()) h << "<p class=\"note\">" << esc(note) << "</p>\n";
  h << "<main id=\"run\" data-run=\"" << esc(run.id) << "\" data-version=\"" << esc(state["version"].get<std::string>())
    << "\">\n<div id=\"graph\">" << svg << "</div>\n"
    << "<aside id=\"panel\">Click a step (in the graph or the table) to see its attempts, outputs and the end of "
       "its log.</aside>\n</main>\n"
    << "<table class=\"wide\" id=\"steps\"><thead><tr><th>step</th><th>phase</th><th>status</th><th>attempts</th>"
       "<th>duration</th><th>message</th></tr></thead><tbody>\n";
  for (const auto& s : state["steps"]) {
    std::string st = s["status"].get<std::string>(), reason = s["reason"].get<std::string>();
    h << "<tr data-step=\"" << esc(s["id"].get<std::string>()) << "\" data-status=\"" << esc(st) << "\"><td><code>"
      << esc(s["id"].get<std::string>()) << "</code></td><td>" << esc(s["phase"].get<std::string>())
      << "</td><td class=\"state\">" << esc(st + (reason.empty() ? "" : ": " + reason)) << "</td><td>" << s["attempts"]
      << "</td><td></td><td>" << esc(s["message"].get<std::string>()) << "</td></tr>\n";
  }
  h << "</tbody></table>\n<script src=\"/static/relengine.js\"></script>\n</body>\n</html>\n";
  return h.str();
}

const std::string& script() {
  static const std::string s = kScript;
  return s;
}

}  // namespace relengine::serve
