#include "backend/exptime.h"

namespace mcbridge::backend {

Expiry convertExptime(int64_t exptime, int64_t now) {
  if (exptime == 0) return {ExpiryKind::kNever, 0};
  if (exptime < 0) return {ExpiryKind::kExpired, 0};
  if (exptime <= kMaxRelativeExptime) return {ExpiryKind::kRelative, exptime};
  if (exptime <= now) return {ExpiryKind::kExpired, 0};
  return {ExpiryKind::kAbsolute, exptime};
}

}  // namespace mcbridge::backend
