// Routing: the layer between the translator (which names each command's key, see Route in
// command_sink.h) and the Redis connections (DESIGN.md "backend/"). A worker owns one Router.
//
//   translator --Route + args--> Router --args--> RedisConnection (one per node) --> RedisTransport
//
// StandaloneRouter: one node, one connection; every command goes to it unchanged (merged MGETs
// included). A cluster router picks the connection of the key's slot owner, handles redirects
// and splits multi-key commands per slot; none of that reaches the translator or the client.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <span>

#include "backend/command_sink.h"
#include "backend/redis_connection.h"

namespace mcbridge::backend {

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

  RedisConnection& connection() { return conn_; }

 private:
  RedisConnection conn_;
};

// Adds `from` to *to (not `ready`).
void addCounters(const RedisCounters& from, RedisCounters* to);

}  // namespace mcbridge::backend
