// A client connection driven over a socketpair with a fake backend completed by hand: replies
// leave in request order whatever order Redis answers in, and a client that goes away with
// requests in flight is cleaned up safely (run under ASan in CI).
#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "backend/item.h"
#include "proxy/server.h"
#include "proxy/worker.h"

using namespace mcbridge;

namespace {

struct FakeBackend final : backend::CommandSink {
  struct Call {
    std::vector<std::string> args;
    backend::RedisCompletion* completion;
  };
  std::vector<Call> calls;
  void send(const backend::Route&, std::span<const backend::RedisArg> args,
            backend::RedisCompletion* c) override {
    Call call{{}, c};
    for (const auto& a : args) call.args.push_back(std::string(a.first) + std::string(a.second));
    calls.push_back(std::move(call));
  }
};

redisReply nilReply() {
  redisReply r{};
  r.type = REDIS_REPLY_NIL;
  return r;
}

redisReply stringReply(const std::string& s) {
  redisReply r{};
  r.type = REDIS_REPLY_STRING;
  r.str = const_cast<char*>(s.data());
  r.len = s.size();
  return r;
}

// An MGET reply of one element (a get of one key is an MGET).
struct OneKeyReply {
  redisReply element;
  redisReply* elements[1] = {&element};
  redisReply array{};
  explicit OneKeyReply(redisReply e) : element(e) {
    array.type = REDIS_REPLY_ARRAY;
    array.elements = 1;
    array.element = elements;
  }
  OneKeyReply(const OneKeyReply&) = delete;
  const redisReply* get() const { return &array; }
};

std::string item(uint32_t flags, std::string_view data) {
  char h[backend::kHeaderSize];
  backend::encodeHeader(flags, 42, h);
  return std::string(h, sizeof h) + std::string(data);
}

struct Harness {
  config::Options options;
  proxy::Server server{options};
  backend::RedisOptions redis;
  proxy::Worker worker{&server, 0, redis};
  FakeBackend backend;
  int peer = -1;

