// Replaces every occurrence of a secret input's value by *** in text, whole or as a stream of
// chunks (a step's output as its pipe delivers it). Used by InputValues::mask (plans, JSON) and by
// exec/builder (step logs, the verbose console, outputs), so that both mask exactly the same.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace relengine::load {

// What is masked, for secrets S:
// - every S itself, and every line of a multi-line S on its own, without the spaces and tabs
//   around it (a tool may print a key re-indented, line by line, or with other line endings:
//   \n, \r\n and \r all end a line of S);
// - values shorter than kMinLength (S or one of its lines) are not masked: masking "" or "ab"
//   would turn most of the output into ***. Such secrets are still never stored or printed by
//   relengine itself; only what a command prints of them stays visible.
// Occurrences are found wherever they start, also overlapping or one inside another: a run of
// bytes covered by occurrences that overlap becomes one ***, so no byte of any secret is left in
// clear (with secrets "abcd" and "abcdefgh", "xabcdefghy" becomes "x***y"); occurrences that
// merely touch stay two (******).
class SecretMasker {
 public:
  static constexpr std::size_t kMinLength = 4;

  SecretMasker() = default;
  explicit SecretMasker(const std::vector<std::string>& secrets);

  // The whole of `text`, masked; does not touch the stream's state.
  std::string mask(std::string_view text) const;

  // Streaming: feed the output in chunks, as they come, and write what comes back. A secret may
  // be split across any number of chunks. Bytes that may still be the start of a secret are held
  // back (at most the longest secret's length minus one) until the next chunk decides them, or
  // flush().
  std::string feed(std::string_view chunk);
  // End of the stream: releases (masked) what is held back; the masker is then ready for a new stream.
  std::string flush();

  bool empty() const { return !patterns_ || patterns_->longest == 0; }
  std::size_t held() const { return pending_.size(); }  // bytes held back, for tests

 private:
  struct Patterns {
    std::array<std::vector<std::string>, 256> by_first_byte;  // the strings to mask, by first byte
    std::size_t longest = 0;
  };
  // Masks from the start of `buf`, appending to `out`; stops before the first byte that may still
  // start a secret (unless `at_end`). `cover` is how far into `buf` an occurrence already found
  // reaches. Returns the number of bytes of `buf` consumed.
  std::size_t drain(std::string_view buf, bool at_end, std::size_t& cover, std::string& out) const;

  std::shared_ptr<const Patterns> patterns_;  // shared by copies: one masker per stream
  std::string pending_;                       // held back: may be the start of a secret
  std::size_t cover_ = 0;                     // bytes of pending_ inside an occurrence already masked
};

}  // namespace relengine::load
