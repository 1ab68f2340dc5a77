#include "graph/step_graph.h"

#include <algorithm>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include "expr/expr.h"

namespace relengine::graph {

namespace {

struct Unit {
  const model::Step* step;
  const model::Phase* phase;
  std::size_t phase_index;
  std::size_t order;
};

// Unit-level dependencies: (from, to, mark of the needs entry or none).
struct UnitEdge {
  std::size_t from, to;
  model::Mark mark;
};

std::vector<UnitEdge> unit_edges(const model::Playbook& pb, std::vector<Unit>& units) {
  std::unordered_map<std::string, std::size_t> step_index;
  std::unordered_map<std::string, std::size_t> phase_index;
  std::vector<std::vector<std::size_t>> phase_units(pb.phases.size());
  for (std::size_t p = 0; p < pb.phases.size(); ++p) {
    phase_index.emplace(pb.phases[p].id.value, p);
    for (const auto& st : pb.phases[p].steps) {
      step_index.emplace(st.id.value, units.size());
      phase_units[p].push_back(units.size());
      units.push_back({&st, &pb.phases[p], p, units.size()});
    }
  }
  // An include entry's id stands for every step it brought.
  std::unordered_map<std::string, std::vector<std::size_t>> group_index;
  for (const auto& g : pb.includes)
    for (const auto& id : g.steps)
      if (auto it = step_index.find(id); it != step_index.end()) group_index[g.id].push_back(it->second);
  // Which steps does some other step of the same phase depend on? The rest are the
  // phase's sinks: every step of a phase leads to one, so needing a phase = needing its sinks.
  std::vector<bool> has_local_successor(units.size(), false);
  std::vector<bool> has_local_predecessor(units.size(), false);
  for (std::size_t p = 0; p < pb.phases.size(); ++p) {
    const auto& ids = phase_units[p];
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const model::Step& st = *units[ids[i]].step;
      if (!st.needs_given) {
        if (i > 0) has_local_successor[ids[i - 1]] = has_local_predecessor[ids[i]] = true;
        continue;
      }
      for (const auto& need : st.needs) {
        std::vector<std::size_t> targets;
        if (auto it = step_index.find(need.value); it != step_index.end())
          targets.push_back(it->second);
        else if (auto g = group_index.find(need.value); g != group_index.end())
          targets = g->second;
        for (auto t : targets)
          if (units[t].phase_index == p && t != ids[i]) has_local_successor[t] = has_local_predecessor[ids[i]] = true;
      }
    }
  }
  auto sinks = [&](std::size_t p) {
    std::vector<std::size_t> out;
    for (auto u : phase_units[p])
      if (!has_local_successor[u]) out.push_back(u);
    return out;
  };

  std::vector<UnitEdge> edges;
  for (std::size_t p = 0; p < pb.phases.size(); ++p) {
    const model::Phase& ph = pb.phases[p];
    // The phases this one waits for, with the needs entry that says so.
    std::vector<std::pair<std::size_t, model::Mark>> before;
    if (ph.needs_given) {
      for (const auto& need : ph.needs)
        if (auto it = phase_index.find(need.value); it != phase_index.end()) before.emplace_back(it->second, need.mark);
    } else if (p > 0) {
      before.emplace_back(p - 1, model::Mark{});
    }
    const auto& ids = phase_units[p];
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::size_t u = ids[i];
      const model::Step& st = *units[u].step;
      if (!st.needs_given && i > 0) edges.push_back({ids[i - 1], u, {}});
      for (const auto& need : st.needs) {
        if (auto it = step_index.find(need.value); it != step_index.end()) {
          edges.push_back({it->second, u, need.mark});
        } else if (auto ph_it = phase_index.find(need.value); ph_it != phase_index.end() && ph_it->second != p) {
          for (auto s : sinks(ph_it->second)) edges.push_back({s, u, need.mark});
        } else if (auto g = group_index.find(need.value); g != group_index.end()) {
          for (auto s : g->second) edges.push_back({s, u, need.mark});  // every step of the include
        }
      }
      if (!has_local_predecessor[u])
        for (const auto& [q, mark] : before)
          if (q != p)
            for (auto s : sinks(q)) edges.push_back({s, u, mark});
    }
  }
  return edges;
}

}  // namespace

std::string StepGraph::instance_id(const std::string& id, const expr::Value& item, std::size_t index) {
  std::string key = item.is_map() || item.is_list() ? std::to_string(index) : expr::to_string(item);
  return id + "[" + key + "]";
}

