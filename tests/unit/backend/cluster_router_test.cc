// The cluster router against a fake cluster: links that record every command and answer when
// the test says so (MOVED, ASK, TRYAGAIN, CLUSTERDOWN on cue). No sockets; tests/cluster/ runs
// the same paths against real redis-server processes.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cluster_router.h"
#include "backend/hash_slot.h"
#include "unit/support/reply_builder.h"
#include "unit/support/uv_loop.h"

using namespace mcbridge;
using namespace mcbridge::backend;
using mcbridge::test::Reply;

namespace {

struct Sent {
  std::vector<std::string> args;
  RedisCompletion* completion;
  uint32_t merge_group;
};

class FakeLink final : public NodeLink {
 public:
  explicit FakeLink(std::string addr) : address(std::move(addr)) {}
  void start() override { started = true; }
  void stop(std::function<void()> done) override {
    auto pending = std::move(sent);
    sent.clear();
    for (Sent& s : pending) s.completion->onRedisFailure(RedisFailure::kShutdown);
    done();
  }
  void send(std::span<const RedisArg> args, RedisCompletion* completion,
            uint32_t merge_group) override {
    Sent s{{}, completion, merge_group};
    for (const RedisArg& a : args) s.args.push_back(std::string(a.first) + std::string(a.second));
    sent.push_back(std::move(s));
  }
  bool connected() const override { return up; }
  const RedisCounters& counters() const override { return counters_; }

  // Answers the oldest command (FIFO, as Redis does).
  Sent pop() {
    REQUIRE_FALSE(sent.empty());
    Sent s = sent.front();
    sent.erase(sent.begin());
    return s;
  }
  void reply(const Reply& r) {
    Sent s = pop();
    s.completion->onRedisReply(r.get());
  }

  std::string address;
  std::vector<Sent> sent;
  bool started = false;
  bool up = true;
  RedisCounters counters_;
};

// Three primaries a:1 (slots 0-5460), b:1 (5461-10922), c:1 (10923-16383), replicas a:2 ...
Reply threeShards(const std::string& owner_of_low = "a") {
  auto node = [](const std::string& host, int port) {
    return Reply::array({Reply::string(host), Reply::integer(port), Reply::string(host + "id")});
  };
  return Reply::array({
      Reply::array(
          {Reply::integer(0), Reply::integer(5460), node(owner_of_low, 1), node(owner_of_low, 2)}),
      Reply::array({Reply::integer(5461), Reply::integer(10922), node("b", 1), node("b", 2)}),
      Reply::array({Reply::integer(10923), Reply::integer(16383), node("c", 1), node("c", 2)}),
  });
}

struct Result final : RedisCompletion {
  int calls = 0;
  int type = -1;
  std::string text;
  std::vector<std::string> elements;  // "nil" for a nil element
  bool failed = false;
  RedisFailure failure{};
  void onRedisReply(const redisReply* r) override {
    ++calls;
    type = r->type;
    if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        elements.push_back(e->type == REDIS_REPLY_NIL ? "nil" : std::string(e->str, e->len));
      }
    } else if (r->str != nullptr) {
      text.assign(r->str, r->len);
    }
  }
  void onRedisFailure(RedisFailure f) override {
    ++calls;
    failed = true;
    failure = f;
  }
};

struct Cluster {
  test::TestLoop loop;
  std::map<std::string, FakeLink*> links;  // owned by the router
  std::unique_ptr<ClusterRouter> router;
  bool stopped = false;

