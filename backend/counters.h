// Counters, declared once here and exposed by `stats` (and later the metrics endpoint).
//
// Each worker owns one Counters and is its only writer; `stats` on any worker reads all of them.
// Single-writer relaxed atomics: an increment is a plain load+store (no lock prefix), and a
// reader on another thread sees a slightly old but never torn value.
#pragma once

#include <atomic>
#include <cstdint>

#include "protocol/request.h"

namespace mcbridge::backend {

// X(name): named as memcached's `stats` names them, where memcached has the counter.
#define MCBRIDGE_COUNTERS(X) \
  X(cmd_get)                 \
  X(cmd_set)                 \
  X(cmd_flush)               \
  X(cmd_touch)               \
  X(get_hits)                \
  X(get_misses)              \
  X(get_expired)             \
  X(get_flushed)             \
  X(delete_misses)           \
  X(delete_hits)             \
  X(incr_misses)             \
  X(incr_hits)               \
  X(decr_misses)             \
  X(decr_hits)               \
  X(cas_misses)              \
  X(cas_hits)                \
  X(cas_badval)              \
  X(touch_hits)              \
  X(touch_misses)            \
  X(store_too_large)         \
  X(store_no_memory)         \
  X(bytes_read)              \
  X(bytes_written)           \
  X(total_connections)       \
  X(rejected_connections)    \
  X(backend_error_replies)   \
  X(backend_failures)        \
  X(protocol_errors)         \
  X(auth_cmds)               \
  X(auth_errors)

class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void reset() { v_.store(0, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct Counters {
#define MCBRIDGE_DECLARE_COUNTER(name) Counter name;
  MCBRIDGE_COUNTERS(MCBRIDGE_DECLARE_COUNTER)
#undef MCBRIDGE_DECLARE_COUNTER
  // Per command: requests received, and those answered with SERVER_ERROR (Redis failed).
  Counter requests[protocol::kCommandCount];
  Counter server_errors[protocol::kCommandCount];
  // Gauge, not reset by `stats reset`.
  std::atomic<int64_t> curr_connections{0};
  // Flow control (backend/flow_control.h): requests and multi-get parts held back because a
  // budget was used up, and multi-get parts sent after a first one.
  Counter flow_holds;
  Counter multiget_parts;
  // Gauges (flow control): reply bytes expected from Redis, and buffered for clients.
  std::atomic<int64_t> reply_bytes_expected{0};
  std::atomic<int64_t> reply_bytes_buffered{0};

  void reset() {
#define MCBRIDGE_RESET_COUNTER(name) name.reset();
    MCBRIDGE_COUNTERS(MCBRIDGE_RESET_COUNTER)
#undef MCBRIDGE_RESET_COUNTER
    for (Counter& c : requests) c.reset();
    for (Counter& c : server_errors) c.reset();
    flow_holds.reset();
    multiget_parts.reset();
  }
};

}  // namespace mcbridge::backend