  explicit Harness(config::Options o = {}) : options(std::move(o)) {
    std::signal(SIGPIPE, SIG_IGN);  // as mcbridge does: a vanished client is an error code
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    peer = fds[1];
    worker.setSinkForTesting(&backend);
    worker.adoptClientForTesting(fds[0]);
  }
  ~Harness() {
    if (peer >= 0) ::close(peer);
    // Let the connection see EOF and close, then stop: every handle must be closed cleanly.
    spin(20);
    worker.stop();
    for (int i = 0; i < 200 && uv_run(worker.loop(), UV_RUN_NOWAIT) != 0; ++i) {
    }
  }
  void spin(int turns = 5) {
    for (int i = 0; i < turns; ++i) uv_run(worker.loop(), UV_RUN_NOWAIT);
  }
  void write(std::string_view bytes) {
    REQUIRE(::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    spin();
  }
  std::string read() {
    spin();
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(peer, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("replies leave in request order when Redis answers out of order", "[proxy]") {
  Harness h;
  h.write("get a\r\nget b\r\nversion\r\nget c\r\n");
  REQUIRE(h.backend.calls.size() == 3);
  CHECK(h.backend.calls[0].args == std::vector<std::string>{"MGET", "a"});
  CHECK(h.backend.calls[2].args == std::vector<std::string>{"MGET", "c"});

  // Complete c, then b: nothing may leave before a.
  const std::string vc = item(3, "C"), vb = item(2, "B");
  OneKeyReply rc(stringReply(vc)), rb(stringReply(vb)), ra(nilReply());
  h.backend.calls[2].completion->onRedisReply(rc.get());
  h.backend.calls[1].completion->onRedisReply(rb.get());
  CHECK(h.read().empty());
  h.backend.calls[0].completion->onRedisReply(ra.get());
  CHECK(h.read() == "END\r\nVALUE b 2 1\r\nB\r\nEND\r\nVERSION 1.6.18\r\nVALUE c 3 1\r\nC\r\nEND\r\n");
}

TEST_CASE("a request split across reads is parsed once complete", "[proxy]") {
  Harness h;
  h.write("set k 1 0 5\r\nhe");
  CHECK(h.backend.calls.empty());
  h.write("llo\r");
  CHECK(h.backend.calls.empty());
  h.write("\n");
  REQUIRE(h.backend.calls.size() == 1);
  CHECK(h.backend.calls[0].args[0] == "SET");
  redisReply ok{};
  ok.type = REDIS_REPLY_STATUS;
  ok.str = const_cast<char*>("OK");
  ok.len = 2;
  h.backend.calls[0].completion->onRedisReply(&ok);
  CHECK(h.read() == "STORED\r\n");
}

TEST_CASE("parse errors take their place in the reply order", "[proxy]") {
  Harness h;
  h.write("get a\r\nbogus\r\nget b\r\n");
  REQUIRE(h.backend.calls.size() == 2);
  OneKeyReply nil(nilReply());
  h.backend.calls[1].completion->onRedisReply(nil.get());
  CHECK(h.read().empty());
  h.backend.calls[0].completion->onRedisReply(nil.get());
  CHECK(h.read() == "END\r\nERROR\r\nEND\r\n");
}

TEST_CASE("a client closing with requests in flight is freed after the completions", "[proxy]") {
  auto* h = new Harness;
  h->write("get a\r\nget b\r\n");
  REQUIRE(h->backend.calls.size() == 2);
  std::vector<FakeBackend::Call> calls = h->backend.calls;
  ::close(h->peer);
  h->peer = -1;
  h->spin(20);
  // The socket is gone; the completions still arrive and must not touch freed memory.
  OneKeyReply nil(nilReply());
  calls[1].completion->onRedisReply(nil.get());
  calls[0].completion->onRedisFailure(backend::RedisFailure::kTimeout);
  h->spin(5);
  CHECK(h->worker.counters().curr_connections.load() == 0);
  delete h;
}

TEST_CASE("quit answers earlier requests, then closes", "[proxy]") {
  Harness h;
  h.write("get a\r\nquit\r\nversion\r\n");
  REQUIRE(h.backend.calls.size() == 1);
  OneKeyReply nil(nilReply());
  h.backend.calls[0].completion->onRedisReply(nil.get());
  h.spin(10);
  CHECK(h.read() == "END\r\n");
  char c;
  CHECK(::recv(h.peer, &c, 1, MSG_DONTWAIT) == 0);  // EOF: closed, version never answered
}

TEST_CASE("a large value is written from the Redis reply, the rest kept in order", "[proxy]") {
  Harness h;
  h.write("get big\r\ngets big\r\nget small\r\n");
  REQUIRE(h.backend.calls.size() == 3);
  // 600 KB: more than a socketpair takes at once, so part of it waits in the connection.
  std::string data(600 * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 23);
  data[1000] = '\r';
  data[1001] = '\n';
  std::string big = item(7, data);
  std::string small = item(1, "s");
  {
    OneKeyReply rb(stringReply(big));
    h.backend.calls[0].completion->onRedisReply(rb.get());
    // The reply (and Redis's read buffer behind it) is gone after the call: scribble over it.
    std::fill(big.begin(), big.end(), 'X');
  }
  std::string big2 = item(7, data);
  OneKeyReply rb2(stringReply(big2)), rs(stringReply(small));
  h.backend.calls[1].completion->onRedisReply(rb2.get());
  h.backend.calls[2].completion->onRedisReply(rs.get());
  const std::string cas = std::to_string(backend::decodeItem(big2).cas);
  const std::string expected = "VALUE big 7 " + std::to_string(data.size()) + "\r\n" + data +
                               "\r\nEND\r\nVALUE big 7 " + std::to_string(data.size()) + " " +
                               cas + "\r\n" + data + "\r\nEND\r\nVALUE small 1 1\r\ns\r\nEND\r\n";
  std::string got;
  for (int i = 0; i < 2000 && got.size() < expected.size(); ++i) got += h.read();
  REQUIRE(got.size() == expected.size());
  CHECK(got == expected);
  CHECK(h.worker.counters().bytes_written.get() == expected.size());
}

TEST_CASE("a mid-size value of a connection's last request is written without a copy", "[proxy]") {
  Harness h;
  h.write("gets mid\r\n");
  REQUIRE(h.backend.calls.size() == 1);
  const std::string data(5000, 'm');
  std::string raw = item(3, data);
  {
    OneKeyReply r(stringReply(raw));
    h.backend.calls[0].completion->onRedisReply(r.get());
    std::fill(raw.begin(), raw.end(), 'X');  // the reply's memory is gone after the call
  }
  const std::string expected = "VALUE mid 3 5000 42\r\n" + data + "\r\nEND\r\n";
  std::string got;
  for (int i = 0; i < 200 && got.size() < expected.size(); ++i) got += h.read();
  CHECK(got == expected);
  CHECK(h.worker.counters().bytes_written.get() == expected.size());
}

namespace {

// A binary request packet (protocol/binary.h); opaque stored as sent.
std::string binPacket(uint8_t opcode, std::string_view key, std::string_view extras,
                      std::string_view value, uint32_t opaque) {
  std::string p(24, '\0');
  p[0] = static_cast<char>(0x80);
  p[1] = static_cast<char>(opcode);
  p[2] = static_cast<char>(key.size() >> 8);
  p[3] = static_cast<char>(key.size());
  p[4] = static_cast<char>(extras.size());
  const size_t body = key.size() + extras.size() + value.size();
  p[8] = static_cast<char>(body >> 24);
  p[9] = static_cast<char>(body >> 16);
  p[10] = static_cast<char>(body >> 8);
  p[11] = static_cast<char>(body);
  std::memcpy(&p[12], &opaque, 4);
  return p + std::string(extras) + std::string(key) + std::string(value);
}

config::Options smallParts() {
  config::Options o;
  o.multiget_part_size = 4096;  // below the first estimate (256 KB a key): one key a part
  o.client_reply_budget = 64 * 1024;
  return o;
}

}  // namespace

TEST_CASE("binary: quiet gets answered out of order still reply in order, NOOP last",
          "[proxy]") {
  Harness h;
  h.write(binPacket(0x0d, "a", "", "", 1) + binPacket(0x0d, "b", "", "", 2) +
          binPacket(0x0d, "c", "", "", 3) + binPacket(0x0a, "", "", "", 4));
  REQUIRE(h.backend.calls.size() == 3);
  CHECK(h.backend.calls[1].args == std::vector<std::string>{"MGET", "b"});
  const std::string vb = item(2, "B"), vc = item(3, "C");
  OneKeyReply rc(stringReply(vc)), rb(stringReply(vb)), ra(nilReply());
  h.backend.calls[2].completion->onRedisReply(rc.get());
  h.backend.calls[1].completion->onRedisReply(rb.get());
  CHECK(h.read().empty());
  h.backend.calls[0].completion->onRedisReply(ra.get());  // a miss: GETKQ stays silent
  const std::string out = h.read();
  // b's packet: header 24 + flags 4 + key 1 + value 1; then c's; then the NOOP.
  REQUIRE(out.size() == 30 + 30 + 24);
  CHECK(out.substr(24, 6) == std::string("\0\0\0\2bB", 6));
  CHECK(out[12] == 2);
  CHECK(out.substr(30 + 24, 6) == std::string("\0\0\0\3cC", 6));
  CHECK(static_cast<unsigned char>(out[60 + 1]) == 0x0a);
  CHECK(out[60 + 12] == 4);
}

TEST_CASE("binary: a client closing with quiet requests in flight is freed safely", "[proxy]") {
  auto* h = new Harness;
  h->write(binPacket(0x09, "a", "", "", 1) + binPacket(0x11, "k", std::string(8, '\0'), "v", 2));
  REQUIRE(h->backend.calls.size() == 2);
  std::vector<FakeBackend::Call> calls = h->backend.calls;
  ::close(h->peer);
  h->peer = -1;
  h->spin(20);
  OneKeyReply nil(nilReply());
  calls[0].completion->onRedisReply(nil.get());
  calls[1].completion->onRedisFailure(backend::RedisFailure::kTimeout);
  h->spin(5);
  CHECK(h->worker.counters().curr_connections.load() == 0);
  delete h;
}

TEST_CASE("a multi-get goes to Redis in parts, streams, and later requests wait", "[proxy][flow]") {
  Harness h(smallParts());
  h.write("get a b c\r\nversion\r\nget d\r\n");
  REQUIRE(h.backend.calls.size() == 1);
  CHECK(h.backend.calls[0].args == std::vector<std::string>{"MGET", "a"});
  const std::string va = item(1, "A"), vc = item(3, "C"), vd = item(4, "D");
  OneKeyReply ra(stringReply(va)), rb(nilReply()), rc(stringReply(vc)), rd(stringReply(vd));
  h.backend.calls[0].completion->onRedisReply(ra.get());
  h.spin();
  // The first part's value leaves at once; the next part is sent; nothing after the get yet.
  CHECK(h.read() == "VALUE a 1 1\r\nA\r\n");
  REQUIRE(h.backend.calls.size() == 2);
  CHECK(h.backend.calls[1].args == std::vector<std::string>{"MGET", "b"});
  h.backend.calls[1].completion->onRedisReply(rb.get());
  h.spin();
  REQUIRE(h.backend.calls.size() == 3);
  CHECK(h.backend.calls[2].args == std::vector<std::string>{"MGET", "c"});
  // The last part is at Redis; the requests behind it wait while its expected bytes fill the
  // client's budget, and go once it is answered.
  h.spin();
  CHECK(h.backend.calls.size() == 3);
  h.backend.calls[2].completion->onRedisReply(rc.get());
  h.spin();
  REQUIRE(h.backend.calls.size() == 4);
  CHECK(h.backend.calls[3].args == std::vector<std::string>{"MGET", "d"});
  h.backend.calls[3].completion->onRedisReply(rd.get());
  CHECK(h.read() == "VALUE c 3 1\r\nC\r\nEND\r\nVERSION 1.6.18\r\nVALUE d 4 1\r\nD\r\nEND\r\n");
  CHECK(h.worker.counters().multiget_parts.get() == 2);
  CHECK(h.worker.counters().reply_bytes_expected.load() == 0);
  CHECK(h.worker.counters().reply_bytes_buffered.load() == 0);
}

TEST_CASE("a slow reader's next part waits; closing releases everything", "[proxy][flow]") {
  auto* h = new Harness(smallParts());
  std::string line = "get big";
  for (int i = 0; i < 20; ++i) line += " x" + std::to_string(i);
  h->write(line + "\r\n");
  REQUIRE(h->backend.calls.size() == 1);
  // 600 KB: more than the socketpair takes, and the peer does not read.
  std::string big = item(7, std::string(600 * 1024, 'b'));
  {
    OneKeyReply rb(stringReply(big));
    h->backend.calls[0].completion->onRedisReply(rb.get());
  }
  h->spin(10);
  // Over its budget: the next part is not sent while the client has not read.
  CHECK(h->backend.calls.size() == 1);
  CHECK(h->worker.counters().flow_holds.get() >= 1);
  CHECK(h->worker.counters().reply_bytes_buffered.load() > 0);
  // Reading drains it: the next part leaves.
  std::string got;
  for (int i = 0; i < 200 && h->backend.calls.size() == 1; ++i) got += h->read();
  REQUIRE(h->backend.calls.size() == 2);
  CHECK(h->backend.calls[1].args == std::vector<std::string>{"MGET", "x0"});
  // The client goes away with a part in flight: its late completion is absorbed, the failed
  // write closes the connection, no further part is fetched, and the budgets are released.
  ::close(h->peer);
  h->peer = -1;
  h->spin(20);
  const std::string small = item(0, "v");
  OneKeyReply value(stringReply(small));
  size_t answered = 1;
  for (int i = 0; i < 50 && answered < h->backend.calls.size(); ++i) {
    h->backend.calls[answered++].completion->onRedisReply(value.get());
    h->spin(5);
  }
  CHECK(h->backend.calls.size() <= 3);
  CHECK(h->worker.counters().curr_connections.load() == 0);
  CHECK(h->worker.counters().reply_bytes_expected.load() == 0);
  CHECK(h->worker.counters().reply_bytes_buffered.load() == 0);
  delete h;
}