  explicit Cluster(ClusterRouterOptions o = {}) {
    if (o.seed.empty()) o.seed = "seed:1";
    o.refresh_min_interval = std::chrono::milliseconds(20);
    o.tick = std::chrono::milliseconds(2);
    router = std::make_unique<ClusterRouter>(loop.get(), o, [this](const std::string& address) {
      auto link = std::make_unique<FakeLink>(address);
      links[address] = link.get();
      return link;
    });
  }
  ~Cluster() {
    router->stop([this] { stopped = true; });
    loop.runUntil([this] { return stopped; });
  }
  FakeLink& link(const std::string& address) {
    REQUIRE(links.count(address) == 1);
    return *links[address];
  }
  // Starts and answers the first CLUSTER SLOTS.
  void startWithMap() {
    router->start();
    Sent s = link("seed:1").pop();
    REQUIRE(s.args == std::vector<std::string>{"CLUSTER", "SLOTS"});
    Reply map = threeShards();
    s.completion->onRedisReply(map.get());
    REQUIRE(router->mode() == ClusterRouter::Mode::kCluster);
  }
  void set(const std::string& key, Result* r) {
    router->send(Route::key(1), {{"SET"}, {key}, {"v"}}, r);
  }
};

std::string nodeOf(uint16_t slot) { return slot <= 5460 ? "a:1" : slot <= 10922 ? "b:1" : "c:1"; }

}  // namespace

TEST_CASE("auto mode: a standalone Redis gets every command as it is", "[cluster]") {
  Cluster c;
  Result r;
  c.router->send(Route::key(1), {{"SET"}, {"k"}, {"v"}}, &r);  // before the mode is known: held
  c.router->start();
  FakeLink& seed = c.link("seed:1");
  REQUIRE(seed.sent.size() == 1);
  CHECK(seed.sent[0].args[0] == "CLUSTER");
  seed.reply(Reply::error("ERR This instance has cluster support disabled"));
  CHECK(c.router->mode() == ClusterRouter::Mode::kStandalone);
  REQUIRE(seed.sent.size() == 1);
  CHECK(seed.sent[0].args == std::vector<std::string>{"SET", "k", "v"});
  seed.reply(Reply::status("OK"));
  CHECK(r.calls == 1);
  CHECK(r.text == "OK");
  Result g;
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"k"}}, &g);
  REQUIRE(seed.sent.size() == 1);
  CHECK(seed.sent[0].merge_group == 0);  // merged with other MGETs as in standalone mode
  CHECK(seed.sent[0].completion == &g);  // no copy, no wrapper
  seed.reply(Reply::array({Reply::string("v")}));
  CHECK(g.elements == std::vector<std::string>{"v"});
}

TEST_CASE("commands go to the primary of their key's slot", "[cluster]") {
  Cluster c;
  c.startWithMap();
  for (const char* key : {"foo", "bar", "hello", "{user1000}.following"}) {
    Result r;
    c.set(key, &r);
    FakeLink& owner = c.link(nodeOf(keySlot(std::string_view(key))));
    REQUIRE(owner.sent.size() == 1);
    CHECK(owner.sent[0].args[1] == key);
    owner.reply(Reply::status("OK"));
    CHECK(r.calls == 1);
    CHECK(r.text == "OK");
  }
  CHECK(c.router->slots().complete());
  CHECK(c.links.count("a:2") == 0);  // replicas are not connected unless reads go there
}

TEST_CASE("MOVED re-sends to the new owner, fixes the slot and asks for a refresh", "[cluster]") {
  Cluster c;
  c.startWithMap();
  const uint16_t slot = keySlot(std::string_view("foo"));  // 12182: c:1
  // A refresh is in flight (asked for by an earlier MOVED of another slot)...
  Result first;
  c.set("hello", &first);
  c.link("a:1").reply(Reply::error("MOVED 866 b:1"));
  c.link("b:1").reply(Reply::status("OK"));
  REQUIRE(c.loop.runUntil([&] { return !c.link("seed:1").sent.empty(); }));
  // ...when foo's slot moves.
  Result r;
  c.set("foo", &r);
  c.link("c:1").reply(Reply::error("MOVED 12182 d:1"));
  CHECK(r.calls == 0);
  FakeLink& d = c.link("d:1");
  REQUIRE(d.sent.size() == 1);
  CHECK(d.sent[0].args[0] == "SET");
  CHECK(c.router->nodeAddress(c.router->slots().primary(slot)) == "d:1");
  d.reply(Reply::status("OK"));
  CHECK(r.calls == 1);
  CHECK(r.text == "OK");
  // The refresh asked before this MOVED answers with the old owner: the fix stays.
  c.link("seed:1").reply(threeShards());
  CHECK(c.router->nodeAddress(c.router->slots().primary(slot)) == "d:1");
  // The next refresh (asked after the MOVED) is the truth, whatever it says.
  REQUIRE(c.loop.runUntil([&] { return !c.link("seed:1").sent.empty(); }));
  c.link("seed:1").reply(threeShards());
  CHECK(c.router->nodeAddress(c.router->slots().primary(slot)) == "c:1");
}

