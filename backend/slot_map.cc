#include "backend/slot_map.h"

#include <charconv>

namespace mcbridge::backend {
namespace {

bool toNumber(std::string_view s, uint64_t* v) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

// [host, port, id, ...] -> "host:port"
bool nodeAddress(const redisReply* node, std::string_view asked_host, std::string* out) {
  if (node->type != REDIS_REPLY_ARRAY || node->elements < 2) return false;
  const redisReply* host = node->element[0];
  const redisReply* port = node->element[1];
  if (host->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_INTEGER) return false;
  std::string_view h(host->str, host->len);
  if (h.empty() || h == "?") h = asked_host;
  const bool v6 = h.find(':') != std::string_view::npos;
  // Appended piece by piece: gcc 12 -O2 reports a false -Wrestrict on the chained operator+.
  out->clear();
  if (v6) out->push_back('[');
  out->append(h);
  out->append(v6 ? "]:" : ":");
  out->append(std::to_string(port->integer));
  return true;
}

}  // namespace

bool parseClusterSlots(const redisReply* reply, std::string_view asked_host, ClusterTopology* out,
                       std::string* error) {
  if (reply->type != REDIS_REPLY_ARRAY) {
    *error = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                              : "CLUSTER SLOTS: not an array";
    return false;
  }
  ClusterTopology t;
  t.shard_of.fill(-1);
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
        range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER) {
      *error = "CLUSTER SLOTS: malformed slot range";
      return false;
    }
    const long long first = range->element[0]->integer;
    const long long last = range->element[1]->integer;
    if (first < 0 || last >= kSlotCount || first > last) {
      *error = "CLUSTER SLOTS: slot out of range";
      return false;
    }
    ClusterTopology::Shard shard;
    if (!nodeAddress(range->element[2], asked_host, &shard.primary)) {
      *error = "CLUSTER SLOTS: malformed node";
      return false;
    }
    for (size_t r = 3; r < range->elements; ++r) {
      std::string a;
      if (!nodeAddress(range->element[r], asked_host, &a)) {
        *error = "CLUSTER SLOTS: malformed node";
        return false;
      }
      shard.replicas.push_back(std::move(a));
    }
    // Ranges of one shard share their nodes: one Shard for all of them.
    int16_t index = -1;
    for (size_t s = 0; s < t.shards.size(); ++s) {
      if (t.shards[s].primary == shard.primary) index = static_cast<int16_t>(s);
    }
    if (index < 0) {
      index = static_cast<int16_t>(t.shards.size());
      t.shards.push_back(std::move(shard));
    }
    for (long long s = first; s <= last; ++s) t.shard_of[static_cast<size_t>(s)] = index;
  }
  *out = std::move(t);
  return true;
}

bool parseRedirect(std::string_view error, Redirect* out) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return false;
  }
  const size_t space = error.find(' ');
  if (space == std::string_view::npos) return false;
  uint64_t slot = 0;
  if (!toNumber(error.substr(0, space), &slot) || slot >= kSlotCount) return false;
  r.slot = static_cast<uint16_t>(slot);
  std::string_view address = error.substr(space + 1);
  std::string host;
  uint16_t port = 0;
  if (!splitAddress(address, &host, &port) || host.empty()) return false;
  r.address = std::string(address);
  *out = std::move(r);
  return true;
}

bool splitAddress(std::string_view address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  uint64_t p = 0;
  if (!toNumber(address.substr(colon + 1), &p) || p == 0 || p > 65535) return false;
  std::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  host->assign(h);
  *port = static_cast<uint16_t>(p);
  return true;
}

SlotTable::SlotTable() {
  primary_.fill(kNone);
  shard_.fill(-1);
  fixed_at_.fill(0);
}

void SlotTable::install(const ClusterTopology& view, const std::vector<int>& primary_ids,
                        const std::vector<std::vector<int>>& replica_ids, uint64_t asked_at) {
  replicas_ = replica_ids;
  for (size_t s = 0; s < kSlotCount; ++s) {
    if (fixed_at_[s] > asked_at) {
      shard_[s] = -1;  // its replicas are not known anymore
      continue;
    }
    const int16_t shard = view.shard_of[s];
    primary_[s] = shard < 0 ? kNone : primary_ids[static_cast<size_t>(shard)];
    shard_[s] = shard;
  }
}

void SlotTable::fix(uint16_t slot, int node, uint64_t epoch) {
  primary_[slot] = node;
  shard_[slot] = -1;
  fixed_at_[slot] = epoch;
}

const std::vector<int>& SlotTable::replicas(uint16_t slot) const {
  static const std::vector<int> kNoReplicas;
  const int32_t shard = shard_[slot];
  return shard < 0 ? kNoReplicas : replicas_[static_cast<size_t>(shard)];
}

bool SlotTable::complete() const {
  for (int32_t p : primary_) {
    if (p == kNone) return false;
  }
  return true;
}

std::vector<int> SlotTable::primaries() const {
  std::vector<int> out;
  for (int32_t p : primary_) {
    if (p == kNone) continue;
    bool seen = false;
    for (int q : out) seen = seen || q == p;
    if (!seen) out.push_back(p);
  }
  return out;
}

}  // namespace mcbridge::backend
