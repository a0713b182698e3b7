// Number parsing and result helpers shared by the text parser (parser.cc) and the meta-command
// parser (meta_parser.cc). They emulate the strto*-based helpers memcached 1.6.18 uses.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/parser.h"

namespace mcbridge::protocol::internal {
// isspace() in the C locale. memcached's strto* helpers skip it in front of a number and accept
// it right after one, so "\t5" and "5\tx" are valid numbers inside a space-separated token.
inline bool isCSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The part of C's strtoull/strtol that memcached's safe_strto* rely on, base 10: optional
// whitespace, optional sign, at least one digit, then the token must end or continue with
// whitespace. Fails on overflow of the magnitude (strto* would set ERANGE).
inline bool scanNumber(std::string_view tok, bool* negative, uint64_t* magnitude) {
  size_t i = 0;
  while (i < tok.size() && isCSpace(tok[i])) ++i;
  bool neg = false;
  if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) {
    neg = tok[i] == '-';
    ++i;
  }
  const size_t first_digit = i;
  uint64_t v = 0;
  bool overflow = false;
  for (; i < tok.size() && tok[i] >= '0' && tok[i] <= '9'; ++i) {
    const auto d = static_cast<uint64_t>(tok[i] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      overflow = true;
    } else {
      v = v * 10 + d;
    }
  }
  if (i == first_digit || overflow) return false;
  if (i < tok.size() && !isCSpace(tok[i])) return false;
  *negative = neg;
  *magnitude = v;
  return true;
}

// safe_strtoull: strtoull wraps "-5" to 2^64-5; memcached rejects a '-' only when the wrapped
// value is negative as int64, so "-0" is 0 and "-18446744073709551615" is 1 (verified on 1.6.18).
inline bool parseU64(std::string_view tok, uint64_t* out) {
  bool neg = false;
  uint64_t mag = 0;
  if (!scanNumber(tok, &neg, &mag)) return false;
  const uint64_t v = neg ? 0 - mag : mag;
  if (neg && static_cast<int64_t>(v) < 0) return false;
  *out = v;
  return true;
}

// safe_strtoul into a uint32: like parseU64, then silently truncated mod 2^32 (memcached stores
// the unsigned long in a uint32_t; `set a 4294967296 0 1` stores flags 0).
inline bool parseU32(std::string_view tok, uint32_t* out) {
  uint64_t v = 0;
  if (!parseU64(tok, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// strtol on a 64-bit long: the int64 range, else ERANGE.
inline bool parseI64(std::string_view tok, int64_t* out) {
  bool neg = false;
  uint64_t mag = 0;
  if (!scanNumber(tok, &neg, &mag)) return false;
  if (!neg && mag > static_cast<uint64_t>(INT64_MAX)) return false;
  if (neg && mag > static_cast<uint64_t>(INT64_MAX) + 1) return false;
  *out = static_cast<int64_t>(neg ? 0 - mag : mag);
  return true;
}

// safe_strtol into an int32 (exptime): any int64 text, truncated to int32 like 1.6.18 does
// (`4294967296` means 0, i.e. never expires).
inline bool parseExptime(std::string_view tok, int64_t* out) {
  int64_t v = 0;
  if (!parseI64(tok, &v)) return false;
  *out = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
  return true;
}

inline ParseResult okResult(size_t consumed) {
  ParseResult r;
  r.status = ParseStatus::kOk;
  r.consumed = consumed;
  return r;
}

inline ParseResult errorResult(size_t consumed, std::string_view reply, bool suppress = false) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.consumed = consumed;
  r.error_reply = reply;
  r.suppress_reply = suppress;
  return r;
}

inline ParseResult needMoreResult(size_t needed) {
  ParseResult r;
  r.status = ParseStatus::kNeedMore;
  r.needed = needed;
  return r;
}

inline ParseResult closeResult() {
  ParseResult r;
  r.status = ParseStatus::kClose;
  return r;
}

// memcached's item: 48-byte header, key + NUL, value + "\r\n", 8-byte CAS, and 4 bytes of flags
// only when they are non-zero (PROTOCOL.md §5.5). The whole item must fit item_size_max.
inline uint64_t itemOverhead(size_t key_length, uint32_t flags) {
  return 48 + static_cast<uint64_t>(key_length) + 1 + 2 + 8 + (flags != 0 ? 4 : 0);
}

inline bool fitsInItem(uint32_t item_size_max, size_t key_length, uint32_t flags, uint32_t value_length) {
  return itemOverhead(key_length, flags) + value_length <= item_size_max;
}


}  // namespace mcbridge::protocol::internal