TEST_CASE("ASK sends ASKING + the command to the target and leaves the map alone", "[cluster]") {
  Cluster c;
  c.startWithMap();
  const uint16_t slot = keySlot(std::string_view("foo"));
  Result r;
  c.set("foo", &r);
  c.link("c:1").reply(Reply::error("ASK 12182 b:1"));
  FakeLink& b = c.link("b:1");
  REQUIRE(b.sent.size() == 2);
  CHECK(b.sent[0].args == std::vector<std::string>{"ASKING"});
  CHECK(b.sent[1].args[0] == "SET");
  CHECK(b.sent[1].merge_group == RedisConnection::kNoMerge);
  b.reply(Reply::status("OK"));
  b.reply(Reply::status("OK"));
  CHECK(r.text == "OK");
  CHECK(c.router->nodeAddress(c.router->slots().primary(slot)) == "c:1");
}

TEST_CASE("TRYAGAIN and CLUSTERDOWN are retried after a short backoff", "[cluster]") {
  Cluster c;
  c.startWithMap();
  Result r;
  c.set("foo", &r);
  FakeLink& owner = c.link("c:1");
  owner.reply(Reply::error("TRYAGAIN Multiple keys request during rehashing of slot"));
  CHECK(owner.sent.empty());
  REQUIRE(c.loop.runUntil([&] { return !owner.sent.empty(); }));
  owner.reply(Reply::error("CLUSTERDOWN The cluster is down"));
  REQUIRE(c.loop.runUntil([&] { return !owner.sent.empty(); }));
  CHECK(r.calls == 0);
  owner.reply(Reply::status("OK"));
  CHECK(r.calls == 1);
  CHECK(r.text == "OK");
}

TEST_CASE("retries end at the request timeout, never after", "[cluster]") {
  ClusterRouterOptions o;
  o.request_timeout = std::chrono::milliseconds(60);
  Cluster c(o);
  c.startWithMap();
  Result r;
  const auto start = std::chrono::steady_clock::now();
  c.set("foo", &r);
  FakeLink& owner = c.link("c:1");
  c.loop.runUntil([&] {
    if (!owner.sent.empty()) owner.reply(Reply::error("CLUSTERDOWN The cluster is down"));
    return r.calls > 0;
  });
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(r.calls == 1);
  CHECK(took < std::chrono::milliseconds(200));
  // The last answer within the deadline is the error itself (the translator makes it a
  // SERVER_ERROR); never MOVED/ASK text, never a hang.
  CHECK((r.failed || r.text.starts_with("CLUSTERDOWN")));
}

TEST_CASE("too many redirects end with the error reply", "[cluster]") {
  Cluster c;
  c.startWithMap();
  Result r;
  c.set("foo", &r);
  for (int i = 0; i < 10 && r.calls == 0; ++i) {
    FakeLink* l = nullptr;
    for (auto& [addr, link] : c.links) {
      if (!link->sent.empty() && link->sent[0].args[0] == "SET") l = link;
    }
    REQUIRE(l != nullptr);
    l->reply(Reply::error(i % 2 ? "MOVED 12182 c:1" : "MOVED 12182 b:1"));
  }
  CHECK(r.calls == 1);
  CHECK(r.text.starts_with("MOVED"));  // the translator answers SERVER_ERROR, never this text
}

