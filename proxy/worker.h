// A worker: one thread, one libuv loop, its listeners, its clients, its Redis connection.
// Everything here runs on the worker's thread except the methods marked thread-safe.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "backend/counters.h"
#include "backend/flow_control.h"
#include "backend/redis_connection.h"
#include "backend/router.h"
#include "backend/translator.h"
#include "config/options.h"
#include "protocol/parser.h"

namespace mcbridge::proxy {

class Server;
class ClientConnection;

// A listening socket created (and bound) by the server, handed to one worker.
struct ListenSocket {
  bool unix_socket = false;
  int fd = -1;
  std::string name;  // for logs
};

class Worker final : public backend::CommandSink {
 public:
  Worker(Server* server, unsigned index, const backend::RedisOptions& redis);
  ~Worker();

  void addListener(ListenSocket socket);
  // Starts the thread and its loop.
  void start();
  // Thread-safe: stop accepting, drain clients for up to drain_timeout, stop Redis, end the loop.
  void stop();
  void join();

  // CommandSink: to the router.
  void send(const backend::Route& route, std::span<const backend::RedisArg> args,
            backend::RedisCompletion* completion) override;
  using backend::CommandSink::send;

  unsigned index() const { return index_; }
  uv_loop_t* loop() { return &loop_; }
  Server* server() { return server_; }
  const protocol::Parser& parser() const { return parser_; }
  backend::Translator& translator() { return translator_; }
  backend::Counters& counters() { return counters_; }
  backend::FlowControl& flow() { return flow_; }
  // `conn` is held by the worker's flow-control budgets: flowWake() it when room is freed.
  void waitForFlow(ClientConnection* conn) { flow_waiters_.push_back(conn); }
  const backend::Counters& counters() const { return counters_; }
  backend::Router& router() { return *router_; }
  const backend::Router& router() const { return *router_; }
  const config::Options& options() const;

  // Tests: send Redis commands to `sink` instead of the router, and serve a client
  // on an already connected socket `fd` with the loop run by the caller (no thread).
  void setSinkForTesting(backend::CommandSink* sink) { test_sink_ = sink; }
  // This sink with every command marked bulk (Route::bulk: a large reply is expected).
  backend::CommandSink* bulkSink() { return &bulk_sink_; }
  void adoptClientForTesting(int fd);

  // Thread-safe: Redis is connected and answered the latest health PING (for /readyz).
  bool ready() const {
    return router_->ready() && healthy_.load(std::memory_order_relaxed);
  }

  // A read buffer lent to one client connection at a time, during one read callback (see
  // ReadBuffer::prepareBorrowed).
  std::span<char> readScratch() { return {read_scratch_.get(), kReadScratchSize}; }

  // Output to flush at the end of this loop turn.
  void markDirty(ClientConnection* conn);
  void clientClosed(ClientConnection* conn);
  // Flushes now (FLUSHDB, or SCAN + UNLINK of the key prefix); `slot` gets the reply, or none.
  void startFlush(backend::RedisCompletion* slot);
  // Flushes after `delay_seconds`, unless another flush_all comes first (memcached keeps only the
  // latest flush_all setting).
  void scheduleFlush(int64_t delay_seconds, uint64_t generation);

 private:
  static void onConnection(uv_stream_t* server, int status);
  static void onCheck(uv_check_t* h);
  static void onPrepare(uv_prepare_t* h);
  void flushDirty();
  static void onStopAsync(uv_async_t* h);
  static void onDrainTimer(uv_timer_t* h);
  void beginStop();
  void finishStop();
  static void onFlushTimer(uv_timer_t* h);
  static void onHealthTimer(uv_timer_t* h);

  // PINGs Redis every second, so readiness (and a dead connection) is noticed with no traffic.
  struct HealthCheck final : backend::RedisCompletion {
    Worker* worker = nullptr;
    bool pending = false;
    void onRedisReply(const redisReply* reply) override;
    void onRedisFailure(backend::RedisFailure failure) override;
  };

  static constexpr size_t kReadScratchSize = 64 * 1024;

  Server* server_;
  unsigned index_;
  std::unique_ptr<char[]> read_scratch_{new char[kReadScratchSize]};
  uv_loop_t loop_;
  std::thread thread_;
  protocol::Parser parser_;
  backend::Counters counters_;
  backend::FlowControl flow_;
  std::vector<ClientConnection*> flow_waiters_;
  std::vector<ClientConnection*> waking_;
  std::unique_ptr<backend::Router> router_;
  backend::Translator translator_;
  std::vector<ListenSocket> sockets_;
  std::vector<uv_stream_t*> listeners_;
  std::unordered_set<ClientConnection*> clients_;
  std::vector<ClientConnection*> dirty_;
  std::vector<ClientConnection*> flushing_;
  // Replies are flushed once per loop turn: in check (after I/O callbacks) and in prepare (after
  // timer callbacks, e.g. a request timeout, which would otherwise wait out the next poll).
  uv_check_t check_;
  uv_prepare_t prepare_;
  uv_async_t stop_async_;
  uv_timer_t drain_timer_;
  uv_timer_t health_timer_;
  HealthCheck health_;
  std::atomic<bool> healthy_{false};
  std::vector<uv_timer_t*> flush_timers_;
  uint64_t next_client_id_ = 1;
  bool stopping_ = false;
  bool stopped_ = false;
  bool drain_expired_ = false;
  backend::CommandSink* test_sink_ = nullptr;
  struct BulkSink final : backend::CommandSink {
    Worker* worker = nullptr;
    void send(const backend::Route& route, std::span<const backend::RedisArg> args,
              backend::RedisCompletion* completion) override {
      backend::Route bulk = route;
      bulk.bulk = true;
      worker->send(bulk, args, completion);
    }
  };
  BulkSink bulk_sink_;
};

}  // namespace mcbridge::proxy
