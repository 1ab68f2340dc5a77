#include <doctest/doctest.h>

#include <random>

#include "load/secret_masker.h"

using relengine::load::SecretMasker;

namespace {

// Feeds `text` in the chunks that `cuts` (ascending offsets) make of it; checks that the masker
// never holds back more than the longest secret minus one; returns all it released.
std::string stream(SecretMasker& m, const std::string& text, const std::vector<std::size_t>& cuts,
                   std::size_t longest) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    out += m.feed(std::string_view(text).substr(from, cut - from));
    CHECK(m.held() < std::max<std::size_t>(longest, 1));
    from = cut;
  }
  out += m.feed(std::string_view(text).substr(from));
  return out + m.flush();
}

// The reference: every byte covered by an occurrence of a secret (or of one of its lines, or
// their trimmed forms) is hidden; each run of overlapping occurrences becomes one ***.
std::string reference(const std::vector<std::string>& patterns, const std::string& text) {
  std::vector<int> start(text.size(), 0);
  std::vector<std::size_t> end_at(text.size(), 0);
  for (const auto& p : patterns)
    for (auto pos = text.find(p); pos != std::string::npos; pos = text.find(p, pos + 1))
      end_at[pos] = std::max(end_at[pos], pos + p.size());
  std::string out;
  std::size_t cover = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (end_at[i]) {
      if (i >= cover) out += "***";
      cover = std::max(cover, end_at[i]);
    }
    if (i >= cover) out += text[i];
  }
  return out;
}

}  // namespace

TEST_CASE("SecretMasker: a secret split across any chunk boundary is masked, whichever split") {
  const std::vector<std::string> secrets = {"hunter22", "s3cr3t"};
  const std::string text = "login hunter22 then s3cr3thunter22; hunter2 is not it\n";
  const std::string expected = "login *** then ******; hunter2 is not it\n";
  SecretMasker m(secrets);
  CHECK(m.mask(text) == expected);
  for (std::size_t a = 0; a <= text.size(); ++a) {
    CAPTURE(a);
    CHECK(stream(m, text, {a}, 8) == expected);
    for (std::size_t b = a; b <= text.size(); ++b) {
      CAPTURE(b);
      REQUIRE(stream(m, text, {a, b}, 8) == expected);
    }
  }
  std::vector<std::size_t> every;  // one byte at a time
  for (std::size_t i = 1; i < text.size(); ++i) every.push_back(i);
  CHECK(stream(m, text, every, 8) == expected);
}