TEST_CASE("a multi-get is split per slot and joined in key order", "[cluster]") {
  Cluster c;
  c.startWithMap();
  // foo: c:1, mc:key1: b:1, hello: a:1, {foo}x: same slot as foo.
  Result r;
  c.router->send(Route::keys(1, 4, true), {{"MGET"}, {"foo"}, {"mc:key1"}, {"hello"}, {"{foo}x"}},
                 &r);
  FakeLink& a = c.link("a:1");
  FakeLink& b = c.link("b:1");
  FakeLink& cc = c.link("c:1");
  REQUIRE(a.sent.size() == 1);
  REQUIRE(b.sent.size() == 1);
  REQUIRE(cc.sent.size() == 1);
  CHECK(cc.sent[0].args == std::vector<std::string>{"MGET", "foo", "{foo}x"});
  CHECK(cc.sent[0].merge_group == keySlot(std::string_view("foo")));
  CHECK(b.sent[0].args == std::vector<std::string>{"MGET", "mc:key1"});
  cc.reply(Reply::array({Reply::string("1"), Reply::string("4")}));
  a.reply(Reply::array({Reply::nil()}));
  CHECK(r.calls == 0);
  b.reply(Reply::array({Reply::string("2")}));
  REQUIRE(r.calls == 1);
  CHECK(r.elements == std::vector<std::string>{"1", "2", "nil", "4"});
}

TEST_CASE("a split script rewrites numkeys per part; a part's MOVED is followed", "[cluster]") {
  Cluster c;
  c.startWithMap();
  Result r;
  c.router->send(Route::keys(3, 2, false, 2),
                 {{"EVALSHA"}, {"sha"}, {"2"}, {"foo"}, {"mc:key1"}, {"EX"}, {"10"}}, &r);
  FakeLink& cc = c.link("c:1");
  FakeLink& b = c.link("b:1");
  REQUIRE(cc.sent.size() == 1);
  CHECK(cc.sent[0].args == std::vector<std::string>{"EVALSHA", "sha", "1", "foo", "EX", "10"});
  CHECK(b.sent[0].args == std::vector<std::string>{"EVALSHA", "sha", "1", "mc:key1", "EX", "10"});
  b.reply(Reply::error("MOVED 8525 a:1"));
  c.link("a:1").reply(Reply::array({Reply::string("B")}));
  cc.reply(Reply::array({Reply::string("F")}));
  REQUIRE(r.calls == 1);
  CHECK(r.elements == std::vector<std::string>{"F", "B"});
}

TEST_CASE("a multi-key command answered TRYAGAIN goes again one key at a time", "[cluster]") {
  // A migrating slot whose keys are split between source and target: Redis refuses the
  // multi-key command for as long as the migration lasts, but serves each key alone.
  Cluster c;
  c.startWithMap();
  Result r;
  // foo and {foo}x share c:1's slot 12182; mc:key1 is b:1's: the split is two parts, and the
  // gat script's numkeys is rewritten for each.
  c.router->send(Route::keys(3, 3, false, 2),
                 {{"EVALSHA"}, {"sha"}, {"3"}, {"foo"}, {"mc:key1"}, {"{foo}x"}, {"EX"}, {"9"}},
                 &r);
  FakeLink& cc = c.link("c:1");
  FakeLink& b = c.link("b:1");
  REQUIRE(cc.sent.size() == 1);
  CHECK(cc.sent[0].args ==
        std::vector<std::string>{"EVALSHA", "sha", "2", "foo", "{foo}x", "EX", "9"});
  cc.reply(Reply::error("TRYAGAIN Multiple keys request during rehashing of slot"));
  // At once, no backoff: one command per key, never merged.
  REQUIRE(cc.sent.size() == 2);
  CHECK(cc.sent[0].args == std::vector<std::string>{"EVALSHA", "sha", "1", "foo", "EX", "9"});
  CHECK(cc.sent[1].args == std::vector<std::string>{"EVALSHA", "sha", "1", "{foo}x", "EX", "9"});
  CHECK(cc.sent[0].merge_group == RedisConnection::kNoMerge);
  CHECK(cc.sent[1].merge_group == RedisConnection::kNoMerge);
  // The moved key is asked of the target.
  cc.reply(Reply::error("ASK 12182 d:1"));
  cc.reply(Reply::array({Reply::string("X")}));
  FakeLink& d = c.link("d:1");
  REQUIRE(d.sent.size() == 2);
  CHECK(d.sent[0].args == std::vector<std::string>{"ASKING"});
  d.reply(Reply::status("OK"));
  d.reply(Reply::array({Reply::string("F")}));
  CHECK(r.calls == 0);
  b.reply(Reply::array({Reply::nil()}));
  REQUIRE(r.calls == 1);
  CHECK(r.elements == std::vector<std::string>{"F", "nil", "X"});
  CHECK(c.router->nodeAddress(c.router->slots().primary(12182)) == "c:1");  // ASK: map unchanged
}

