// The invalid-playbook corpus: every file under tests/invalid/ holds one problem and says, on
// its first line, where the error must point and what it must say:  # expect: LINE:COL fragment
#include <doctest/doctest.h>

#include <algorithm>

#include "run.h"

using namespace e2e;

TEST_CASE("every invalid playbook gets exactly one error at the expected position, exit 2") {
  E2E_STORE_FREE();
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(TESTS_DIR) / "invalid"))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 30);
  for (const auto& file : files) {
    CAPTURE(file);
    std::string first = lines(slurp(file)).at(0);
    const std::string prefix = "# expect: ";
    REQUIRE(first.rfind(prefix, 0) == 0);
    std::string spec = first.substr(prefix.size());
    std::string position = spec.substr(0, spec.find(' '));
    std::string fragment = spec.substr(spec.find(' ') + 1);
    Result r = relengine({"validate", file.string()});
    CAPTURE(r.err);
    CHECK(r.code == 2);
    std::vector<std::string> errors;
    for (const auto& l : lines(r.err))
      if (l.find(": error: ") != std::string::npos) errors.push_back(l);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind(file.string() + ":" + position + ": error: ", 0) == 0);
    CHECK(errors[0].find(fragment) != std::string::npos);
    CHECK(lines(r.err).back() == "1 error");  // the count is of what is shown (one problem found twice is one)
    CHECK(r.out.empty());
  }
}

// The YAML test suite (tests/yaml-test-suite, 402 cases, valid YAML and not): none is a playbook,
// and each gets exit 2 and messages that are one positioned line each, in relengine's words (none
// of yaml-cpp's or valijson's own left unexplained), never a crash.
TEST_CASE("validate over the YAML test suite: exit 2, every message one positioned line, no crash") {
  E2E_STORE_FREE();
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(fs::path(TESTS_DIR) / "yaml-test-suite" / "data"))
    cases.push_back(entry.path() / "in.yaml");
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() == 402);
  for (const auto& file : cases) {
    CAPTURE(file);
    Result r = relengine({"validate", file.string()});
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    std::size_t errors = 0;
    for (const auto& l : lines(r.err)) {
      if (l.empty()) continue;
      if (l.find(" error") != std::string::npos && l.find(':') == std::string::npos) continue;  // "N errors"
      CHECK_MESSAGE(l.rfind(file.string() + ":", 0) == 0, l);
      std::string rest = l.substr(std::min(l.size(), file.string().size() + 1));
      CHECK_MESSAGE(std::isdigit(static_cast<unsigned char>(rest.empty() ? ' ' : rest[0])), l);
      for (const char* leaked : {"bad conversion", "Target should", "constraint", "stopped early"})
        CHECK_MESSAGE(l.find(leaked) == std::string::npos, l);
      ++errors;
    }
    CHECK(errors >= 1);
  }
}
