// exec/outputs: $RELENGINE_OUTPUT read as GitHub Actions reads $GITHUB_OUTPUT, the relengine.*
// names kept for the engine, and the entries built-in actions write read back exactly, whatever
// the value holds.
#include <doctest/doctest.h>

#include "exec/outputs.h"

using namespace relengine::exec;

TEST_CASE("outputs: NAME=VALUE lines, CRLF, '=' in a value, bad lines noted") {
  auto p = parse_outputs("a=1\nb=x=y\r\nc=\n\nnot a line\n9bad=1\nd=last");
  CHECK(p.error.empty());
  CHECK(p.values == std::map<std::string, std::string>{{"a", "1"}, {"b", "x=y"}, {"c", ""}, {"d", "last"}});
  REQUIRE(p.notes.size() == 2);
  CHECK(p.notes[0].find("not NAME=VALUE or NAME<<DELIMITER") != std::string::npos);
  CHECK(p.notes[1].find("'9bad'") != std::string::npos);
}

TEST_CASE("outputs: NAME<<DELIMITER, the lines, DELIMITER, as GITHUB_OUTPUT") {
  auto p = parse_outputs("notes<<EOF\nline one\nline=two\nEOF-not-yet\n  EOF\n\nEOF\nafter=1\n");
  CHECK(p.error.empty());
  CHECK(p.values["notes"] == "line one\nline=two\nEOF-not-yet\n  EOF\n");
  CHECK(p.values["after"] == "1");
  // '=' before '<<' is the one-line form; '<<' first the multi-line one, its delimiter all the rest.
  p = parse_outputs("a=b<<c\nd<<e=f\nx\ne=f\n");
  CHECK(p.values["a"] == "b<<c");
  CHECK(p.values["d"] == "x");
  // A CRLF file: its lines end in CRLF, the delimiter matches; the value keeps its bytes.
  p = parse_outputs("m<<END\r\none\r\ntwo\r\nEND\r\n");
  CHECK(p.values["m"] == "one\r\ntwo\r");
  // An empty value.
  CHECK(parse_outputs("e<<X\nX\n").values["e"] == "");
}

TEST_CASE("outputs: a value never ended is an error, naming the delimiter, and an empty delimiter a note") {
  auto p = parse_outputs("ok=1\nnotes<<EOF\nline\nEO\n");
  CHECK(p.error ==
        "output notes: no line 'EOF' ends its value (NAME<<DELIMITER, the value's lines, then "
        "DELIMITER alone on a line)");
  p = parse_outputs("x<<\ny=1\n");
  CHECK(p.error.empty());
  CHECK(p.values == std::map<std::string, std::string>{{"y", "1"}});
  CHECK(p.notes.at(0).find("without a delimiter") != std::string::npos);
}

TEST_CASE("outputs: the relengine.* names are the engine's: a step cannot write them") {
  auto p = parse_outputs("relengine.unchanged=true\nrelengine.message<<E\nx\nE\nkept=1\n");
  CHECK(p.values == std::map<std::string, std::string>{{"kept", "1"}});
  REQUIRE(p.notes.size() == 2);
  CHECK(p.notes[0] == "ignored output 'relengine.unchanged': the relengine.* names are the engine's own");
}

TEST_CASE("outputs: a note quoting a line escapes its control characters (one line, always)") {
  auto p = parse_outputs(std::string("bad\x1b[2Jline\r\x01\n"));
  REQUIRE(p.notes.size() == 1);
  CHECK(p.notes[0].find('\x1b') == std::string::npos);
  CHECK(p.notes[0].find("bad\\x1b[2Jline\\x0d\\x01") != std::string::npos);
}

TEST_CASE("output_entry: what a built-in action writes reads back exactly, for hostile values") {
  std::mt19937_64 random(42);
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + " = x<<EOF\n";
  big += std::string(1 << 20, 'v');
  std::vector<std::string> values = {"",
                                     "\n",
                                     "x\ny",
                                     "a=b",
                                     "\r",
                                     "x\r\n",
                                     "trailing\n\n",
                                     "x\nrelengine.unchanged=true",
                                     "v<<EOF\nEOF",
                                     "relengine_delimiter_0000000000000000\n",
                                     big};
  // A value holding the very delimiter the next draw would pick: another one is drawn.
  std::mt19937_64 peek(7);
  char next[40];
  std::snprintf(next, sizeof next, "relengine_delimiter_%016llx", static_cast<unsigned long long>(peek()));
  values.push_back(std::string("a\n") + next + "\nb");
  std::string file;
  std::mt19937_64 seven(7);
  for (std::size_t i = 0; i < values.size(); ++i)
    file += output_entry("v" + std::to_string(i), values[i], i + 1 == values.size() ? seven : random);
  auto p = parse_outputs(file);
  CHECK(p.error.empty());
  CHECK(p.notes.empty());
  REQUIRE(p.values.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(i);
    CHECK(p.values["v" + std::to_string(i)] == values[i]);
  }
}