TEST_CASE("a single-key MGET retried after TRYAGAIN does not merge again", "[cluster]") {
  // Single-key MGETs of one slot merge on the node's connection; merged, they may span both
  // nodes of a migrating slot and get TRYAGAIN together. Retried, each goes alone.
  Cluster c;
  c.startWithMap();
  Result r1, r2;
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"foo"}}, &r1);
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"{foo}x"}}, &r2);
  FakeLink& cc = c.link("c:1");
  REQUIRE(cc.sent.size() == 2);
  CHECK(cc.sent[0].merge_group == keySlot(std::string_view("foo")));
  CHECK(cc.sent[1].merge_group == keySlot(std::string_view("foo")));
  cc.reply(Reply::error("TRYAGAIN Multiple keys request during rehashing of slot"));
  cc.reply(Reply::error("TRYAGAIN Multiple keys request during rehashing of slot"));
  REQUIRE(c.loop.runUntil([&] { return cc.sent.size() == 2; }));
  CHECK(cc.sent[0].merge_group == RedisConnection::kNoMerge);
  CHECK(cc.sent[1].merge_group == RedisConnection::kNoMerge);
  cc.reply(Reply::array({Reply::string("1")}));
  cc.reply(Reply::array({Reply::string("2")}));
  CHECK(r1.elements == std::vector<std::string>{"1"});
  CHECK(r2.elements == std::vector<std::string>{"2"});
}

TEST_CASE("a failed part fails the whole multi-get once", "[cluster]") {
  Cluster c;
  c.startWithMap();
  Result r;
  c.router->send(Route::keys(1, 2, true), {{"MGET"}, {"foo"}, {"mc:key1"}}, &r);
  Sent s = c.link("c:1").pop();
  s.completion->onRedisFailure(RedisFailure::kDisconnected);
  CHECK(r.calls == 0);
  c.link("b:1").reply(Reply::array({Reply::string("2")}));
  CHECK(r.calls == 1);
  CHECK(r.failed);
  CHECK(r.failure == RedisFailure::kDisconnected);
}

TEST_CASE("a partial multi-get keeps the healthy parts and marks the failed part's keys",
          "[cluster]") {
  // Route::partial (--miss-on-error): the translator reads error elements as misses.
  Cluster c;
  c.startWithMap();
  Result r;
  Route route = Route::keys(1, 4, true);
  route.partial = true;
  c.router->send(route, {{"MGET"}, {"foo"}, {"mc:key1"}, {"hello"}, {"{foo}x"}}, &r);
  Sent s = c.link("c:1").pop();  // foo, {foo}x
  s.completion->onRedisFailure(RedisFailure::kTimeout);
  c.link("a:1").reply(Reply::error("NOAUTH Authentication required"));  // hello
  CHECK(r.calls == 0);
  c.link("b:1").reply(Reply::array({Reply::string("2")}));  // mc:key1
  REQUIRE(r.calls == 1);
  REQUIRE_FALSE(r.failed);
  CHECK(r.type == REDIS_REPLY_ARRAY);
  CHECK(r.elements == std::vector<std::string>{"ERR backend timeout", "2",
                                               "NOAUTH Authentication required",
                                               "ERR backend timeout"});
}

