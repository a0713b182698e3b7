// The mcbridge server: worker threads, each a libuv loop with its own listener (SO_REUSEPORT),
// Redis connection, translator and counters; no lock on the request path. The main thread only
// waits for signals and coordinates shutdown and cross-worker state (stats, delayed flush).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/item.h"
#include "proxy/auth.h"
#include "config/options.h"

namespace mcbridge::proxy {

class Worker;
class AdminServer;

class Server {
 public:
  explicit Server(config::Options options);
  ~Server();

  // Binds the listeners (throws config::ConfigError with a clear message if it cannot) and
  // starts the workers.
  void start();
  // Blocks until SIGINT/SIGTERM (or requestStop), drains and stops the workers. Returns the
  // process exit code.
  int run();
  // Thread-safe: asks run() to return.
  void requestStop();

  const config::Options& options() const { return options_; }
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  // Workers being started (known before they are built: they share the process budgets).
  unsigned workerCount() const { return worker_count_; }
  backend::CasGenerator* casGenerator() { return &cas_; }
  int64_t startTime() const { return start_time_; }
  // The generation of the latest flush_all: a delayed flush fires only if still the latest.
  std::atomic<uint64_t>& flushGeneration() { return flush_generation_; }
  // Client credentials (--auth-file); disabled when the option is not set.
  AuthStore& auth() { return *auth_; }
  // `stats reset` resets every worker's counters.
  void resetStats();

 private:
  config::Options options_;
  backend::CasGenerator cas_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<AuthStore> auth_;
  int64_t start_time_ = 0;
  unsigned worker_count_ = 0;
  std::atomic<uint64_t> flush_generation_{0};
  std::atomic<bool> stop_requested_{false};
  void* stop_async_ = nullptr;  // uv_async_t of the main loop, while run() runs
};

}  // namespace mcbridge::proxy
