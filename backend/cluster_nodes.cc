// ClusterRouter's per-node links: one per node address (created and started on first use,
// retired when the node leaves the map), sending to them (ASKING pairs, per-slot MGET merging),
// whole-keyspace commands on every primary (flush_all), readiness, and the per-node figures for
// stats and /metrics.
#include <algorithm>
#include <mutex>
#include <utility>

#include "backend/cluster_request.h"

namespace mcbridge::backend {
namespace {

// The reply of ASKING is not anyone's business.
struct IgnoreReply final : RedisCompletion {
  void onRedisReply(const redisReply*) override {}
  void onRedisFailure(RedisFailure) override {}
};
IgnoreReply ignore_reply;

}  // namespace

size_t ClusterRouter::liveNodes() const {
  size_t n = 0;
  for (const auto& node : nodes_) n += node->retired ? 0 : 1;
  return n;
}

int ClusterRouter::nodeId(const std::string& address) {
  auto it = node_ids_.find(address);
  if (it != node_ids_.end()) {
    Node& n = *nodes_[static_cast<size_t>(it->second)];
    if (n.retired) {
      std::unique_ptr<NodeLink> link = make_link_(address);
      {
        std::lock_guard<std::mutex> lock(nodes_mu_);
        n.link = std::move(link);
        n.retired = false;
      }
      if (started_) n.link->start();
    }
    return it->second;
  }
  auto node = std::make_unique<Node>();
  node->address = address;
  node->link = make_link_(address);
  NodeLink* link = node->link.get();
  const int id = static_cast<int>(nodes_.size());
  {
    std::lock_guard<std::mutex> lock(nodes_mu_);
    nodes_.push_back(std::move(node));
  }
  node_ids_.emplace(address, id);
  if (started_ && !stopping_) link->start();
  return id;
}

void ClusterRouter::sendTo(Request* r, int node, bool asking) {
  NodeLink* link = nodes_[static_cast<size_t>(node)]->link.get();
  r->outstanding = true;
  r->node = node;
  static constexpr RedisArg kAsking[] = {{"ASKING"}};
  if (r->route.bulk) {
    // A large reply expected (flow control): the node's bulk connection, where other
    // commands' replies do not queue behind it. ASKING goes right before it, on the same one.
    if (asking) link->sendBulk(kAsking, &ignore_reply);
    link->sendBulk(r->args, r);
    return;
  }
  if (asking) {
    // ASKING applies to the next command of the connection: the two go out back to back, and
    // the command does not merge with anything.
    link->send(kAsking, &ignore_reply, RedisConnection::kNoMerge);
    link->send(r->args, r, RedisConnection::kNoMerge);
    return;
  }
  // MGETs merge per slot on the node's connection (a merged MGET must stay in one slot); in
  // standalone mode all of them may merge. One retried after TRYAGAIN or split per key for it
  // never merges (merged again, the MGET could span both nodes of a migrating slot again).
  uint32_t group = RedisConnection::kNoMerge;
  if (r->no_merge || r->retries > 0) {
    group = RedisConnection::kNoMerge;
  } else if (mode_ == Mode::kStandalone) {
    group = 0;
  } else if (r->slotted && r->route.kind != Route::Kind::kAnyNode) {
    group = r->slot;
  }
  link->send(r->args, r, group);
}

void ClusterRouter::runPendingFlushes() {
  auto pending = std::move(pending_flushes_);
  pending_flushes_.clear();
  for (auto& fn : pending) forEachPrimary(std::move(fn));
}

void ClusterRouter::forEachPrimary(std::function<void(const std::vector<std::string>&)> fn) {
  if (mode_ == Mode::kDetecting) {
    pending_flushes_.push_back(std::move(fn));
    return;
  }
  std::vector<std::string> addresses;
  if (mode_ == Mode::kStandalone) {
    addresses.push_back(options_.seed);
  } else {
    for (int p : primaries_) addresses.push_back(nodes_[static_cast<size_t>(p)]->address);
  }
  fn(addresses);
}

void ClusterRouter::sendToNode(const std::string& address, std::span<const RedisArg> args,
                               RedisCompletion* completion) {
  const int node = mode_ == Mode::kStandalone || stopping_ ? seed_ : nodeId(address);
  nodes_[static_cast<size_t>(node)]->link->send(args, completion, RedisConnection::kNoMerge);
}

void ClusterRouter::suspect(int node, RedisFailure failure) {
  if (failure != RedisFailure::kTimeout && failure != RedisFailure::kDisconnected) return;
  nodes_[static_cast<size_t>(node)]->suspect_until = Clock::now() + options_.request_timeout;
}

bool ClusterRouter::skipped(const Request* r, int node) const {
  return r->route.partial && Clock::now() < nodes_[static_cast<size_t>(node)]->suspect_until;
}

void ClusterRouter::updateReady() {
  bool ready = false;
  if (mode_ == Mode::kStandalone) {
    ready = nodes_[static_cast<size_t>(seed_)]->link->connected();
  } else if (mode_ == Mode::kCluster && table_.complete()) {
    ready = true;
    for (int p : primaries_) {
      const Node& n = *nodes_[static_cast<size_t>(p)];
      if (n.retired || !n.link->connected()) ready = false;
    }
  }
  ready_.store(ready, std::memory_order_relaxed);
}

void ClusterRouter::collectCounters(RedisCounters* totals) const {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  for (const auto& n : nodes_) {
    if (!n->link) continue;
    addCounters(n->link->counters(), totals);
    if (const RedisCounters* bulk = n->link->bulkCounters()) addCounters(*bulk, totals);
  }
}

void ClusterRouter::collectCluster(ClusterStats* out) const {
  // mode_ and primaries_ belong to the loop thread; the map time and counters are atomic.
  const int64_t installed = map_installed_ms_.load(std::memory_order_relaxed);
  if (installed == 0) return;
  out->cluster = true;
  out->moved += moved_.get();
  out->ask += ask_.get();
  out->tryagain += tryagain_.get();
  out->clusterdown += clusterdown_.get();
  out->refreshes += refreshes_.get();
  out->refresh_errors += refresh_errors_.get();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  out->slot_map_age_s = std::max(out->slot_map_age_s, static_cast<double>(now - installed) / 1e3);
  std::lock_guard<std::mutex> lock(nodes_mu_);
  for (const auto& n : nodes_) {
    if (!n->link) continue;
    ClusterStats::Node* s = nullptr;
    for (auto& existing : out->nodes) {
      if (existing.address == n->address) s = &existing;
    }
    if (s == nullptr) {
      out->nodes.push_back({});
      s = &out->nodes.back();
      s->address = n->address;
    }
    const RedisCounters& c = n->link->counters();
    s->primary = s->primary || n->primary.load(std::memory_order_relaxed);
    s->links += 1;
    s->connected += c.ready.load(std::memory_order_relaxed) ? 1 : 0;
    for (const RedisCounters* k : {&c, n->link->bulkCounters()}) {
      if (k == nullptr) continue;
      s->commands += k->commands.get();
      s->errors += k->errors.get();
      s->latency_us_sum += k->latency_us_sum.get();
      s->latency_count += k->latency_count.get();
    }
  }
}

}  // namespace mcbridge::backend