StepGraph StepGraph::of_steps(const model::Playbook& pb) {
  StepGraph sg;
  std::vector<Unit> units;
  auto edges = unit_edges(pb, units);
  for (const auto& u : units) {
    StepNode n;
    n.id = u.step->id.value;
    n.step = u.step;
    n.phase = u.phase;
    n.phase_index = u.phase_index;
    n.file_order = u.order;
    boost::add_vertex(n, sg.g_);
  }
  std::set<std::pair<std::size_t, std::size_t>> seen;
  for (const auto& e : edges)
    if (seen.emplace(e.from, e.to).second) boost::add_edge(e.from, e.to, DependencyEdge{e.mark}, sg.g_);
  for (auto v : boost::make_iterator_range(boost::vertices(sg.g_))) sg.by_id_.emplace_back(sg.g_[v].id, v);
  std::sort(sg.by_id_.begin(), sg.by_id_.end());
  return sg;
}

StepGraph StepGraph::expanded(const model::Playbook& pb, const ForEachItems& items) {
  StepGraph sg;
  std::vector<Unit> units;
  auto edges = unit_edges(pb, units);
  std::vector<std::vector<Vertex>> instances(units.size());
  for (std::size_t u = 0; u < units.size(); ++u) {
    StepNode base;
    base.id = units[u].step->id.value;
    base.step = units[u].step;
    base.phase = units[u].phase;
    base.phase_index = units[u].phase_index;
    base.file_order = units[u].order;
    if (!units[u].step->for_each) {
      instances[u].push_back(boost::add_vertex(base, sg.g_));
      continue;
    }
    auto list = items(*units[u].step);
    if (!list) {
      base.unexpanded = true;
      base.id += "[*]";
      instances[u].push_back(boost::add_vertex(base, sg.g_));
      continue;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      StepNode n = base;
      n.id = instance_id(base.id, (*list)[i], i);
      n.item = (*list)[i];
      instances[u].push_back(boost::add_vertex(n, sg.g_));
    }
  }
  std::set<std::pair<Vertex, Vertex>> seen;
  for (const auto& e : edges)
    for (auto from : instances[e.from])
      for (auto to : instances[e.to])
        if (seen.emplace(from, to).second) boost::add_edge(from, to, DependencyEdge{e.mark}, sg.g_);
  for (auto v : boost::make_iterator_range(boost::vertices(sg.g_))) sg.by_id_.emplace_back(sg.g_[v].id, v);
  std::sort(sg.by_id_.begin(), sg.by_id_.end());
  return sg;
}

std::optional<Vertex> StepGraph::find(const std::string& id) const {
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), std::make_pair(id, Vertex(0)));
  if (it != by_id_.end() && it->first == id) return it->second;
  return std::nullopt;
}

