// Redis Cluster topology: parsing CLUSTER SLOTS and redirect errors, and the slot table a
// cluster router looks up per command. No I/O; node identities are the router's small ints.
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/hash_slot.h"

namespace mcbridge::backend {

// One view of the cluster, as CLUSTER SLOTS gave it. Addresses are "host:port".
struct ClusterTopology {
  struct Shard {
    std::string primary;
    std::vector<std::string> replicas;
  };
  std::vector<Shard> shards;
  std::array<int16_t, kSlotCount> shard_of;  // index into shards, -1 when no node serves it
};

// Parses a CLUSTER SLOTS reply. A node listed with an empty or "?" host is the node that was
// asked (`asked_host`). False and *error when the reply is not a slot list.
bool parseClusterSlots(const redisReply* reply, std::string_view asked_host, ClusterTopology* out,
                       std::string* error);

// "MOVED <slot> <host>:<port>" / "ASK <slot> <host>:<port>".
struct Redirect {
  bool ask = false;
  uint16_t slot = 0;
  std::string address;
};
bool parseRedirect(std::string_view error, Redirect* out);

// Splits "host:port" (the port after the last colon; "[v6]:port" brackets removed).
bool splitAddress(std::string_view address, std::string* host, uint16_t* port);

// Who serves each slot. Node ids are assigned by the caller (kNone: nobody). A full view
// replaces the table except slots fixed (by a MOVED) after the view was asked for: an older view
// never undoes a newer per-slot fix.
class SlotTable {
 public:
  static constexpr int kNone = -1;

  SlotTable();
  // `primary_ids[s]` / `replica_ids[s]`: the ids of view.shards[s]'s nodes. `asked_at` is the
  // epoch at which the view was requested.
  void install(const ClusterTopology& view, const std::vector<int>& primary_ids,
               const std::vector<std::vector<int>>& replica_ids, uint64_t asked_at);
  // A MOVED: `slot` is served by `node` from now on (its replicas unknown until the next view).
  void fix(uint16_t slot, int node, uint64_t epoch);

  int primary(uint16_t slot) const { return primary_[slot]; }
  // Replicas of the slot's shard (empty when unknown).
  const std::vector<int>& replicas(uint16_t slot) const;
  // Every slot has a primary.
  bool complete() const;
  // Distinct primaries, in slot order.
  std::vector<int> primaries() const;

 private:
  std::array<int32_t, kSlotCount> primary_;
  std::array<int32_t, kSlotCount> shard_;  // index into replicas_, -1 when unknown
  std::array<uint64_t, kSlotCount> fixed_at_;
  std::vector<std::vector<int>> replicas_;
};

}  // namespace mcbridge::backend
