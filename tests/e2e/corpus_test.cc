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
    CHECK(r.out.empty());
  }
}
