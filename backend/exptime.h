// memcached's exptime rules (PROTOCOL.md §4) mapped to what Redis needs.
#pragma once

#include <cstdint>

namespace mcbridge::backend {

inline constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;  // 30 days

enum class ExpiryKind : uint8_t {
  kNever,     // exptime 0: no TTL
  kRelative,  // seconds from now (1..30 days)
  kAbsolute,  // a unix time in the future
  kExpired,   // negative, or an absolute time not after now: the item is gone at once
};

struct Expiry {
  ExpiryKind kind = ExpiryKind::kNever;
  int64_t value = 0;  // seconds (relative) or unix time (absolute)
};

// `exptime` is memcached's int32 value as parsed; `now` the current unix time in seconds.
Expiry convertExptime(int64_t exptime, int64_t now);

}  // namespace mcbridge::backend
