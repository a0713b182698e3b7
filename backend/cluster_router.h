// Redis Cluster routing (DESIGN.md "backend/"; README "Memorystore for Redis Cluster / Valkey").
//
// One ClusterRouter per worker. It learns the slot map with CLUSTER SLOTS from the configured
// node (any node of the cluster, or Memorystore's discovery endpoint), keeps one NodeLink (a
// pipelined RedisConnection) per node, and sends each command to the primary that owns its key's
// slot (or to a replica for reads under --read-from replica).
//
// Redirects and transient cluster errors never reach the translator: MOVED patches the slot at
// once, re-sends the command to the new owner and asks for a full refresh; ASK sends ASKING +
// the command to the target without touching the map; TRYAGAIN and CLUSTERDOWN are retried with
// a short backoff inside the request's deadline. A command that may have run (its connection
// dropped, or timed out) is never re-sent, except reads.
//
// In auto mode the first CLUSTER SLOTS also detects the mode: a standalone Redis refuses it, and
// from then on every command goes to the one connection as it is (merged MGETs included), at the
// speed of StandaloneRouter. Commands sent before the answer wait for it.
//
// Multi-key commands (Route::kKeys) are split per slot, the parts sent in the same loop turn and
// their replies joined in key order. MGETs of one slot still merge on their node's connection.
// A multi-key command answered TRYAGAIN (its slot is migrating and its keys are split between
// the two nodes, or missing on the target: Redis says so until the migration ends) is split
// again, one command per key, which the nodes serve at once (ASK for the moved keys). Commands
// retried or split that way never merge (a merged MGET could span both nodes again).
//
// --miss-on-error (Route::partial): a multi-get part that fails answers its keys as error
// elements (misses to the client) and the other parts' values are kept. After a command to a
// node timed out or lost its connection, partial commands for that node fail at once for one
// request timeout, unless the node answers something meanwhile: a multi-get sent in several
// parts (flow control) waits for a dead node once, not once per part, as a memcached client
// marks a dead server and skips it for a while.
//
// Topology refreshes: after a MOVED, after a failure on a node, every refresh_interval while
// healthy and every refresh_min_interval while some slot has no reachable primary; one at a
// time, never more often than refresh_min_interval (plus jitter: a fleet of sidecars does not
// ask in step). An older view never undoes a newer MOVED fix (SlotTable). Nodes that leave the
// map are disconnected; new nodes are connected on first use.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/node_link.h"
#include "backend/router.h"
#include "backend/slot_map.h"

namespace mcbridge::backend {

struct ClusterRouterOptions {
  enum class Mode : uint8_t { kAuto, kCluster, kStandalone };
  Mode mode = Mode::kAuto;
  std::string seed;  // "host:port" of the configured endpoint
  // Standalone mode: "host:port" of a read replica endpoint (Memorystore's read endpoint) that
  // serves reads under read_from_replica; empty: none.
  std::string read_endpoint;
  bool read_from_replica = false;
  std::chrono::milliseconds request_timeout{1000};
  std::chrono::milliseconds refresh_interval{10000};
  std::chrono::milliseconds refresh_min_interval{250};
  std::chrono::milliseconds tick{10};  // retry backoff and deadline granularity
};

class ClusterRouter final : public Router {
 public:
  ClusterRouter(uv_loop_t* loop, ClusterRouterOptions options, NodeLinkFactory links);
  ~ClusterRouter() override;

  void send(const Route& route, std::span<const RedisArg> args,
            RedisCompletion* completion) override;
  using CommandSink::send;
  void start() override;
  void stop(std::function<void()> done) override;
  bool ready() const override {
    return standalone_.load(std::memory_order_relaxed)
               ? seed_counters_->ready.load(std::memory_order_relaxed)
               : ready_.load(std::memory_order_relaxed);
  }
  void collectCounters(RedisCounters* totals) const override;
  void collectCluster(ClusterStats* out) const override;
  void forEachPrimary(std::function<void(const std::vector<std::string>&)> fn) override;
  void sendToNode(const std::string& address, std::span<const RedisArg> args,
                  RedisCompletion* completion) override;
  bool clustered() const override { return mode_ == Mode::kCluster; }

