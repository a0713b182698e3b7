// RedisConnection against a real redis-server (tests/unit/support/redis_server.h).
// Every test runs its own server on an ephemeral port and its own loop.

#include "backend/redis_connection.h"

#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "unit/support/redis_server.h"
#include "unit/support/uv_loop.h"

namespace mcbridge::backend {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;
using test::RedisServer;
using test::TestLoop;

// Records what a command completed with. Callbacks only record (see uv_loop.h).
struct Result final : RedisCompletion {
  int calls = 0;
  bool failed = false;
  RedisFailure failure = RedisFailure::kProtocol;
  int type = 0;
  std::string str;
  long long integer = 0;
  std::vector<std::string> elements;
  Clock::time_point at;
  std::function<void(Result&)> then;  // optional hook, runs inside the completion

  void onRedisReply(const redisReply* r) override {
    ++calls;
    at = Clock::now();
    type = r->type;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR) {
      str.assign(r->str, r->len);
    }
    if (r->type == REDIS_REPLY_INTEGER) integer = r->integer;
    if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        elements.emplace_back(e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : "");
      }
    }
    if (then) then(*this);
  }
  void onRedisFailure(RedisFailure f) override {
    ++calls;
    at = Clock::now();
    failed = true;
    failure = f;
    if (then) then(*this);
  }
  bool done() const { return calls > 0; }
  bool isReply(int t) const { return calls == 1 && !failed && type == t; }
  bool isFailure(RedisFailure f) const { return calls == 1 && failed && failure == f; }
};

bool allDone(const std::vector<Result>& results) {
  for (const Result& r : results) {
    if (!r.done()) return false;
  }
  return true;
}

RedisOptions optionsFor(const RedisServer& server) {
  RedisOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = server.port();
  o.request_timeout = 2000ms;
  o.connect_timeout = 500ms;
  o.backoff_min = 10ms;
  o.backoff_max = 100ms;
  return o;
}

// Owns a connection and always stops it before it is destroyed, also when a REQUIRE failed.
class Conn {
 public:
  Conn(TestLoop& loop, RedisOptions options)
      : loop_(loop), conn_(std::make_unique<RedisConnection>(loop.get(), std::move(options))) {
    conn_->start();
  }
  ~Conn() {
    if (!stop_called_) {
      stop();
      loop_.runUntil([&] { return stopped_; });
    } else {
      loop_.runUntil([&] { return stopped_; });
    }
  }
  RedisConnection* operator->() { return conn_.get(); }
  RedisConnection& operator*() { return *conn_; }
  void stop() {
    stop_called_ = true;
    conn_->stop([this] { stopped_ = true; });
  }
  bool stopped() const { return stopped_; }
  bool waitConnected(std::chrono::milliseconds timeout = 3s) {
    return loop_.runUntil([&] { return conn_->connected(); }, timeout);
  }

 private:
  TestLoop& loop_;
  std::unique_ptr<RedisConnection> conn_;
  bool stop_called_ = false;
  bool stopped_ = false;
};

std::string sha1Hex(const std::string& s) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

