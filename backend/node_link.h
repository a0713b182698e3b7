// A cluster router's connection to one node, behind an interface so the router can be tested
// against a fake cluster without sockets (tests/unit/backend/cluster_router_test.cc).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "backend/redis_connection.h"

namespace mcbridge::backend {

class NodeLink {
 public:
  virtual ~NodeLink() = default;
  virtual void start() = 0;
  // As RedisConnection::stop: queued commands complete with kShutdown, then `done` runs.
  virtual void stop(std::function<void()> done) = 0;
  virtual void send(std::span<const RedisArg> args, RedisCompletion* completion,
                    uint32_t merge_group) = 0;
  // A command expected to bring a large reply (Route::bulk): on the node's bulk connection,
  // opened on first use, so that the replies of other commands never queue behind its reply.
  // The caller keeps one client's commands in order across the two (ClientConnection's lanes).
  // By default (fake links in tests) the one connection, unmerged.
  virtual void sendBulk(std::span<const RedisArg> args, RedisCompletion* completion) {
    send(args, completion, RedisConnection::kNoMerge);
  }
  // The state of the main connection.
  virtual bool connected() const = 0;
  virtual const RedisCounters& counters() const = 0;
  // The bulk connection's counters, once it exists.
  virtual const RedisCounters* bulkCounters() const { return nullptr; }
};

// The link to one Redis node: a RedisConnection, plus the bulk one when needed.
std::unique_ptr<NodeLink> makeRedisNodeLink(uv_loop_t* loop, RedisOptions options);

// Makes the link to the node at "host:port".
using NodeLinkFactory = std::function<std::unique_ptr<NodeLink>(const std::string& address)>;

// Links that are RedisConnections with `base`'s options (TLS, AUTH, scripts, timeouts) and the
// node's host and port.
NodeLinkFactory redisNodeLinks(uv_loop_t* loop, RedisOptions base);

}  // namespace mcbridge::backend