std::vector<Vertex> StepGraph::dependencies(Vertex v) const {
  std::vector<Vertex> out;
  for (auto e : boost::make_iterator_range(boost::in_edges(v, g_))) out.push_back(boost::source(e, g_));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Vertex> StepGraph::dependents(Vertex v) const {
  std::vector<Vertex> out;
  for (auto e : boost::make_iterator_range(boost::out_edges(v, g_))) out.push_back(boost::target(e, g_));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Vertex> StepGraph::topological_order() const {
  std::vector<std::size_t> indegree(size(), 0);
  for (auto v : boost::make_iterator_range(boost::vertices(g_))) indegree[v] = boost::in_degree(v, g_);
  // Ties are broken by file order, then by vertex (the instances of one step in item order; the
  // instances of a for_each expanded at run time are added last but keep their step's place).
  using Key = std::pair<std::size_t, Vertex>;
  std::priority_queue<Key, std::vector<Key>, std::greater<>> ready;
  std::size_t live = 0;
  for (Vertex v = 0; v < size(); ++v) {
    if (g_[v].retired) continue;
    ++live;
    if (indegree[v] == 0) ready.push({g_[v].file_order, v});
  }
  std::vector<Vertex> order;
  order.reserve(live);
  while (!ready.empty()) {
    Vertex v = ready.top().second;
    ready.pop();
    order.push_back(v);
    for (auto e : boost::make_iterator_range(boost::out_edges(v, g_))) {
      Vertex w = boost::target(e, g_);
      if (--indegree[w] == 0) ready.push({g_[w].file_order, w});
    }
  }
  if (order.size() != live) order.clear();
  return order;
}

std::vector<Vertex> StepGraph::expand(Vertex placeholder, const std::vector<expr::Value>& items) {
  StepNode base = g_[placeholder];
  base.unexpanded = false;
  base.id = base.step->id.value;
  std::vector<std::pair<Vertex, DependencyEdge>> before, after;
  for (auto e : boost::make_iterator_range(boost::in_edges(placeholder, g_)))
    before.emplace_back(boost::source(e, g_), g_[e]);
  for (auto e : boost::make_iterator_range(boost::out_edges(placeholder, g_)))
    after.emplace_back(boost::target(e, g_), g_[e]);
  // The placeholder stays as an isolated, retired vertex: vertex descriptors (vecS) stay valid.
  boost::clear_vertex(placeholder, g_);
  g_[placeholder].retired = true;
  by_id_.erase(std::remove_if(by_id_.begin(), by_id_.end(), [&](const auto& p) { return p.second == placeholder; }),
               by_id_.end());
  std::vector<Vertex> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    StepNode n = base;
    n.id = instance_id(base.id, items[i], i);
    n.item = items[i];
    Vertex v = boost::add_vertex(n, g_);
    for (const auto& [from, edge] : before) boost::add_edge(from, v, edge, g_);
    for (const auto& [to, edge] : after) boost::add_edge(v, to, edge, g_);
    by_id_.emplace_back(n.id, v);
    out.push_back(v);
  }
  std::sort(by_id_.begin(), by_id_.end());
  return out;
}

void StepGraph::report_cycles(const std::string& file, load::Diagnostics& diags) const {
  // Iterative DFS (a 10,000-step chain must not overflow the stack); a back edge closes a cycle.
  enum Color : char { White, Grey, Black };
  std::vector<Color> color(size(), White);
  std::vector<Vertex> stack;
  std::vector<std::size_t> position(size(), 0);
  std::set<std::vector<Vertex>> reported;
  const std::size_t kMaxReports = 10;
  for (Vertex root = 0; root < size(); ++root) {
    if (color[root] != White) continue;
    std::vector<std::pair<Vertex, Graph::out_edge_iterator>> frames;
    auto push = [&](Vertex v) {
      color[v] = Grey;
      position[v] = stack.size();
      stack.push_back(v);
      frames.emplace_back(v, boost::out_edges(v, g_).first);
    };
    push(root);
    while (!frames.empty()) {
      auto& [v, it] = frames.back();
      if (it == boost::out_edges(v, g_).second) {
        color[v] = Black;
        stack.pop_back();
        frames.pop_back();
        continue;
      }
      auto edge = *it++;
      Vertex w = boost::target(edge, g_);
      if (color[w] == White) {
        push(w);
      } else if (color[w] == Grey && reported.size() < kMaxReports) {
        std::vector<Vertex> members(stack.begin() + static_cast<std::ptrdiff_t>(position[w]), stack.end());
        std::vector<Vertex> key = members;
        std::sort(key.begin(), key.end());
        if (!reported.insert(key).second) continue;
        std::string path;
        for (auto m : members) path += g_[m].id + " -> ";
        path += g_[w].id;
        // Position: an explicit needs entry on the cycle, preferably the one closing it.
        model::Mark mark = g_[edge].mark;
        for (std::size_t i = 0; mark.line == 0 && i < members.size(); ++i) {
          Vertex from = members[i];
          Vertex to = i + 1 < members.size() ? members[i + 1] : w;
          auto [e, ok] = boost::edge(from, to, g_);
          if (ok) mark = g_[e].mark;
        }
        if (mark.line == 0) mark = g_[w].step->id.mark;
        diags.error(file, mark, "dependency cycle: " + path);
      }
    }
  }
}

void StepGraph::report_for_each_order(const std::string& file, load::Diagnostics& diags) const {
  for (Vertex v = 0; v < size(); ++v) {
    const model::Step& st = *g_[v].step;
    if (!st.for_each || st.for_each->kind != model::Node::Kind::Scalar) continue;
    std::vector<std::string> read;
    auto collect = [&](const std::string& text, const model::IncludeScope* scope) {
      auto parsed = expr::parse_template(text);
      if (parsed.error) return;
      for (const auto& part : parsed.tmpl.parts)
        if (part.is_expr)
          if (auto p = expr::parse(part.text); p.expr)
            for (auto& id : expr::referenced_steps(*p.expr)) {
              std::string base = id.substr(0, id.find('['));
              if (scope)  // a library's step names its library's steps by their local ids
                if (auto it = scope->locals.find(base); it != scope->locals.end()) base = it->second;
              read.push_back(base);
            }
    };
    collect(st.for_each->scalar, st.included.get());
    // What a library's list reads through its inputs: the include entries' `with`, outwards.
    for (const model::IncludeScope* inc = st.included.get(); inc; inc = inc->parent.get())
      for (const auto& [name, value] : inc->with)
        if (value.kind == model::Node::Kind::Scalar) collect(value.scalar, inc->parent.get());
    if (read.empty()) continue;
    // The steps v comes after: everything upstream of it.
    std::set<Vertex> upstream;
    std::vector<Vertex> work{v};
    while (!work.empty()) {
      Vertex w = work.back();
      work.pop_back();
      for (auto d : dependencies(w))
        if (upstream.insert(d).second) work.push_back(d);
    }
    std::set<std::string> reported;
    for (const auto& id : read) {
      auto u = find(id);
      if (!u || upstream.count(*u) || !reported.insert(id).second) continue;
      diags.error(st.included ? st.included->file : file, st.for_each->mark,
                  "for_each of step '" + st.id.value + "' reads step '" + id + "', which it does not run after: add '" +
                      id + "' to its needs (its list is computed when the step becomes ready)");
    }
  }
}

}  // namespace relengine::graph