TEST_CASE("after a timeout, partial commands for that node fail at once until it answers",
          "[cluster]") {
  // --miss-on-error: a multi-get in several parts (flow control) waits for a dead node once.
  Cluster c;
  c.startWithMap();
  Route partial = Route::keys(1, 1, true);
  partial.partial = true;
  Result first;
  c.router->send(partial, {{"MGET"}, {"foo"}}, &first);
  FakeLink& cc = c.link("c:1");
  cc.pop().completion->onRedisFailure(RedisFailure::kTimeout);
  CHECK(first.failed);
  // The next partial command for c:1 is not sent: it fails now.
  Result second;
  c.router->send(partial, {{"MGET"}, {"{foo}y"}}, &second);
  CHECK(cc.sent.empty());
  REQUIRE(second.calls == 1);
  CHECK(second.failure == RedisFailure::kDisconnected);
  // Other nodes are not affected; nor are commands without the flag.
  Result other, plain;
  c.router->send(partial, {{"MGET"}, {"hello"}}, &other);
  CHECK(c.link("a:1").sent.size() == 1);
  c.link("a:1").reply(Reply::array({Reply::nil()}));
  CHECK(other.elements == std::vector<std::string>{"nil"});
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"foo"}}, &plain);
  REQUIRE(cc.sent.size() == 1);
  // An answer from c:1 ends the suspicion at once.
  cc.reply(Reply::array({Reply::string("v")}));
  CHECK(plain.elements == std::vector<std::string>{"v"});
  Result third;
  c.router->send(partial, {{"MGET"}, {"foo"}}, &third);
  CHECK(cc.sent.size() == 1);
  CHECK(third.calls == 0);
  cc.reply(Reply::array({Reply::nil()}));
  CHECK(third.elements == std::vector<std::string>{"nil"});
}

TEST_CASE("partial reads skip a suspect replica: its primary answers", "[cluster]") {
  ClusterRouterOptions o;
  o.read_from_replica = true;
  Cluster c(o);
  c.startWithMap();
  Route partial = Route::keys(1, 1, true);
  partial.partial = true;
  Result first;
  c.router->send(partial, {{"MGET"}, {"foo"}}, &first);
  FakeLink& replica = c.link("c:2");
  FakeLink& primary = c.link("c:1");
  replica.pop().completion->onRedisFailure(RedisFailure::kTimeout);
  REQUIRE(primary.sent.size() == 1);  // a read failed on a replica goes to the primary
  primary.reply(Reply::array({Reply::string("v")}));
  CHECK(first.elements == std::vector<std::string>{"v"});
  Result second;
  c.router->send(partial, {{"MGET"}, {"foo"}}, &second);
  CHECK(replica.sent.empty());
  REQUIRE(primary.sent.size() == 1);
  primary.reply(Reply::array({Reply::nil()}));
  CHECK(second.elements == std::vector<std::string>{"nil"});
}

TEST_CASE("replica reads go to a connected replica and fall back to the primary", "[cluster]") {
  ClusterRouterOptions o;
  o.read_from_replica = true;
  Cluster c(o);
  c.startWithMap();
  Result r;
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"foo"}}, &r);
  FakeLink& replica = c.link("c:2");
  REQUIRE(replica.sent.size() == 1);
  replica.reply(Reply::error("LOADING Redis is loading the dataset in memory"));
  FakeLink& primary = c.link("c:1");
  REQUIRE(c.loop.runUntil([&] { return !primary.sent.empty(); }));
  primary.reply(Reply::array({Reply::string("v")}));
  CHECK(r.elements == std::vector<std::string>{"v"});
  // Writes always go to the primary.
  Result w;
  c.set("foo", &w);
  CHECK(primary.sent.size() == 1);
  CHECK(replica.sent.empty());
  // A replica that is down is skipped.
  replica.up = false;
  primary.reply(Reply::status("OK"));
  Result r2;
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"foo"}}, &r2);
  CHECK(primary.sent.size() == 1);
  CHECK(replica.sent.empty());
  primary.reply(Reply::array({Reply::nil()}));
  CHECK(r2.elements == std::vector<std::string>{"nil"});
}

