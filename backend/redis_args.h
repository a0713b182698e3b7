// Small pieces the translators (classic, binary, meta) use to spell Redis arguments.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backend/exptime.h"

namespace mcbridge::backend {

// Decimal text of a number, kept alive in a caller's stack buffer until send() has copied it.
struct Decimal {
  char buf[24];
  size_t len = 0;
  explicit Decimal(int64_t v) { len = std::to_chars(buf, buf + sizeof buf, v).ptr - buf; }
  explicit Decimal(uint64_t v) { len = std::to_chars(buf, buf + sizeof buf, v).ptr - buf; }
  std::string_view view() const { return {buf, len}; }
};

// The Redis spelling of a memcache exptime, as the store paths and scripts take it: a mode and
// its value. The mode is "" for no expiry ("PERSIST" with persist_word, for scripts that must
// clear an existing TTL), "EX" relative seconds, "EXAT" a unix time, "DEL" already expired.
struct RedisExpiry {
  ExpiryKind kind = ExpiryKind::kNever;
  std::string_view mode;
  Decimal value{int64_t{0}};
};

inline RedisExpiry redisExpiry(int64_t exptime, int64_t now, bool persist_word = false) {
  const Expiry e = convertExptime(exptime, now);
  RedisExpiry r;
  r.kind = e.kind;
  r.value = Decimal(e.value);
  switch (e.kind) {
    case ExpiryKind::kNever:
      r.mode = persist_word ? "PERSIST" : "";
      break;
    case ExpiryKind::kRelative:
      r.mode = "EX";
      break;
    case ExpiryKind::kAbsolute:
      r.mode = "EXAT";
      break;
    case ExpiryKind::kExpired:
      r.mode = "DEL";
      break;
  }
  return r;
}

}  // namespace mcbridge::backend
