// One pipelined Redis connection on a libuv loop (DESIGN.md "backend/").
//
// Owned by one worker; every method is called on that worker's loop thread, and every
// completion runs there too. Commands are queued, written in one batch per loop turn, and their
// replies matched in FIFO order. Each submitted command completes exactly once: with a reply
// (which may be a Redis error reply) or with a failure (timeout, disconnect). Completions never
// run inside send(); they run from loop callbacks.
#pragma once

#include <hiredis/hiredis.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <iterator>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/counters.h"

namespace mcbridge::backend {

enum class RedisFailure : uint8_t {
  kTimeout,       // no reply within the request timeout
  kDisconnected,  // the connection dropped (or could not be made) before a reply came
  kProtocol,      // unparsable reply from the server
  kShutdown,      // the connection is being stopped
};

const char* toString(RedisFailure f);

class RedisCompletion {
 public:
  // `reply` is owned by the connection and valid only during the call. It may be an error reply
  // (type REDIS_REPLY_ERROR).
  virtual void onRedisReply(const redisReply* reply) = 0;
  virtual void onRedisFailure(RedisFailure failure) = 0;

 protected:
  ~RedisCompletion() = default;
};

// One RESP bulk argument made of up to two pieces sent back to back (e.g. the 14-byte item
// header and the client's data), so a value is copied once, into the output buffer.
struct RedisArg {
  std::string_view first;
  std::string_view second = {};
};

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string username;  // ACL user; empty = default user
  std::string password;  // empty = no AUTH
  int db = 0;
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_server_name;  // SNI and verification name; empty = host
  bool tls_verify = true;
};

struct RedisOptions {
  RedisEndpoint endpoint;
  std::chrono::milliseconds request_timeout{1000};
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds backoff_min{50};
  // At most 1 s between attempts: service is back within a second of Redis returning
  // (Memorystore failover keeps the IP and drops every connection for a few seconds).
  std::chrono::milliseconds backoff_max{1000};
  // Read again before every (re)connect's AUTH when set (its credentials replace the
  // endpoint's): an IAM access token refreshed by another process reaches new connections.
  std::string password_file;
  // READONLY after every (re)connect: a Redis Cluster replica then serves reads of its shard.
  bool readonly = false;
  // Lua scripts loaded with SCRIPT LOAD after every (re)connect, before any queued command.
  std::vector<std::string> scripts;
};

// Upper bounds (microseconds) of the Redis round-trip latency histogram buckets; a last,
// implicit bucket holds everything slower.
inline constexpr uint64_t kLatencyBucketsUs[] = {100,   250,   500,    1000,   2500,   5000,
                                                 10000, 25000, 50000, 100000, 250000, 1000000};
inline constexpr size_t kLatencyBucketCount = std::size(kLatencyBucketsUs) + 1;

// Written by the connection's loop thread only; readable from any thread (stats, metrics).
struct RedisCounters {
  Counter commands;    // commands written (not those that timed out before being sent)
  Counter errors;      // error replies + failures
  Counter reconnects;  // successful connects after the first
  Counter writes;      // uv_write calls: commands / writes = average pipelined batch
  Counter latency_us_sum;
  Counter latency_count;
  Counter latency_buckets[kLatencyBucketCount];  // non-cumulative counts per bucket
  std::atomic<bool> ready{false};                // connected, authenticated, scripts loaded
};

class RedisConnection {
 public:
  RedisConnection(uv_loop_t* loop, RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts connecting (and reconnecting with backoff whenever the connection drops).
  void start();
  // Fails every queued command with kShutdown, closes the handles, then calls `done` (on the
  // loop) once every handle is closed. The object may be destroyed after `done`. Completions
  // (kShutdown) run before `done`, never inside stop(); a send() from one of them, or any send()
  // after stop(), also completes with kShutdown.
  void stop(std::function<void()> done);

  // Queues one command. While disconnected, commands wait (up to the request timeout) for the
  // reconnection. `completion` must stay valid until it is called.
  void send(std::span<const RedisArg> args, RedisCompletion* completion);
  void send(std::initializer_list<RedisArg> args, RedisCompletion* completion) {
    send(std::span<const RedisArg>(args.begin(), args.size()), completion);
  }
  // The same, but small MGETs merge only with MGETs of the same `merge_group` sent right before
  // (a cluster router passes the hash slot: a merged MGET must stay in one slot), and never
  // with kNoMerge. send() without a group uses group 0.
  static constexpr uint32_t kNoMerge = UINT32_MAX;
  void send(std::span<const RedisArg> args, RedisCompletion* completion, uint32_t merge_group);

  bool connected() const;
  // The last connection error (for logs and readiness), empty when connected.
  const std::string& lastError() const;
  const RedisCounters& counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses redis://[[user]:password@]host[:port][/db] and rediss://... into *out.
// Returns false and sets *error on malformed input (the message never contains the password).
// "pass@host" (no colon) is a password for the default user, as in redis-cli; user and password
// are percent-decoded; IPv6 hosts are bracketed ([::1]); the port defaults to 6379 for both
// schemes (Memorystore's TLS port 6378 must be written). Only host, port, username, password, db
// and tls are set: the tls_* options keep the caller's values. *out is unchanged on error.
bool parseRedisUrl(std::string_view url, RedisEndpoint* out, std::string* error);

// Reads a password file (a trailing newline is ignored). False and *error when unreadable.
bool readPasswordFile(const std::string& path, std::string* secret, std::string* error);
// Sets ep's credentials from a secret: "user:password" selects an ACL user, anything else (e.g.
// Memorystore's AUTH string, an IAM access token) is the password (of the user already set).
void applySecret(std::string_view secret, RedisEndpoint* ep);

}  // namespace mcbridge::backend
