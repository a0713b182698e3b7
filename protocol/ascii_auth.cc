#include "protocol/ascii_auth.h"

#include <array>
#include <cstring>

namespace mcbridge::protocol {
namespace {

constexpr size_t kMaxLineWithoutNewline = 2048;

bool isCSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The first `n` space-separated words of `s` (memcached's tokenizer splits on ' ' only, so a
// '\r' or a tab stays inside a word). Returns how many were found.
template <size_t N>
size_t words(std::string_view s, std::array<std::string_view, N>* out) {
  size_t count = 0;
  size_t i = 0;
  while (count < N) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i == s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    (*out)[count++] = s.substr(i, j - i);
    i = j;
  }
  return count;
}

// C's strtoul as memcached's safe_strtoul uses it for <bytes>, into a uint32: leading
// whitespace and a sign allowed; the number must end the word or be followed by whitespace; a
// word with no digits is 0 when it starts with whitespace (strtoul leaves endptr at the start);
// a '-' is refused when the wrapped value is negative as a signed long.
bool parseSize(std::string_view tok, uint32_t* out) {
  size_t i = 0;
  while (i < tok.size() && isCSpace(tok[i])) ++i;
  bool neg = false;
  if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) neg = tok[i++] == '-';
  const size_t first = i;
  uint64_t v = 0;
  for (; i < tok.size() && tok[i] >= '0' && tok[i] <= '9'; ++i) {
    const auto d = static_cast<uint64_t>(tok[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;  // ERANGE
    v = v * 10 + d;
  }
  if (i == first) {
    if (tok.empty() || !isCSpace(tok[0])) return false;
    *out = 0;
    return true;
  }
  if (i < tok.size() && !isCSpace(tok[i])) return false;
  if (neg) {
    v = 0 - v;
    if (static_cast<int64_t>(v) < 0) return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string_view untilNul(std::string_view s) {
  const void* nul = std::memchr(s.data(), '\0', s.size());
  return nul ? s.substr(0, static_cast<const char*>(nul) - s.data()) : s;
}

AsciiAuthResult reply(size_t consumed, std::string_view bytes) {
  AsciiAuthResult r;
  r.status = AsciiAuthStatus::kReply;
  r.consumed = consumed;
  r.reply = bytes;
  return r;
}

}  // namespace

// set <key> <flags> <exptime> <bytes>[ anything]\r\n<user> <password>[ anything]\r\n
// (key, flags and exptime are not looked at; the line keeps its '\r', which <bytes> tolerates)
AsciiAuthResult parseAsciiAuth(std::string_view in, size_t max_data) {
  AsciiAuthResult r;
  if (in.size() < 2) return r;  // memcached waits for 2 bytes before looking
  const void* nl = std::memchr(in.data(), '\n', in.size());
  // memcached closes when it holds more than 2048 bytes and no newline, so whether a longer
  // line closes depends on how it arrives; like the text parser, a line longer than that
  // always closes, whatever the reads.
  const size_t line_length =
      nl ? static_cast<size_t>(static_cast<const char*>(nl) - in.data()) : in.size();
  if (line_length > kMaxLineWithoutNewline) {
    r.status = AsciiAuthStatus::kClose;
    return r;
  }
  if (nl == nullptr) return r;
  const size_t line_end = static_cast<size_t>(static_cast<const char*>(nl) - in.data()) + 1;
  std::array<std::string_view, 5> w;
  uint32_t size = 0;
  if (words(untilNul(in.substr(0, line_end - 1)), &w) < 5 || w[0] != "set" ||
      !parseSize(w[4], &size)) {
    return reply(line_end, auth_reply::kUnauthenticated);
  }
  if (static_cast<uint64_t>(size) > max_data) {
    r.status = AsciiAuthStatus::kClose;
    return r;
  }
  const size_t total = line_end + size + 2;
  if (in.size() < total) {
    r.needed = total;
    return r;
  }
  const std::string_view data = in.substr(line_end, size + 2);
  if (data.substr(size) != "\r\n") return reply(total, auth_reply::kBadTermination);
  std::array<std::string_view, 2> creds;
  if (words(untilNul(data.substr(0, size)), &creds) < 2) {
    return reply(total, auth_reply::kBadTokenFormat);
  }
  r.status = AsciiAuthStatus::kCredentials;
  r.consumed = total;
  r.user = creds[0];
  r.password = creds[1];
  return r;
}

}  // namespace mcbridge::protocol