TEST_CASE("readiness: every slot has a connected primary", "[cluster]") {
  Cluster c;
  CHECK_FALSE(c.router->ready());
  c.startWithMap();
  REQUIRE(c.loop.runUntil([&] { return c.router->ready(); }));
  c.link("b:1").up = false;
  REQUIRE(c.loop.runUntil([&] { return !c.router->ready(); }));
  // While not ready, the map is asked for again (rate-limited).
  REQUIRE(c.loop.runUntil([&] { return !c.link("seed:1").sent.empty(); }));
}

TEST_CASE(
    "nodes that leave the map are disconnected; whole-keyspace commands reach every "
    "primary",
    "[cluster]") {
  Cluster c;
  c.startWithMap();
  std::vector<std::string> primaries;
  c.router->forEachPrimary([&](const std::vector<std::string>& a) { primaries = a; });
  CHECK(primaries == std::vector<std::string>{"a:1", "b:1", "c:1"});
  Result r;
  const RedisArg flushdb[] = {{"FLUSHDB"}};
  c.router->sendToNode("b:1", flushdb, &r);
  CHECK(c.link("b:1").sent.back().args == std::vector<std::string>{"FLUSHDB"});
  c.link("b:1").reply(Reply::status("OK"));
  // A new view where e:1 took a:1's slots.
  c.router->send(Route::anyNode(), {{"PING"}}, &r);  // (any node: the seed)
  CHECK(c.link("seed:1").sent.size() == 1);
  c.link("seed:1").reply(Reply::status("PONG"));
  c.loop.runFor(std::chrono::milliseconds(30));
  // Ask for a refresh via a MOVED and answer it with the new view.
  Result m;
  c.set("hello", &m);
  c.link("a:1").reply(Reply::error("MOVED 866 e:1"));
  c.link("e:1").reply(Reply::status("OK"));
  REQUIRE(c.loop.runUntil([&] { return !c.link("seed:1").sent.empty(); }));
  c.link("seed:1").reply(threeShards("e"));
  CHECK(c.router->liveNodes() == 4);  // seed, b:1, c:1, e:1
  c.router->forEachPrimary([&](const std::vector<std::string>& a) { primaries = a; });
  CHECK(primaries == std::vector<std::string>{"e:1", "b:1", "c:1"});
}

TEST_CASE("standalone read endpoint: reads there, writes and fallbacks to the primary",
          "[cluster]") {
  ClusterRouterOptions o;
  o.mode = ClusterRouterOptions::Mode::kStandalone;
  o.read_from_replica = true;
  o.read_endpoint = "read:1";
  Cluster c(o);
  c.router->start();
  FakeLink& seed = c.link("seed:1");
  FakeLink& read = c.link("read:1");
  CHECK(seed.sent.empty());  // no CLUSTER SLOTS in forced standalone mode
  Result r;
  c.router->send(Route::keys(1, 1, true), {{"MGET"}, {"k"}}, &r);
  REQUIRE(read.sent.size() == 1);
  CHECK(read.sent[0].merge_group == 0);
  read.reply(Reply::error("LOADING Redis is loading the dataset in memory"));
  REQUIRE(c.loop.runUntil([&] { return !seed.sent.empty(); }));
  seed.reply(Reply::array({Reply::string("v")}));
  CHECK(r.elements == std::vector<std::string>{"v"});
  Result w;
  c.router->send(Route::key(1), {{"SET"}, {"k"}, {"v"}}, &w);
  REQUIRE(seed.sent.size() == 1);
  CHECK(seed.sent[0].completion == &w);  // writes as in standalone mode: no wrapper
  seed.reply(Reply::status("OK"));
  CHECK(w.text == "OK");
}