TEST_CASE("SET/GET round-trip with a two-piece value containing CRLF and NUL", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  Conn conn(loop, optionsFor(server));

  const std::string header = "\xFB\x01\0\0\0\x07\r\n\0\0\0\0\0\x01"s;
  const std::string data = "a\r\nb\0c\r\n\r\n$3\r\n*1\0"s;
  REQUIRE(header.size() == 14);
  const std::string big(1 << 20, 'x');  // 1 MiB: several partial writes on the socket
  std::vector<Result> r(6);
  conn->send({{"SET"}, {"k1"}, {header, data}}, &r[0]);
  conn->send({{"GET"}, {"k1"}}, &r[1]);
  conn->send({{"SET"}, {"big"}, {header, big}}, &r[2]);
  conn->send({{"GET"}, {"big"}}, &r[3]);
  conn->send({{"INCR"}, {"k1"}}, &r[4]);  // not an integer: an error reply, not a failure
  conn->send({{"GET"}, {"missing"}}, &r[5]);
  // Completions never run inside send(), even for a queued command.
  for (const Result& x : r) CHECK(x.calls == 0);
  REQUIRE(loop.runUntil([&] { return allDone(r); }));

  CHECK(r[0].isReply(REDIS_REPLY_STATUS));
  CHECK(r[0].str == "OK");
  REQUIRE(r[1].isReply(REDIS_REPLY_STRING));
  CHECK(r[1].str == header + data);
  CHECK(r[2].str == "OK");
  REQUIRE(r[3].isReply(REDIS_REPLY_STRING));
  CHECK(r[3].str == header + big);
  CHECK(r[4].isReply(REDIS_REPLY_ERROR));
  CHECK(r[4].str.rfind("ERR", 0) == 0);
  CHECK(r[5].isReply(REDIS_REPLY_NIL));

  const RedisCounters& c = conn->counters();
  CHECK(c.commands.get() == 6);
  CHECK(c.errors.get() == 1);
  CHECK(c.latency_count.get() == 6);
  CHECK(c.latency_us_sum.get() > 0);
  CHECK(c.reconnects.get() == 0);
  uint64_t bucketed = 0;
  for (const auto& b : c.latency_buckets) bucketed += b.get();
  CHECK(bucketed == 6);
  CHECK(c.ready.load());
  CHECK(conn->connected());
  CHECK(conn->lastError().empty());
}

TEST_CASE("1000 pipelined commands complete in order, in one write", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  Conn conn(loop, optionsFor(server));
  REQUIRE(conn.waitConnected());

  constexpr int kCount = 1000;
  std::vector<Result> r(kCount);
  std::vector<int> order;
  for (int i = 0; i < kCount; ++i) {
    r[i].then = [&order, i](Result&) { order.push_back(i); };
    conn->send({{"INCR"}, {"counter"}}, &r[i]);
  }
  uint64_t writes_before = conn->counters().writes.get();
  REQUIRE(loop.runUntil([&] { return allDone(r); }));
  CHECK(conn->counters().writes.get() - writes_before == 1);
  REQUIRE(order.size() == kCount);
  for (int i = 0; i < kCount; ++i) {
    CHECK(order[i] == i);
    CHECK(r[i].isReply(REDIS_REPLY_INTEGER));
    CHECK(r[i].integer == i + 1);
  }
  CHECK(conn->counters().commands.get() == kCount);

  // Commands sent from completions while a batch is in flight go out in later batches and
  // still complete in order.
  std::vector<Result> chain(50);
  std::vector<int> chain_order;
  for (int i = 0; i < 50; ++i) {
    chain[i].then = [&, i](Result&) {
      chain_order.push_back(i);
      if (i + 1 < 50) conn->send({{"INCR"}, {"counter"}}, &chain[i + 1]);
    };
  }
  conn->send({{"INCR"}, {"counter"}}, &chain[0]);
  REQUIRE(loop.runUntil([&] { return allDone(chain); }));
  CHECK(chain.back().integer == kCount + 50);
  CHECK(chain_order.size() == 50);
}