  enum class Mode : uint8_t { kDetecting, kStandalone, kCluster };
  Mode mode() const { return mode_; }
  // Tests.
  const SlotTable& slots() const { return table_; }
  const std::string& nodeAddress(int id) const { return nodes_[static_cast<size_t>(id)]->address; }
  size_t liveNodes() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Node {
    std::string address;
    std::unique_ptr<NodeLink> link;  // null once retired
    bool retired = false;
    std::atomic<bool> primary{false};
    // A command to it timed out or lost its connection, and it has answered nothing since:
    // Route::partial commands for it fail at once until then (loop thread only).
    Clock::time_point suspect_until{};
  };
  class Request;
  class Multi;
  struct RefreshCompletion final : RedisCompletion {
    ClusterRouter* router = nullptr;
    int node = -1;
    void onRedisReply(const redisReply* reply) override;
    void onRedisFailure(RedisFailure failure) override;
  };

  int nodeId(const std::string& address);  // creates and starts the link on first use
  Request* newRequest(const Route& route, std::span<const RedisArg> args, uint16_t slot,
                      Clock::time_point deadline);
  // Who a split command's joined reply goes to: the sender's completion, or a part of a parent
  // split (a part split again per key).
  struct SplitTarget {
    RedisCompletion* completion = nullptr;
    Multi* parent = nullptr;
    size_t part = 0;
  };
  // Sends a multi-key command as one part per slot, or with `per_key` one part per key.
  void sendSplit(const Route& route, std::span<const RedisArg> args, SplitTarget to,
                 Clock::time_point deadline, bool per_key);
  void dispatch(Request* r);
  void sendTo(Request* r, int node, bool asking);
  void hold(Request* r, Clock::time_point until);
  void release(Request* r);
  void watch(Request* r);
  void onMoved(uint16_t slot, const std::string& address);
  void suspect(int node, RedisFailure failure);
  // A Route::partial command is not sent to a suspect node (see above).
  bool skipped(const Request* r, int node) const;
  void nodeTrouble();
  void requestRefresh();
  void maybeRefresh(Clock::time_point now);
  void onRefresh(int node, const redisReply* reply);
  void onRefreshFailed();
  void install(const ClusterTopology& view);
  void becomeStandalone();
  void runPendingFlushes();
  void updateReady();
  static void onTick(uv_timer_t* t);
  void tick();
  void finishStop();

  uv_loop_t* loop_;
  ClusterRouterOptions options_;
  NodeLinkFactory make_link_;
  Mode mode_ = Mode::kDetecting;
  std::vector<std::unique_ptr<Node>> nodes_;  // index = node id; retired nodes keep their slot
  std::unordered_map<std::string, int> node_ids_;
  mutable std::mutex nodes_mu_;  // nodes_ changes vs. readers on other threads (stats)
  int seed_ = -1;
  int read_node_ = -1;  // the read endpoint's link in standalone mode, or -1
  SlotTable table_;
  std::vector<int> primaries_;  // distinct primaries of the map
  uint64_t epoch_ = 0;
  uint64_t refresh_asked_at_ = 0;
  bool refresh_in_flight_ = false;
  bool refresh_wanted_ = true;
  Clock::time_point next_refresh_allowed_{};
  Clock::time_point next_periodic_{};
  Clock::time_point map_installed_at_{};
  bool have_map_ = false;
  RefreshCompletion refresh_;
  std::minstd_rand rng_;
  size_t replica_rr_ = 0;

  std::vector<Request*> watched_;  // held, backing off, or re-sent: deadlines enforced here
  std::vector<Request*> free_requests_;
  std::vector<std::function<void(const std::vector<std::string>&)>> pending_flushes_;

  uv_timer_t timer_{};
  bool started_ = false;
  bool stopping_ = false;
  int stops_pending_ = 0;
  std::function<void()> done_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> standalone_{false};
  const RedisCounters* seed_counters_ = nullptr;
  std::atomic<int64_t> map_installed_ms_{0};  // steady clock, for the slot map age

  Counter moved_;
  Counter ask_;
  Counter tryagain_;
  Counter clusterdown_;
  Counter refreshes_;
  Counter refresh_errors_;
};

}  // namespace mcbridge::backend
