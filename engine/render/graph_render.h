// Draws a GraphModel: ascii (terminal), dot (Graphviz), mermaid (Markdown), svg (via Graphviz's
// `dot`) and html (one self-contained page with the SVG, a legend and a table of steps).
// Every renderer writes to a std::ostream, deterministically. Used by `relengine graph`.
#pragma once

#include <ostream>
#include <string>

#include "render/graph_model.h"

namespace relengine::render {

void render_ascii(std::ostream& out, const GraphModel& m, bool color, std::size_t width = 100);
void render_dot(std::ostream& out, const GraphModel& m);
void render_mermaid(std::ostream& out, const GraphModel& m);
// Runs `dot -Tsvg`; false with a message when Graphviz is missing or fails.
bool render_svg(const GraphModel& m, std::string& svg, std::string& error);
void render_html(std::ostream& out, const GraphModel& m, const std::string& svg);

}  // namespace relengine::render