TEST_CASE("MGETs sent back to back merge into one command; order and slices kept", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  Conn conn(loop, optionsFor(server));
  REQUIRE(conn.waitConnected());

  std::vector<Result> r(8);
  std::vector<int> order;
  for (int i = 0; i < 8; ++i) r[i].then = [&order, i](Result&) { order.push_back(i); };
  conn->send({{"SET"}, {"a"}, {"1"}}, &r[0]);
  conn->send({{"MGET"}, {"a"}}, &r[1]);                  // merged with the next two
  conn->send({{"MGET"}, {"p:", "b"}, {"c"}}, &r[2]);      // two-piece key, and a miss
  conn->send({{"MGET"}, {"a"}, {"missing"}, {"a"}}, &r[3]);
  conn->send({{"SET"}, {"a"}, {"2"}}, &r[4]);             // closes the run: runs after it
  conn->send({{"MGET"}, {"a"}}, &r[5]);                   // sees the second SET
  conn->send({{"HSET"}, {"h"}, {"f"}, {"v"}}, &r[6]);  // (not an MGET: closes the run)
  conn->send({{"MGET"}, {"h"}}, &r[7]);                   // another type reads as nil
  const uint64_t commands_before = conn->counters().commands.get();
  REQUIRE(loop.runUntil([&] { return allDone(r); }));
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  for (const Result& x : r) CHECK(x.calls == 1);
  // SET, one MGET for three senders, SET, MGET, HSET, MGET.
  CHECK(conn->counters().commands.get() - commands_before == 6);
  REQUIRE(r[1].isReply(REDIS_REPLY_ARRAY));
  CHECK(r[1].elements == std::vector<std::string>{"1"});
  REQUIRE(r[2].isReply(REDIS_REPLY_ARRAY));
  CHECK(r[2].elements == std::vector<std::string>{"", ""});
  REQUIRE(r[3].isReply(REDIS_REPLY_ARRAY));
  CHECK(r[3].elements == std::vector<std::string>{"1", "", "1"});
  REQUIRE(r[5].isReply(REDIS_REPLY_ARRAY));
  CHECK(r[5].elements == std::vector<std::string>{"2"});
  REQUIRE(r[7].isReply(REDIS_REPLY_ARRAY));
  CHECK(r[7].elements == std::vector<std::string>{""});

  // An MGET of many keys is sent as it is, between the runs before and after it.
  std::vector<RedisArg> big_args{{"MGET"}};
  for (int i = 0; i < 20; ++i) big_args.push_back({"a"});
  std::vector<Result> big(3);
  conn->send({{"MGET"}, {"a"}}, &big[0]);
  conn->send(big_args, &big[1]);
  conn->send({{"MGET"}, {"a"}}, &big[2]);
  const uint64_t before_big = conn->counters().commands.get();
  REQUIRE(loop.runUntil([&] { return allDone(big); }));
  CHECK(conn->counters().commands.get() - before_big == 3);
  CHECK(big[1].elements == std::vector<std::string>(20, "2"));
  CHECK(big[2].elements == std::vector<std::string>{"2"});

  // A long run is cut into several MGETs (bounded work per Redis command); each sender still
  // gets exactly its own key.
  constexpr int kSenders = 1200;
  std::vector<Result> many(kSenders);
  std::vector<std::string> keys(kSenders);
  for (int i = 0; i < kSenders; ++i) {
    keys[i] = i % 2 == 0 ? "a" : "nope" + std::to_string(i);
    conn->send({{"MGET"}, {keys[i]}}, &many[i]);
  }
  const uint64_t before_many = conn->counters().commands.get();
  REQUIRE(loop.runUntil([&] { return allDone(many); }));
  const uint64_t merged = conn->counters().commands.get() - before_many;
  CHECK(merged >= kSenders / 128);
  CHECK(merged <= kSenders / 64);
  for (int i = 0; i < kSenders; ++i) {
    REQUIRE(many[i].isReply(REDIS_REPLY_ARRAY));
    CHECK(many[i].elements == std::vector<std::string>{i % 2 == 0 ? "2" : ""});
  }
}

TEST_CASE("a merged MGET fails every sender once", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  RedisOptions o = optionsFor(server);
  o.request_timeout = 300ms;
  Conn conn(loop, o);
  REQUIRE(conn.waitConnected());

  // The server stops answering: the merged MGET times out, and each sender hears it once.
  server.pause();
  std::vector<Result> r(3);
  for (Result& x : r) conn->send({{"MGET"}, {"k"}}, &x);
  const bool all_done = loop.runUntil([&] { return allDone(r); }, 3s);
  server.resume();
  REQUIRE(all_done);
  for (const Result& x : r) CHECK(x.isFailure(RedisFailure::kTimeout));
  loop.runFor(50ms);
  for (const Result& x : r) CHECK(x.calls == 1);

  // After stop() too, also for MGETs sent from a completion.
  REQUIRE(loop.runUntil([&] { return conn->connected(); }, 5s));
  std::vector<Result> queued(3);
  Result sent_during_stop;
  queued[0].then = [&](Result&) { conn->send({{"MGET"}, {"k"}}, &sent_during_stop); };
  for (Result& x : queued) conn->send({{"MGET"}, {"k"}}, &x);
  conn.stop();
  REQUIRE(loop.runUntil([&] { return conn.stopped(); }));
  for (const Result& x : queued) CHECK(x.isFailure(RedisFailure::kShutdown));
  CHECK(sent_during_stop.isFailure(RedisFailure::kShutdown));
}

