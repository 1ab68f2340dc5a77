#include "load/secret_masker.h"

#include <algorithm>

namespace relengine::load {

namespace {

std::string_view trimmed(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// The lines of `s`, ended by \r\n, \n or \r.
std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\n' && s[i] != '\r') continue;
    out.push_back(s.substr(start, i - start));
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    start = i + 1;
  }
  out.push_back(s.substr(start));
  return out;
}

}  // namespace

SecretMasker::SecretMasker(const std::vector<std::string>& secrets) {
  std::vector<std::string> all;
  auto add = [&](std::string_view s) {
    if (s.size() >= kMinLength) all.emplace_back(s);
  };
  for (const auto& secret : secrets) {
    add(secret);
    auto lines = lines_of(secret);
    for (auto line : lines) {
      if (lines.size() > 1) add(line);
      if (trimmed(line) != line) add(trimmed(line));
    }
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  if (all.empty()) return;
  auto p = std::make_shared<Patterns>();
  for (auto& s : all) {
    p->longest = std::max(p->longest, s.size());
    p->by_first_byte[static_cast<unsigned char>(s[0])].push_back(std::move(s));
  }
  patterns_ = std::move(p);
}

std::size_t SecretMasker::drain(std::string_view buf, bool at_end, std::size_t& cover, std::string& out) const {
  std::size_t i = 0;
  for (; i < buf.size(); ++i) {
    std::size_t match_end = 0;  // the end of the longest secret that starts at i
    bool undecided = false;
    for (const auto& s : patterns_->by_first_byte[static_cast<unsigned char>(buf[i])]) {
      std::size_t avail = buf.size() - i;
      if (s.size() <= avail) {
        if (buf.compare(i, s.size(), s) == 0) match_end = std::max(match_end, i + s.size());
      } else if (!at_end && buf.compare(i, avail, s, 0, avail) == 0) {
        undecided = true;  // the next chunk tells whether s starts here
        break;
      }
    }
    if (undecided) break;
    if (match_end) {
      if (i >= cover) out += "***";  // a new occurrence; one that overlaps the last extends it
      cover = std::max(cover, match_end);
    }
    if (i >= cover) out += buf[i];
  }
  cover = cover > i ? cover - i : 0;
  return i;
}

std::string SecretMasker::mask(std::string_view text) const {
  if (empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t cover = 0;
  drain(text, true, cover, out);
  return out;
}

std::string SecretMasker::feed(std::string_view chunk) {
  if (empty()) return std::string(chunk);
  std::string out;
  if (pending_.empty()) {
    // The usual case: nothing held back, so mask the chunk where it is and keep only its tail.
    std::size_t used = drain(chunk, false, cover_, out);
    pending_.assign(chunk.substr(used));
    return out;
  }
  pending_.append(chunk);
  std::size_t used = drain(pending_, false, cover_, out);
  pending_.erase(0, used);
  return out;
}

std::string SecretMasker::flush() {
  std::string out;
  if (!empty()) drain(pending_, true, cover_, out);
  pending_.clear();
  cover_ = 0;
  return out;
}

}  // namespace relengine::load
