// ClusterRouter's slot map: MOVED fixes, refresh scheduling (one CLUSTER SLOTS at a time, at
// most every refresh_min_interval plus jitter, every refresh_interval while healthy), installing
// a view (nodes that left are disconnected, held commands go) and the switch to standalone mode
// when the configured node is not a cluster node.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "backend/cluster_request.h"
#include "backend/log.h"

namespace mcbridge::backend {

void ClusterRouter::onMoved(uint16_t slot, const std::string& address) {
  const int node = nodeId(address);
  table_.fix(slot, node, ++epoch_);
  if (std::find(primaries_.begin(), primaries_.end(), node) == primaries_.end()) {
    primaries_.push_back(node);
  }
  requestRefresh();
}

void ClusterRouter::nodeTrouble() { requestRefresh(); }

void ClusterRouter::requestRefresh() {
  if (mode_ == Mode::kStandalone) return;
  refresh_wanted_ = true;
  maybeRefresh(Clock::now());
}

void ClusterRouter::maybeRefresh(Clock::time_point now) {
  if (stopping_ || !started_ || refresh_in_flight_ || mode_ == Mode::kStandalone) return;
  if (now >= next_periodic_) refresh_wanted_ = true;
  if (!refresh_wanted_ || now < next_refresh_allowed_) return;
  // Ask the configured node if it answers, else any connected node.
  int node = seed_;
  if (!nodes_[static_cast<size_t>(seed_)]->link->connected()) {
    for (int p : primaries_) {
      if (!nodes_[static_cast<size_t>(p)]->retired &&
          nodes_[static_cast<size_t>(p)]->link->connected()) {
        node = p;
        break;
      }
    }
  }
  refresh_wanted_ = false;
  refresh_in_flight_ = true;
  refresh_asked_at_ = ++epoch_;
  refresh_.node = node;
  const auto min = options_.refresh_min_interval;
  auto jitter = [&](std::chrono::milliseconds range) {
    return std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, range.count()))(rng_));
  };
  next_refresh_allowed_ = now + min + jitter(min / 2);
  const auto interval = options_.refresh_interval;
  next_periodic_ = now + interval * 4 / 5 + jitter(interval * 2 / 5);
  static constexpr RedisArg kClusterSlots[] = {{"CLUSTER"}, {"SLOTS"}};
  nodes_[static_cast<size_t>(node)]->link->send(kClusterSlots, &refresh_,
                                                RedisConnection::kNoMerge);
}

void ClusterRouter::RefreshCompletion::onRedisReply(const redisReply* reply) {
  router->onRefresh(node, reply);
}

void ClusterRouter::RefreshCompletion::onRedisFailure(RedisFailure) { router->onRefreshFailed(); }

void ClusterRouter::onRefreshFailed() {
  refresh_in_flight_ = false;
  if (stopping_) return;
  refresh_errors_.add();
  refresh_wanted_ = true;
}

void ClusterRouter::onRefresh(int node, const redisReply* reply) {
  refresh_in_flight_ = false;
  if (stopping_) return;
  if (mode_ == Mode::kDetecting && options_.mode == ClusterRouterOptions::Mode::kAuto &&
      reply->type == REDIS_REPLY_ERROR &&
      std::string_view(reply->str, reply->len).find("cluster support disabled") !=
          std::string_view::npos) {
    becomeStandalone();
    return;
  }
  std::string host;
  uint16_t port = 0;
  splitAddress(nodes_[static_cast<size_t>(node)]->address, &host, &port);
  ClusterTopology view;
  std::string error;
  if (!parseClusterSlots(reply, host, &view, &error) || view.shards.empty()) {
    refresh_errors_.add();
    refresh_wanted_ = true;
    namedLogger("redis")->warn("cluster: CLUSTER SLOTS from {} failed: {}",
                               nodes_[static_cast<size_t>(node)]->address,
                               error.empty() ? "no slots assigned" : error);
    return;
  }
  install(view);
}

void ClusterRouter::install(const ClusterTopology& view) {
  std::vector<int> primary_ids;
  std::vector<std::vector<int>> replica_ids;
  for (const ClusterTopology::Shard& shard : view.shards) {
    primary_ids.push_back(nodeId(shard.primary));
    std::vector<int> replicas;
    if (options_.read_from_replica) {
      for (const std::string& a : shard.replicas) replicas.push_back(nodeId(a));
    }
    replica_ids.push_back(std::move(replicas));
  }
  table_.install(view, primary_ids, replica_ids, refresh_asked_at_);
  primaries_ = table_.primaries();
  if (mode_ == Mode::kDetecting) {
    namedLogger("redis")->info("cluster mode: {} primaries (seed {})", primaries_.size(),
                               options_.seed);
  }
  mode_ = Mode::kCluster;
  have_map_ = true;
  refreshes_.add();
  map_installed_ms_.store(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count(),
      std::memory_order_relaxed);
  // Disconnect nodes that left the map (the seed stays: it answers the next refresh).
  std::vector<bool> used(nodes_.size(), false);
  used[static_cast<size_t>(seed_)] = true;
  if (read_node_ >= 0) used[static_cast<size_t>(read_node_)] = true;
  for (int p : primaries_) used[static_cast<size_t>(p)] = true;
  for (const auto& r : replica_ids) {
    for (int id : r) used[static_cast<size_t>(id)] = true;
  }
  for (size_t id = 0; id < nodes_.size(); ++id) {
    Node& n = *nodes_[id];
    if (used[id] || n.retired) continue;
    namedLogger("redis")->info("cluster: {} left the slot map, disconnecting", n.address);
    std::unique_ptr<NodeLink> link;
    {
      std::lock_guard<std::mutex> lock(nodes_mu_);
      link = std::move(n.link);
      n.retired = true;
      n.link = nullptr;
    }
    NodeLink* raw = link.release();
    ++stops_pending_;
    raw->stop([this, raw] {
      delete raw;
      --stops_pending_;
      if (stopping_) finishStop();
    });
  }
  for (size_t id = 0; id < nodes_.size(); ++id) {
    nodes_[id]->primary.store(
        std::find(primaries_.begin(), primaries_.end(), static_cast<int>(id)) != primaries_.end(),
        std::memory_order_relaxed);
  }
  updateReady();
  // Commands held for the mode or for an unknown slot owner go now.
  for (size_t i = 0; i < watched_.size(); ++i) {
    Request* r = watched_[i];
    if (r->waiting && !r->done && r->wake_at == Clock::time_point::max()) {
      r->waiting = false;
      dispatch(r);
    }
  }
  runPendingFlushes();
}

void ClusterRouter::becomeStandalone() {
  mode_ = Mode::kStandalone;
  standalone_.store(true, std::memory_order_relaxed);
  namedLogger("redis")->info("standalone mode ({} is not a cluster node)", options_.seed);
  for (size_t i = 0; i < watched_.size(); ++i) {
    Request* r = watched_[i];
    if (r->waiting && !r->done) {
      r->waiting = false;
      dispatch(r);
    }
  }
  runPendingFlushes();
  updateReady();
}

}  // namespace mcbridge::backend
