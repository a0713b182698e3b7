// Flow control end to end (DESIGN.md, issue 12): a client's Redis work is started only as fast
// as the client takes its replies, and what is outstanding at Redis stays bounded.
//
// Budgets are counted in reply bytes and checked before work is issued:
//   - per client connection: bytes buffered for it (output not yet taken by its socket, replies
//     waiting for their turn) plus the bytes expected from its commands at Redis;
//   - per worker (a share of the process-wide budget): the same, summed over its clients;
//   - per worker's Redis connection(s): expected bytes of bulk commands (expected to bring
//     kBulkReply or more) at Redis, which is what Redis holds in its output buffer for mcbridge
//     and what a small request can find ahead of it in the pipeline. Bulk commands are never
//     merged with other clients' gets (Route::bulk).
// A multi-get goes to Redis in parts of at most part_keys keys and about part_bytes expected
// bytes; the next part leaves when the previous one has been answered and the client is under
// its budget.
//
// Value sizes are not known before Redis answers, so expected bytes come from an estimate of
// the bytes per key, learned from each client's own replies (its values predict its next ones
// better than the mix of every client): it follows an increase at once (the next part is sized
// by what the last reply brought) and a decrease as fast as the evidence allows (a part of 8
// keys or more at once, a single value by 1/8). A new client starts from initialBytesPerKey(),
// so its first multi-get part is small whatever others read.
//
// One FlowControl per worker, used on its loop thread only; the gauges it maintains in
// Counters are read by `stats`/metrics on other threads.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/counters.h"

namespace mcbridge::backend {

// Commands expected to bring at least this much are bulk.
inline constexpr uint64_t kBulkReply = 64 * 1024;

struct FlowOptions {
  uint64_t client_budget = uint64_t{4} << 20;
  uint64_t worker_budget = uint64_t{128} << 20;  // the process budget divided among workers
  uint64_t redis_budget = uint64_t{2} << 20;
  uint32_t part_keys = 100;
  uint64_t part_bytes = uint64_t{1} << 20;
  uint32_t item_size_max = 1024 * 1024;
};

// Bytes per retrieved key: the value plus its VALUE line (key, flags, length, CAS).
class SizeEstimate {
 public:
  explicit SizeEstimate(uint64_t initial) : bytes_per_key_(initial) {}
  uint64_t bytesPerKey() const { return bytes_per_key_; }
  // A reply to `keys` keys brought `bytes`: an increase is taken at once, a decrease by
  // min(keys, 8)/8 of the difference.
  void observe(uint32_t keys, uint64_t bytes);

 private:
  uint64_t bytes_per_key_;
};

class FlowControl {
 public:
  enum class Verdict : uint8_t {
    kGo,
    kHoldClient,  // over the client's own budget: goes on when the client has read
    kHoldWorker,  // over a worker budget: goes on when Redis has answered or others have read
  };

  FlowControl(const FlowOptions& options, Counters* counters);

  const FlowOptions& options() const { return options_; }
  // The estimate of a client that has had no reply yet, for a request of `keys` keys: its
  // multi-gets' first parts are sized for large values (a quarter of the item size limit a
  // key); single-key requests count a 32nd of the client budget, so that a pipeline of small
  // gets on a new connection is not sent one at a time (32 go before the first reply).
  uint64_t initialBytesPerKey(uint32_t keys) const {
    return keys > 1 ? initial_bytes_per_key_ : initial_single_bytes_;
  }

  // Keys of the next part of a retrieval with `keys_left` keys still to send.
  uint32_t partKeys(uint32_t keys_left, uint64_t bytes_per_key) const;
  static uint64_t expectedBytes(uint32_t keys, uint64_t bytes_per_key) {
    return uint64_t{keys} * bytes_per_key;
  }

  // May a command expecting `expected` reply bytes start for a client whose buffered +
  // outstanding bytes are `client_footprint`? A client with nothing pending may always start
  // one (nobody else's slowness can stop it) unless it is bulk and Redis already has its budget
  // of bulk work from this worker (that is answered within a round trip, whatever clients do).
  Verdict admit(uint64_t client_footprint, uint64_t expected, bool is_bulk) const;
  static bool bulk(uint64_t expected) { return expected >= kBulkReply; }

  // Accounting, in bytes: expected at Redis, and buffered in client connections.
  void addOutstanding(int64_t delta, bool bulk);
  void addBuffered(int64_t delta);
  uint64_t outstanding() const { return outstanding_; }
  uint64_t buffered() const { return buffered_; }
  // True once after room was freed (a reply or a write): clients held by the worker may retry.
  bool takeFreed() {
    const bool f = freed_;
    freed_ = false;
    return f;
  }

 private:
  void publish();

  FlowOptions options_;
  Counters* counters_;
  uint64_t initial_bytes_per_key_;
  uint64_t initial_single_bytes_;
  uint64_t outstanding_ = 0;       // expected reply bytes of every command at Redis
  uint64_t bulk_outstanding_ = 0;  // of those, bulk commands (the Redis budget)
  uint64_t buffered_ = 0;
  bool freed_ = false;
};

}  // namespace mcbridge::backend
