#include "proxy/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "backend/redis_connection.h"
#include "proxy/admin.h"
#include "proxy/cpus.h"
#include "proxy/worker.h"

namespace mcbridge::proxy {
namespace {

using config::ConfigError;

std::string describe(const config::ListenAddress& a) {
  if (a.unix_socket) return "unix:" + a.host;
  return a.host + ":" + std::to_string(a.port);
}

// A TCP listening socket bound with SO_REUSEPORT, so every worker can have its own and the
// kernel spreads connections across them.
int bindTcp(const config::ListenAddress& a) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port);
  int rc = getaddrinfo(a.host.empty() ? nullptr : a.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    throw ConfigError("cannot listen on " + describe(a) + ": " + gai_strerror(rc));
  }
  int fd = -1;
  std::string error;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) throw ConfigError("cannot listen on " + describe(a) + ": " + error);
  return fd;
}

int bindUnix(const config::ListenAddress& a) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (a.host.size() >= sizeof addr.sun_path) {
    throw ConfigError("cannot listen on " + describe(a) + ": path too long");
  }
  std::memcpy(addr.sun_path, a.host.data(), a.host.size());
  ::unlink(a.host.c_str());  // a stale socket file from an earlier run
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw ConfigError("cannot listen on " + describe(a) + ": " + error);
  }
  return fd;
}

std::string readSecretFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ConfigError("cannot read --redis-password-file '" + path + "': not a readable file");
  }
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read --redis-password-file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

backend::RedisOptions redisOptions(const config::Options& o) {
  backend::RedisOptions r;
  if (!o.redis_url.empty()) {
    std::string error;
    if (!backend::parseRedisUrl(o.redis_url, &r.endpoint, &error)) {
      throw ConfigError("invalid --redis URL: " + error);
    }
  } else if (!o.redis_host.empty()) {
    r.endpoint.host = o.redis_host;
    r.endpoint.port = o.redis_port;
  }
  // Precedence: password file > password option/variable > password in the URL.
  std::string secret = o.redis_password;
  if (!o.redis_password_file.empty()) secret = readSecretFile(o.redis_password_file);
  // "user:password" selects an ACL user, as in the URL; Memorystore's AUTH strings (UUIDs) and
  // IAM tokens have no colon and are used whole.
  if (!secret.empty()) {
    const size_t colon = secret.find(':');
    if (colon != std::string::npos && colon > 0) {
      r.endpoint.username = secret.substr(0, colon);
      r.endpoint.password = secret.substr(colon + 1);
    } else {
      r.endpoint.password = secret;
    }
  }
  // Read again on every (re)connect (IAM tokens expire; another process refreshes the file).
  r.password_file = o.redis_password_file;
  if (!o.redis_ca_file.empty()) {
    r.endpoint.tls = true;
    r.endpoint.tls_ca_file = o.redis_ca_file;
  }
  if (!o.redis_tls_server_name.empty()) r.endpoint.tls_server_name = o.redis_tls_server_name;
  if (o.redis_tls_insecure) r.endpoint.tls_verify = false;
  r.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
  r.connect_timeout = std::chrono::milliseconds(o.connect_timeout_ms);
  return r;
}

}  // namespace

Server::Server(config::Options options)
    : options_(std::move(options)),
      auth_(options_.auth_file.empty() ? std::make_unique<AuthStore>()
                                       : std::make_unique<AuthStore>(options_.auth_file)) {}

Server::~Server() = default;

void Server::start() {
  start_time_ = ::time(nullptr);
  const backend::RedisOptions redis = redisOptions(options_);
  unsigned threads = options_.threads;
  if (threads == 0) threads = availableCpus();
  worker_count_ = threads;
  for (unsigned i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i, redis));
  }
  for (const config::ListenAddress& a : options_.listen) {
    if (a.unix_socket) {
      workers_[0]->addListener({true, bindUnix(a), describe(a)});
      continue;
    }
    for (auto& w : workers_) w->addListener({false, bindTcp(a), describe(a)});
  }
  // The admin port is bound before any worker thread runs, so a bad --admin fails cleanly.
  if (!options_.admin.empty()) {
    admin_ = std::make_unique<AdminServer>(this);
    admin_->start(options_.admin);
  }
  for (auto& w : workers_) w->start();
  spdlog::info("mcbridge {} listening on {} ({} worker{}), redis {}:{}", MCBRIDGE_VERSION,
               options_.listen.empty() ? std::string("nothing") : describe(options_.listen[0]),
               threads, threads == 1 ? "" : "s", redis.endpoint.host, redis.endpoint.port);
}

namespace {
// Ends the main loop: closing every handle of it makes uv_run return.
void closeAll(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
}
}  // namespace

int Server::run() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_signal_t sigint, sigterm, sighup;
  uv_async_t async;
  uv_async_init(&loop, &async, [](uv_async_t* h) { closeAll(h->loop); });
  auto onSignal = [](uv_signal_t* h, int signum) {
    spdlog::info("received signal {}, draining", signum);
    closeAll(h->loop);
  };
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  uv_signal_start(&sigint, onSignal, SIGINT);
  uv_signal_start(&sigterm, onSignal, SIGTERM);
  // SIGHUP re-reads the --auth-file (as memcached does for -Y); a bad file keeps the old one.
  uv_signal_init(&loop, &sighup);
  sighup.data = this;
  uv_signal_start(
      &sighup,
      [](uv_signal_t* h, int) {
        AuthStore& auth = static_cast<Server*>(h->data)->auth();
        if (!auth.enabled()) return;
        std::string error;
        if (auth.reload(&error)) {
          spdlog::info("SIGHUP: re-read --auth-file {}", auth.path());
        } else {
          spdlog::error("SIGHUP: cannot re-read --auth-file {} ({}); keeping the credentials "
                        "in use", auth.path(), error);
        }
      },
      SIGHUP);
  stop_async_ = &async;
  if (stop_requested_.load()) uv_async_send(&async);
  uv_run(&loop, UV_RUN_DEFAULT);
  stop_async_ = nullptr;
  uv_loop_close(&loop);

  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
  if (admin_) admin_->stop();
  for (const config::ListenAddress& a : options_.listen) {
    if (a.unix_socket) ::unlink(a.host.c_str());  // leave no stale socket file behind
  }
  spdlog::info("stopped");
  return 0;
}

void Server::requestStop() {
  stop_requested_.store(true);
  if (stop_async_ != nullptr) uv_async_send(static_cast<uv_async_t*>(stop_async_));
}

void Server::resetStats() {
  for (auto& w : workers_) w->counters().reset();
}

}  // namespace mcbridge::proxy
