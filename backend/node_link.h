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
  virtual bool connected() const = 0;
  virtual const RedisCounters& counters() const = 0;
};

// Makes the link to the node at "host:port".
using NodeLinkFactory = std::function<std::unique_ptr<NodeLink>(const std::string& address)>;

// Links that are RedisConnections with `base`'s options (TLS, AUTH, scripts, timeouts) and the
// node's host and port.
NodeLinkFactory redisNodeLinks(uv_loop_t* loop, RedisOptions base);

}  // namespace mcbridge::backend