TEST_CASE("AUTH with requirepass", "[redis]") {
  RedisServer::Options so;
  so.extra_args = {"--requirepass", "s3cret pass"};
  RedisServer server(so);
  REQUIRE(server.start());
  TestLoop loop;

  SECTION("right password") {
    RedisOptions o = optionsFor(server);
    o.endpoint.password = "s3cret pass";
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isReply(REDIS_REPLY_STATUS));
    CHECK(r.str == "PONG");
  }
  SECTION("user and password") {
    RedisOptions o = optionsFor(server);
    o.endpoint.username = "default";
    o.endpoint.password = "s3cret pass";
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.str == "PONG");
  }
  SECTION("wrong password: clear error, commands time out, never sent") {
    RedisOptions o = optionsFor(server);
    o.endpoint.password = "wrong";
    o.request_timeout = 300ms;
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isFailure(RedisFailure::kTimeout));
    CHECK_FALSE(conn->connected());
    CHECK(conn->lastError().rfind("AUTH failed: ", 0) == 0);
    CHECK(conn->lastError().find("WRONGPASS") != std::string::npos);
    CHECK(conn->counters().commands.get() == 0);
    CHECK(conn->counters().errors.get() == 1);
  }
  SECTION("no password: the server's NOAUTH error reaches the completion as a reply") {
    Conn conn(loop, optionsFor(server));
    Result r;
    conn->send({{"GET"}, {"x"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isReply(REDIS_REPLY_ERROR));
    CHECK(r.str.rfind("NOAUTH", 0) == 0);
  }
}

TEST_CASE("SELECT db from the endpoint", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  RedisOptions o3 = optionsFor(server);
  o3.endpoint.db = 3;
  Conn db3(loop, o3);
  Conn db0(loop, optionsFor(server));

  Result set;
  db3->send({{"SET"}, {"where"}, {"three"}}, &set);
  REQUIRE(loop.runUntil([&] { return set.done(); }));
  REQUIRE(set.str == "OK");
  Result get3;
  Result get0;
  db3->send({{"GET"}, {"where"}}, &get3);
  db0->send({{"GET"}, {"where"}}, &get0);
  REQUIRE(loop.runUntil([&] { return get3.done() && get0.done(); }));
  CHECK(get3.str == "three");
  CHECK(get0.isReply(REDIS_REPLY_NIL));

  SECTION("a database the server does not have fails the connection") {
    RedisOptions bad = optionsFor(server);
    bad.endpoint.db = 99;
    bad.request_timeout = 200ms;
    Conn conn(loop, bad);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isFailure(RedisFailure::kTimeout));
    CHECK(conn->lastError().rfind("SELECT 99 failed", 0) == 0);
  }
}

TEST_CASE("scripts are loaded after connecting", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  RedisOptions o = optionsFor(server);
  const std::string script = "return tonumber(ARGV[1]) + 1";
  o.scripts = {script, "this is not lua"};  // a bad script is logged, not fatal
  Conn conn(loop, o);
  Result r;
  conn->send({{"EVALSHA"}, {sha1Hex(script)}, {"0"}, {"41"}}, &r);
  REQUIRE(loop.runUntil([&] { return r.done(); }));
  CHECK(r.isReply(REDIS_REPLY_INTEGER));
  CHECK(r.integer == 42);
}

