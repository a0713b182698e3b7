// Merging of small MGETs sent back to back into one MGET (used by RedisConnection).
//
// Typically single-key gets of different clients in one loop turn: Redis spends far less per key
// on one MGET than on one command per key. The merge is invisible: each sender gets its own slice
// of the reply array, and since only consecutive MGETs merge (the connection closes the open run
// before any other command), every command still runs in the order it was sent.
// Under Redis Cluster a connection is one node's, and the router sends it MGETs of one hash slot
// each; a merged MGET may then span several slots of that node, which Redis refuses (CROSSSLOT),
// so a cluster router gives each slot its own run (see router.h) or disables merging.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/redis_connection.h"

namespace mcbridge::backend {

class MgetMerger {
 public:
  using Clock = std::chrono::steady_clock;

  MgetMerger();
  ~MgetMerger();
  MgetMerger(const MgetMerger&) = delete;
  MgetMerger& operator=(const MgetMerger&) = delete;

  // An MGET small enough to merge (a large one already spreads Redis's per-command cost over its
  // keys; merging it would only hold its neighbours' replies back).
  static bool mergeable(std::span<const RedisArg> args);

  bool empty() const { return run_.parts.empty(); }
  // The merge group of the open run (see RedisConnection::send).
  uint32_t group() const { return run_.group; }
  // Adds one sender's keys (the MGET's arguments after "MGET") to the open run; when the run is
  // full, it is first closed into *out / *closed (see close()) and true is returned.
  struct Closed {
    RedisCompletion* completion;
    Clock::time_point queued_at;
    size_t bytes;
  };
  bool add(std::span<const RedisArg> keys, RedisCompletion* completion, uint32_t group,
           std::string* out, Closed* closed);
  // Encodes the open run as one MGET appended to *out; *closed gets its completion (the sender's
  // own, or a fan-out when several merged), the time the run was opened and its bytes. Returns
  // false when no run is open.
  bool close(std::string* out, Closed* closed);

 private:
  struct Part {
    RedisCompletion* completion;
    size_t first;
    size_t count;
  };
  class Fanout;
  struct Run {
    std::string keys;  // RESP bulk strings
    size_t nkeys = 0;
    std::vector<Part> parts;
    Clock::time_point queued_at;
    uint32_t group = 0;
  };

  Run run_;
  std::vector<std::unique_ptr<Fanout>> fanouts_;  // every fan-out ever made
  std::vector<Fanout*> free_fanouts_;
};

}  // namespace mcbridge::backend
