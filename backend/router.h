// Routing: the layer between the translator (which names each command's key, see Route in
// command_sink.h) and the Redis connections (DESIGN.md "backend/"). A worker owns one Router.
//
//   translator --Route + args--> Router --args--> RedisConnection (one per node) --> RedisTransport
//
// StandaloneRouter: one node; every command goes to its connection unchanged (merged MGETs
// included), but those expecting a large reply (Route::bulk) go to a second one. A cluster router
// picks the connection of the key's slot owner, handles redirects and splits multi-key commands per
// slot; none of that reaches the translator or the client.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/command_sink.h"
#include "backend/node_link.h"
#include "backend/redis_connection.h"

namespace mcbridge::backend {

// Cluster routing figures (all workers summed), for stats and /metrics.
struct ClusterStats {
  bool cluster = false;  // the router runs in cluster mode
  uint64_t moved = 0;
  uint64_t ask = 0;
  uint64_t tryagain = 0;
  uint64_t clusterdown = 0;
  uint64_t refreshes = 0;       // slot maps installed
  uint64_t refresh_errors = 0;  // CLUSTER SLOTS that failed
  double slot_map_age_s = 0;    // the oldest worker's map
  struct Node {
    std::string address;
    bool primary = false;
    uint64_t links = 0;      // one per worker
    uint64_t connected = 0;  // of them
    uint64_t commands = 0;
    uint64_t errors = 0;
    uint64_t latency_us_sum = 0;
    uint64_t latency_count = 0;
  };
  std::vector<Node> nodes;
};

class Router : public CommandSink {
 public:
  virtual ~Router() = default;

  // Connects (and keeps reconnecting); commands sent before start() wait for it.
  virtual void start() = 0;
  // Stops every connection (queued commands complete with kShutdown), then calls `done` on the
  // loop. The router may be destroyed after `done`.
  virtual void stop(std::function<void()> done) = 0;

  // Thread-safe: every key has a connected node (for /readyz).
  virtual bool ready() const = 0;
  // Thread-safe: adds every connection's counters to *totals (stats, metrics).
  virtual void collectCounters(RedisCounters* totals) const = 0;
  // Thread-safe: adds the cluster figures to *out (nothing in standalone mode).
  virtual void collectCluster(ClusterStats* /*out*/) const {}

  // Whole-keyspace commands (flush_all): calls `fn` with the address of every primary, once
  // known (one empty address for the single node of standalone mode)...
  virtual void forEachPrimary(std::function<void(const std::vector<std::string>&)> fn) = 0;
  // ...to which commands go with sendToNode, as they are (no redirects followed).
  virtual void sendToNode(const std::string& address, std::span<const RedisArg> args,
                          RedisCompletion* completion) = 0;
  // Whether keys of different slots may share a command (no: cluster mode).
  virtual bool clustered() const { return false; }
};

class StandaloneRouter final : public Router {
 public:
  StandaloneRouter(uv_loop_t* loop, RedisOptions options);

  void send(const Route& route, std::span<const RedisArg> args,
            RedisCompletion* completion) override;
  using CommandSink::send;
  void start() override;
  void stop(std::function<void()> done) override;
  bool ready() const override;
  void collectCounters(RedisCounters* totals) const override;
  void forEachPrimary(std::function<void(const std::vector<std::string>&)> fn) override;
  void sendToNode(const std::string& address, std::span<const RedisArg> args,
                  RedisCompletion* completion) override;

 private:
  std::unique_ptr<NodeLink> link_;
};

// Adds `from` to *to (not `ready`).
void addCounters(const RedisCounters& from, RedisCounters* to);

}  // namespace mcbridge::backend