TEST_CASE("redis killed mid-flight, then restarted: reconnect", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  Conn conn(loop, optionsFor(server));  // request timeout 2 s
  REQUIRE(conn.waitConnected());

  // BLPOP 0 blocks forever: the command is in flight when the server dies.
  Result blocked;
  conn->send({{"BLPOP"}, {"nothing"}, {"0"}}, &blocked);
  loop.runFor(50ms);
  REQUIRE_FALSE(blocked.done());
  server.kill();
  REQUIRE(loop.runUntil([&] { return blocked.done(); }));
  CHECK(blocked.isFailure(RedisFailure::kDisconnected));
  loop.runFor(30ms);
  CHECK_FALSE(conn->connected());
  CHECK_FALSE(conn->lastError().empty());

  // Sent while down: waits (not failed, not sent) for the reconnection.
  Result later;
  conn->send({{"SET"}, {"after"}, {"restart"}}, &later);
  loop.runFor(150ms);
  CHECK_FALSE(later.done());
  REQUIRE(server.start());
  REQUIRE(loop.runUntil([&] { return later.done(); }));
  CHECK(later.isReply(REDIS_REPLY_STATUS));
  CHECK(later.str == "OK");
  CHECK(conn->connected());
  CHECK(conn->lastError().empty());
  CHECK(conn->counters().reconnects.get() == 1);
}

TEST_CASE("redis SIGSTOPped: kTimeout within the request timeout, then recovery", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  RedisOptions o = optionsFor(server);
  o.request_timeout = 200ms;
  o.connect_timeout = 200ms;
  Conn conn(loop, o);
  REQUIRE(conn.waitConnected());

  server.pause();
  std::vector<Result> r(5);
  auto sent = Clock::now();
  for (Result& x : r) conn->send({{"GET"}, {"k"}}, &x);
  REQUIRE(loop.runUntil([&] { return allDone(r); }, 2s));
  for (Result& x : r) {
    CHECK(x.isFailure(RedisFailure::kTimeout));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(x.at - sent).count();
    CHECK(ms >= 190);
    CHECK(ms <= 600);  // 200 ms + a 20 ms tick + slack for a loaded CI machine
  }

  server.resume();
  // The first command after resuming may still hit a connection made while the server was
  // stopped; within a few timeouts one succeeds.
  bool ok = false;
  auto deadline = Clock::now() + 5s;
  while (!ok && Clock::now() < deadline) {
    Result probe;
    conn->send({{"SET"}, {"k"}, {"v"}}, &probe);
    REQUIRE(loop.runUntil([&] { return probe.done(); }, 2s));
    ok = probe.isReply(REDIS_REPLY_STATUS);
  }
  CHECK(ok);
  CHECK(conn->connected());
}

TEST_CASE("no server listening: commands fail with kTimeout promptly", "[redis]") {
  TestLoop loop;
  RedisOptions o;
  o.endpoint.port = test::freeTcpPort();
  o.request_timeout = 200ms;
  o.backoff_min = 10ms;
  o.backoff_max = 50ms;
  Conn conn(loop, o);
  std::vector<Result> r(3);
  auto sent = Clock::now();
  for (Result& x : r) conn->send({{"GET"}, {"k"}}, &x);
  REQUIRE(loop.runUntil([&] { return allDone(r); }, 2s));
  for (Result& x : r) {
    CHECK(x.isFailure(RedisFailure::kTimeout));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(x.at - sent).count();
    CHECK(ms <= 500);
  }
  CHECK_FALSE(conn->connected());
  CHECK(conn->lastError().find("refused") != std::string::npos);
  CHECK(conn->counters().errors.get() == 3);
}

TEST_CASE("host names are resolved, trying each address", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  RedisOptions o = optionsFor(server);
  // localhost may resolve to ::1 first, where this server does not listen: the next attempt
  // must try 127.0.0.1.
  o.endpoint.host = "localhost";
  Conn conn(loop, o);
  Result r;
  conn->send({{"PING"}}, &r);
  REQUIRE(loop.runUntil([&] { return r.done(); }));
  CHECK(r.isReply(REDIS_REPLY_STATUS));
  CHECK(r.str == "PONG");
}

