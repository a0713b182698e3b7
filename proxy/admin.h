// The admin HTTP endpoint (--admin HOST:PORT): /metrics (Prometheus text), /healthz (the process
// is alive), /readyz (every worker's Redis connection is up and answered its last PING).
// Runs on its own thread (proxy/http_server.h) and only reads counters: it never touches the
// request path.
#pragma once

#include <memory>
#include <string>

#include "proxy/http_server.h"

namespace mcbridge::proxy {

class Server;

class AdminServer {
 public:
  explicit AdminServer(Server* server);
  ~AdminServer();

  // Binds host:port (throws config::ConfigError if it cannot) and starts serving.
  void start(const std::string& address);
  void stop();

 private:
  Server* server_;
  std::unique_ptr<HttpServer> http_;
};

// The /metrics body (Prometheus text exposition format 0.0.4).
std::string renderMetrics(Server& server);

}  // namespace mcbridge::proxy
