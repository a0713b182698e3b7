// Test helper: a real redis-server child process on an ephemeral 127.0.0.1 port.
//
// RAII: the destructor SIGKILLs and reaps the server, so it dies even when a test fails (a
// REQUIRE throws through the guard); the child also gets PR_SET_PDEATHSIG so it dies with a
// crashed test binary. Not thread-safe; use from the test's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mcbridge::test {

// A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close).
uint16_t freeTcpPort();

// True when a TCP connect to 127.0.0.1:port succeeds within `timeout`.
bool waitForTcpPort(uint16_t port, std::chrono::milliseconds timeout);

// Writes a throw-away PKI into `dir` with the openssl CLI: ca.crt/ca.key (test CA),
// server.crt/server.key (signed by it, SAN IP:127.0.0.1 and DNS:localhost) and other-ca.crt (an
// unrelated CA, for verification failures). Returns false with the command's output in *error.
bool makeTestCertificates(const std::string& dir, std::string* error);

// extra_args that make a RedisServer with Options::tls use the certificates above.
std::vector<std::string> tlsServerArgs(const std::string& dir);

class RedisServer {
 public:
  struct Options {
    uint16_t port = 0;                    // 0 = pick a free one
    bool tls = false;                     // listen with --tls-port instead of --port
    std::vector<std::string> extra_args;  // e.g. {"--requirepass", "secret"}
    std::string binary = "/usr/bin/redis-server";
  };

  RedisServer();  // defaults
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server (again, on the same port) and waits until it accepts connections.
  // Returns false (with the server's log in lastLog()) if it did not come up within 5 s.
  bool start();
  void kill();    // SIGKILL and reap; no-op when not running
  void pause();   // SIGSTOP: connections stay open, nothing is answered
  void resume();  // SIGCONT
  bool running() const { return pid_ > 0; }

  // Arguments used by the next start() (e.g. certificate paths inside dir()).
  void setExtraArgs(std::vector<std::string> args) { options_.extra_args = std::move(args); }

  uint16_t port() const { return options_.port; }
  const std::string& dir() const { return dir_; }  // scratch dir (logs, certificates)
  std::string lastLog() const;

 private:
  Options options_;
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace mcbridge::test