TEST_CASE("stop() completes pending commands with kShutdown", "[redis]") {
  RedisServer server;
  REQUIRE(server.start());
  TestLoop loop;
  Conn conn(loop, optionsFor(server));
  REQUIRE(conn.waitConnected());

  Result in_flight;
  conn->send({{"BLPOP"}, {"nothing"}, {"0"}}, &in_flight);
  loop.runFor(30ms);
  std::vector<Result> queued(3);
  for (Result& x : queued) conn->send({{"GET"}, {"k"}}, &x);
  Result sent_during_stop;
  bool stopped_seen_by_completion = false;
  queued[0].then = [&](Result&) {
    stopped_seen_by_completion = conn.stopped();
    conn->send({{"GET"}, {"k"}}, &sent_during_stop);  // after stop(): fails too, never hangs
  };
  conn.stop();
  CHECK(queued[0].calls == 0);  // not synchronously inside stop()
  CHECK(in_flight.calls == 0);
  REQUIRE(loop.runUntil([&] { return conn.stopped(); }));
  CHECK(in_flight.isFailure(RedisFailure::kShutdown));
  for (Result& x : queued) CHECK(x.isFailure(RedisFailure::kShutdown));
  CHECK(sent_during_stop.isFailure(RedisFailure::kShutdown));
  CHECK_FALSE(stopped_seen_by_completion);  // completions first, then done
  CHECK_FALSE(conn->connected());
}

TEST_CASE("stop() before connecting and without start()", "[redis]") {
  TestLoop loop;
  RedisOptions o;
  o.endpoint.port = test::freeTcpPort();
  {
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    conn.stop();
    REQUIRE(loop.runUntil([&] { return conn.stopped(); }));
    CHECK(r.isFailure(RedisFailure::kShutdown));
  }
  {
    auto never_started = std::make_unique<RedisConnection>(loop.get(), o);
    Result r;
    never_started->send({{"PING"}}, &r);
    bool done = false;
    never_started->stop([&] { done = true; });
    CHECK_FALSE(done);
    REQUIRE(loop.runUntil([&] { return done; }));
    CHECK(r.isFailure(RedisFailure::kShutdown));
  }
}

}  // namespace
}  // namespace mcbridge::backend