TEST_CASE("SecretMasker: a multi-line secret, whole, re-indented, line by line, with \\n, \\r\\n or \\r") {
  const std::string key = "-----BEGIN KEY-----\nMIIEpAIBAAKCAQEA\nc2VjcmV0IGtleQ==\n-----END KEY-----";
  SecretMasker m({key});
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> cases = {
      {"key:\n" + key + "\nend\n", "key:\n***\nend\n"},
      {"  -----BEGIN KEY-----\n  MIIEpAIBAAKCAQEA\n  c2VjcmV0IGtleQ==\n  -----END KEY-----\n",
       "  ***\n  ***\n  ***\n  ***\n"},
      {"-----BEGIN KEY-----\r\nMIIEpAIBAAKCAQEA\r\nc2VjcmV0IGtleQ==\r\n-----END KEY-----\r\n",
       "***\r\n***\r\n***\r\n***\r\n"},
      {"-----BEGIN KEY-----\rMIIEpAIBAAKCAQEA\rc2VjcmV0IGtleQ==\r-----END KEY-----", "***\r***\r***\r***"},
      {"data: c2VjcmV0IGtleQ== (base64)", "data: *** (base64)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(m.mask(c.text) == c.expected);
    for (std::size_t a = 0; a <= c.text.size(); ++a) {
      CAPTURE(a);
      REQUIRE(stream(m, c.text, {a}, key.size()) == c.expected);
    }
  }
  // Lines are split on \r\n, \n and \r in the secret too.
  SecretMasker crlf({"first-line\r\nsecond-line\rthird-line"});
  CHECK(crlf.mask("first-line second-line third-line") == "*** *** ***");
}

TEST_CASE("SecretMasker: a secret that is a prefix of another leaves nothing of the longer in clear") {
  SecretMasker m({"abcd", "abcdefgh"});
  const std::string text = "xabcdefghy xabcdy xabcdefy";
  const std::string expected = "x***y x***y x***efy";
  CHECK(m.mask(text) == expected);
  for (std::size_t a = 0; a <= text.size(); ++a)
    for (std::size_t b = a; b <= text.size(); ++b) REQUIRE(stream(m, text, {a, b}, 8) == expected);
  // Listed the other way round: the same.
  CHECK(SecretMasker({"abcdefgh", "abcd"}).mask(text) == expected);
}

TEST_CASE("SecretMasker: overlapping occurrences become one ***, touching ones two") {
  CHECK(SecretMasker({"abab"}).mask("ababab.abababab") == "***.***");
  CHECK(SecretMasker({"abab"}).mask("abab abab") == "*** ***");
  CHECK(SecretMasker({"wxyz", "abcd"}).mask("wxyzabcd") == "******");
  CHECK(SecretMasker({"1234", "3456"}).mask("0123456789") == "0***789");
  CHECK(SecretMasker({"aaaa"}).mask("aaaaaaa") == "***");
  CHECK(SecretMasker({"bcde", "abcdefg"}).mask("xabcdefgx") == "x***x");  // one inside another
}

TEST_CASE("SecretMasker: flush releases what was held back — an unterminated line is masked at the end") {
  SecretMasker m({"topsecret"});
  CHECK(m.feed("password: top") == "password: ");  // "top" may be the start of the secret
  CHECK(m.held() == 3);
  CHECK(m.flush() == "top");
  CHECK(m.held() == 0);
  CHECK(m.feed("password: topsec") == "password: ");
  CHECK(m.feed("ret") == "***");  // the secret is the last thing printed, with no newline
  CHECK(m.flush().empty());
  CHECK(m.feed("tops") == "");
  CHECK(m.feed("oil\n") == "topsoil\n");  // not the secret after all: released at once
  // Bytes that cannot start a secret are not held back at all (a live console sees them now).
  CHECK(m.feed("hello world\n") == "hello world\n");
  CHECK(m.held() == 0);
  CHECK(m.flush().empty());
}

TEST_CASE("SecretMasker: empty and short secrets are not masked — no secrets, no change") {
  SecretMasker m({"", "a", "abc"});
  CHECK(m.empty());
  CHECK(m.mask("a abc ab") == "a abc ab");
  CHECK(m.feed("abc") == "abc");
  SecretMasker none;
  CHECK(none.mask("anything") == "anything");
  CHECK(none.feed("anything") == "anything");
  CHECK(none.flush().empty());
  // A short line of a longer secret is not masked alone, the secret as a whole is.
  SecretMasker lines({"ab\ncd\nef"});
  CHECK(lines.mask("ab\ncd\nef") == "***");
  CHECK(lines.mask("ab cd") == "ab cd");
  // Surrounding spaces of a secret are optional when it is printed.
  CHECK(SecretMasker({" spaced-out "}).mask("[spaced-out]") == "[***]");
}

TEST_CASE("SecretMasker: streaming agrees with masking the whole text and with a simple reference") {
  std::mt19937 rng(13);
  const std::string alphabet = "ab\n\r";
  auto random_text = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> secrets = {random_text(4 + rng() % 4), random_text(4 + rng() % 6)};
    std::vector<std::string> patterns;  // what the masker should look for, spelled out
    for (const auto& s : secrets) {
      patterns.push_back(s);
      std::size_t start = 0;
      for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i < s.size() && s[i] != '\n' && s[i] != '\r') continue;
        std::string line = s.substr(start, i - start);
        if (line.size() >= SecretMasker::kMinLength) patterns.push_back(line);
        if (i + 1 < s.size() && s[i] == '\r' && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    std::string text = random_text(60);
    SecretMasker m(secrets);
    std::string whole = m.mask(text);
    CAPTURE(secrets[0]);
    CAPTURE(secrets[1]);
    CAPTURE(text);
    REQUIRE(whole == reference(patterns, text));
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < text.size(); ++i)
      if (rng() % 3 == 0) cuts.push_back(i);
    REQUIRE(stream(m, text, cuts, 10) == whole);
  }
}
