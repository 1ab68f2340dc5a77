// Text for HTML: the one escaping every page relengine writes uses (graph --format html, report
// --format html, serve), for element content and quoted attribute values alike.
#pragma once

#include <string>
#include <string_view>

namespace relengine::render {

inline std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace relengine::render