namespace mcbridge::backend {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using test::TestLoop;

// A TLS-only redis-server (--port 0 --tls-port P) with a CA and certificates made for the test.
struct TlsServer {
  TlsServer(std::vector<std::string> extra = {}) : server(serverOptions(std::move(extra))) {}
  static RedisServer::Options serverOptions(std::vector<std::string> extra) {
    RedisServer::Options o;
    o.tls = true;
    o.extra_args = std::move(extra);
    return o;
  }
  bool start(std::string* error) {
    if (!test::makeTestCertificates(server.dir(), error)) return false;
    // The certificate paths are only known once the scratch dir exists.
    std::vector<std::string> args = test::tlsServerArgs(server.dir());
    for (const std::string& a : extra_args_after) args.push_back(a);
    restart_args = args;
    return startWith(args, error);
  }
  bool startWith(const std::vector<std::string>& args, std::string* error) {
    server.setExtraArgs(args);
    if (server.start()) return true;
    *error = "redis-server with TLS did not start: " + server.lastLog();
    return false;
  }
  RedisOptions options() const {
    RedisOptions o = optionsFor(server);
    o.endpoint.tls = true;
    o.endpoint.tls_ca_file = server.dir() + "/ca.crt";
    return o;
  }
  RedisServer server;
  std::vector<std::string> extra_args_after;
  std::vector<std::string> restart_args;
};

TEST_CASE("TLS: round trip, pipelining, large values", "[redis][tls]") {
  TlsServer tls;
  std::string error;
  REQUIRE(tls.start(&error));
  TestLoop loop;
  Conn conn(loop, tls.options());

  const std::string big(1 << 20, 'y');
  Result set;
  Result get;
  conn->send({{"SET"}, {"big"}, {"\r\n\0"s, big}}, &set);
  conn->send({{"GET"}, {"big"}}, &get);
  REQUIRE(loop.runUntil([&] { return get.done(); }));
  CHECK(set.str == "OK");
  REQUIRE(get.isReply(REDIS_REPLY_STRING));
  CHECK(get.str == "\r\n\0"s + big);
  CHECK(conn->connected());

  std::vector<Result> r(1000);
  for (Result& x : r) conn->send({{"INCR"}, {"n"}}, &x);
  REQUIRE(loop.runUntil([&] { return allDone(r); }));
  for (size_t i = 0; i < r.size(); ++i) CHECK(r[i].integer == static_cast<long long>(i + 1));
}

TEST_CASE("TLS: AUTH, SELECT and reconnect after the server restarts", "[redis][tls]") {
  TlsServer tls;
  tls.extra_args_after = {"--requirepass", "pw"};
  std::string error;
  REQUIRE(tls.start(&error));
  TestLoop loop;
  RedisOptions o = tls.options();
  o.endpoint.password = "pw";
  o.endpoint.db = 2;
  Conn conn(loop, o);
  Result blocked;
  conn->send({{"BLPOP"}, {"none"}, {"0"}}, &blocked);
  REQUIRE(conn.waitConnected());
  loop.runFor(30ms);
  tls.server.kill();
  REQUIRE(loop.runUntil([&] { return blocked.done(); }));
  CHECK(blocked.isFailure(RedisFailure::kDisconnected));
  REQUIRE(tls.startWith(tls.restart_args, &error));
  Result ping;
  conn->send({{"CLIENT"}, {"INFO"}}, &ping);
  REQUIRE(loop.runUntil([&] { return ping.done(); }));
  REQUIRE(ping.isReply(REDIS_REPLY_STRING));
  CHECK(ping.str.find(" db=2 ") != std::string::npos);
  CHECK(conn->counters().reconnects.get() == 1);
}

TEST_CASE("TLS: verification failures are clear and commands fail", "[redis][tls]") {
  TlsServer tls;
  std::string error;
  REQUIRE(tls.start(&error));
  TestLoop loop;

  SECTION("a CA that did not sign the server's certificate") {
    RedisOptions o = tls.options();
    o.endpoint.tls_ca_file = tls.server.dir() + "/other-ca.crt";
    o.request_timeout = 200ms;
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isFailure(RedisFailure::kTimeout));
    CHECK_FALSE(conn->connected());
    INFO(conn->lastError());
    CHECK(conn->lastError().find("TLS handshake failed") != std::string::npos);
    CHECK(conn->lastError().find("certificate verify failed") != std::string::npos);
  }
  SECTION("a name the certificate does not carry") {
    RedisOptions o = tls.options();
    o.endpoint.tls_server_name = "redis.example.com";
    o.request_timeout = 200ms;
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isFailure(RedisFailure::kTimeout));
    INFO(conn->lastError());
    CHECK(conn->lastError().find("hostname mismatch") != std::string::npos);
  }
  SECTION("the right name via SNI/host name verification") {
    RedisOptions o = tls.options();
    o.endpoint.tls_server_name = "localhost";
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.str == "PONG");
  }
  SECTION("tls_verify=false accepts any certificate") {
    RedisOptions o = tls.options();
    o.endpoint.tls_ca_file = tls.server.dir() + "/other-ca.crt";
    o.endpoint.tls_verify = false;
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.str == "PONG");
  }
  SECTION("a missing CA file") {
    RedisOptions o = tls.options();
    o.endpoint.tls_ca_file = tls.server.dir() + "/does-not-exist.pem";
    o.request_timeout = 200ms;
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.isFailure(RedisFailure::kTimeout));
    CHECK(conn->lastError().find("cannot load the CA file") != std::string::npos);
  }
  SECTION("plain TCP to a TLS port fails, never hangs") {
    RedisOptions o = tls.options();
    o.endpoint.tls = false;
    o.request_timeout = 300ms;
    Conn conn(loop, o);
    Result r;
    conn->send({{"PING"}}, &r);
    REQUIRE(loop.runUntil([&] { return r.done(); }));
    CHECK(r.failed);
  }
}

}  // namespace
}  // namespace mcbridge::backend
