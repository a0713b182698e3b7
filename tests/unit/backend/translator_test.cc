// The translator as a table: memcache request in, exact Redis arguments out; Redis reply in,
// exact memcache bytes out. No sockets.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "backend/exptime.h"
#include "backend/item.h"
#include "backend/scripts.h"
#include "backend/translator.h"
#include "protocol/parser.h"

using namespace mcbridge;
using backend::RedisArg;

namespace {

struct RecordingSink final : backend::CommandSink {
  std::vector<std::vector<std::string>> commands;
  std::vector<backend::RedisCompletion*> completions;
  std::vector<backend::Route> routes;
  void send(const backend::Route& route, std::span<const RedisArg> args,
            backend::RedisCompletion* c) override {
    routes.push_back(route);
    std::vector<std::string> cmd;
    for (const RedisArg& a : args) cmd.push_back(std::string(a.first) + std::string(a.second));
    commands.push_back(std::move(cmd));
    completions.push_back(c);
  }
};

struct NullCompletion final : backend::RedisCompletion {
  void onRedisReply(const redisReply*) override {}
  void onRedisFailure(backend::RedisFailure) override {}
};

constexpr int64_t kNow = 1'800'000'000;

struct Fixture {
  backend::Counters counters;
  backend::CasGenerator cas{1000};
  backend::Translator translator;
  RecordingSink sink;
  NullCompletion completion;
  backend::PendingOp op;
  std::string out;

  explicit Fixture(backend::TranslatorOptions o = {}) : translator(std::move(o), &cas, &counters) {}

  // Parses `text` as one request and starts it. Returns whether Redis was asked.
  bool start(std::string_view text) {
    protocol::Parser parser;
    protocol::Request req;
    protocol::ParseResult r = parser.parse(text, &req);
    REQUIRE(r.status == protocol::ParseStatus::kOk);
    return translator.start(req, kNow, &op, &sink, &completion, &out);
  }
  // The same, sending at most `max_keys` keys of a retrieval now.
  bool startPart(std::string_view text, uint32_t max_keys) {
    protocol::Parser parser;
    protocol::Request req;
    protocol::ParseResult r = parser.parse(text, &req);
    REQUIRE(r.status == protocol::ParseStatus::kOk);
    return translator.start(req, kNow, &op, &sink, &completion, &out, max_keys);
  }
  const std::vector<std::string>& last() const { return sink.commands.back(); }
};

redisReply stringReply(const std::string& s) {
  redisReply r{};
  r.type = REDIS_REPLY_STRING;
  r.str = const_cast<char*>(s.data());
  r.len = s.size();
  return r;
}
redisReply intReply(long long n) {
  redisReply r{};
  r.type = REDIS_REPLY_INTEGER;
  r.integer = n;
  return r;
}
redisReply statusReply(const char* s) {
  redisReply r{};
  r.type = REDIS_REPLY_STATUS;
  r.str = const_cast<char*>(s);
  r.len = std::strlen(s);
  return r;
}
redisReply errorReply(const char* s) {
  redisReply r = statusReply(s);
  r.type = REDIS_REPLY_ERROR;
  return r;
}
redisReply nilReply() {
  redisReply r{};
  r.type = REDIS_REPLY_NIL;
  return r;
}

// A one-element array reply around *e (valid until the next call).
const redisReply& oneOf(redisReply* e) {
  static redisReply* elements[1];
  static redisReply array;
  elements[0] = e;
  array = redisReply{};
  array.type = REDIS_REPLY_ARRAY;
  array.elements = 1;
  array.element = elements;
  return array;
}

std::string item(uint32_t flags, uint64_t cas, std::string_view data) {
  char h[backend::kHeaderSize];
  backend::encodeHeader(flags, cas, h);
  return std::string(h, sizeof h) + std::string(data);
}

}  // namespace

TEST_CASE("item header encodes flags and CAS big-endian", "[translator]") {
  const std::string v = item(0x01020304, 0x1122334455667788ull, "hi");
  CHECK(v == std::string("\xFB\x01\x01\x02\x03\x04\x11\x22\x33\x44\x55\x66\x77\x88hi", 16));
  backend::ItemView i = backend::decodeItem(v);
  CHECK_FALSE(i.foreign);
  CHECK(i.flags == 0x01020304);
  CHECK(i.cas == 0x1122334455667788ull);
  CHECK(i.data == "hi");
}

TEST_CASE("values without the header are foreign: flags 0, CAS from content", "[translator]") {
  for (std::string raw : {std::string("v"), std::string(""), std::string("\xFB\x02xxxxxxxxxxxxxx"),
                          std::string("\xFB\x01short")}) {
    backend::ItemView i = backend::decodeItem(raw);
    CHECK(i.foreign);
    CHECK(i.flags == 0);
    CHECK(i.data == raw);
    CHECK(i.cas == backend::foreignCas(raw));
    CHECK((i.cas >> 63) == 1);
  }
  CHECK(backend::foreignCas("a") != backend::foreignCas("b"));
  // SHA-1("abc") = a9993e36 4706816a ...; top bit already set.
  CHECK(backend::foreignCas("abc") == 0xa9993e364706816aull);
}

TEST_CASE("CAS tokens are never 0 and unique", "[translator]") {
  backend::CasGenerator g(~uint64_t{0});
  const uint64_t a = g.next();
  const uint64_t b = g.next();
  CHECK(a == ~uint64_t{0});
  CHECK(b == 1);  // 0 skipped
  backend::CasGenerator r;
  CHECK(r.next() != r.next());
}

TEST_CASE("exptime rules", "[translator]") {
  using backend::ExpiryKind;
  CHECK(backend::convertExptime(0, kNow).kind == ExpiryKind::kNever);
  CHECK(backend::convertExptime(-1, kNow).kind == ExpiryKind::kExpired);
  CHECK(backend::convertExptime(1, kNow).kind == ExpiryKind::kRelative);
  CHECK(backend::convertExptime(2592000, kNow).kind == ExpiryKind::kRelative);
  CHECK(backend::convertExptime(2592000, kNow).value == 2592000);
  CHECK(backend::convertExptime(2592001, kNow).kind == ExpiryKind::kExpired);
  CHECK(backend::convertExptime(kNow, kNow).kind == ExpiryKind::kExpired);
  CHECK(backend::convertExptime(kNow + 100, kNow).kind == ExpiryKind::kAbsolute);
  CHECK(backend::convertExptime(kNow + 100, kNow).value == kNow + 100);
}

TEST_CASE("set, add and replace become SET with the header", "[translator]") {
  Fixture f;
  REQUIRE(f.start("set k 123 0 5\r\nhello\r\n"));
  REQUIRE(f.last().size() == 3);
  CHECK(f.last()[0] == "SET");
  CHECK(f.last()[1] == "k");
  backend::ItemView i = backend::decodeItem(f.last()[2]);
  CHECK(i.flags == 123);
  CHECK(i.cas == 1000);
  CHECK(i.data == "hello");

  REQUIRE(f.start("add k 0 100 1\r\nx\r\n"));
  CHECK(f.last() == std::vector<std::string>{"SET", "k", item(0, 1001, "x"), "EX", "100", "NX"});
  REQUIRE(f.start("replace k 0 1800000100 1\r\nx\r\n"));
  CHECK(f.last() ==
        std::vector<std::string>{"SET", "k", item(0, 1002, "x"), "EXAT", "1800000100", "XX"});

  redisReply ok = statusReply("OK"), nil = nilReply();
  f.translator.finish(f.op, &ok, &f.out);
  f.translator.finish(f.op, &nil, &f.out);
  CHECK(f.out == "STORED\r\nNOT_STORED\r\n");
  CHECK(f.counters.cmd_set.get() == 3);
}

TEST_CASE("an already expired exptime stores nothing and answers as memcached", "[translator]") {
  Fixture f;
  redisReply one = intReply(1), zero = intReply(0);
  REQUIRE(f.start("set k 0 -1 1\r\nx\r\n"));
  CHECK(f.last() == std::vector<std::string>{"DEL", "k"});
  f.translator.finish(f.op, &zero, &f.out);
  CHECK(f.out == "STORED\r\n");
  f.out.clear();
  REQUIRE(f.start("add k 0 -1 1\r\nx\r\n"));
  CHECK(f.last() == std::vector<std::string>{"EXISTS", "k"});
  f.translator.finish(f.op, &one, &f.out);
  f.translator.finish(f.op, &zero, &f.out);
  CHECK(f.out == "NOT_STORED\r\nSTORED\r\n");
  f.out.clear();
  REQUIRE(f.start("replace k 0 2592001 1\r\nx\r\n"));
  CHECK(f.last() == std::vector<std::string>{"DEL", "k"});
  f.translator.finish(f.op, &one, &f.out);
  f.translator.finish(f.op, &zero, &f.out);
  CHECK(f.out == "STORED\r\nNOT_STORED\r\n");
}

TEST_CASE("the key prefix namespaces every key but not the reply", "[translator]") {
  backend::TranslatorOptions o;
  o.key_prefix = "app1:";
  Fixture f(o);
  REQUIRE(f.start("get a b\r\n"));
  CHECK(f.last() == std::vector<std::string>{"MGET", "app1:a", "app1:b"});
  std::string va = item(5, 7, "A");
  redisReply ea = stringReply(va), eb = nilReply();
  redisReply* elems[] = {&ea, &eb};
  redisReply arr{};
  arr.type = REDIS_REPLY_ARRAY;
  arr.elements = 2;
  arr.element = elems;
  f.translator.finish(f.op, &arr, &f.out);
  CHECK(f.out == "VALUE a 5 1\r\nA\r\nEND\r\n");
  CHECK(f.counters.get_hits.get() == 1);
  CHECK(f.counters.get_misses.get() == 1);
}

TEST_CASE("get and gets replies", "[translator]") {
  Fixture f;
  // One key is an MGET too: the Redis connection merges MGETs sent back to back.
  REQUIRE(f.start("gets foo\r\n"));
  CHECK(f.last() == std::vector<std::string>{"MGET", "foo"});
  std::string v = item(5, 2, "bar");
  redisReply r = stringReply(v);
  f.translator.finish(f.op, &oneOf(&r), &f.out);
  CHECK(f.out == "VALUE foo 5 3 2\r\nbar\r\nEND\r\n");
  f.out.clear();
  std::string foreign = "plain";
  redisReply fr = stringReply(foreign);
  f.translator.finish(f.op, &oneOf(&fr), &f.out);
  CHECK(f.out == "VALUE foo 0 5 " + std::to_string(backend::foreignCas("plain")) +
                     "\r\nplain\r\nEND\r\n");
  f.out.clear();
  REQUIRE(f.start("get foo\r\n"));
  CHECK(f.last() == std::vector<std::string>{"MGET", "foo"});
  redisReply nil = nilReply();
  f.translator.finish(f.op, &oneOf(&nil), &f.out);
  CHECK(f.out == "END\r\n");
}

TEST_CASE("gat/gats touch every key in one script call", "[translator]") {
  Fixture f;
  REQUIRE(f.start("gat 100 a b\r\n"));
  const std::string& sha = backend::script(backend::Script::kGetAndTouch).sha1;
  CHECK(f.last() == std::vector<std::string>{"EVALSHA", sha, "2", "a", "b", "EX", "100"});
  REQUIRE(f.start("gats 0 a\r\n"));
  CHECK(f.last() == std::vector<std::string>{"EVALSHA", sha, "1", "a", "PERSIST", "0"});
  REQUIRE(f.start("gat -1 a\r\n"));
  CHECK(f.last() == std::vector<std::string>{"EVALSHA", sha, "1", "a", "DEL", "0"});
  CHECK(f.counters.cmd_touch.get() == 4);
  CHECK(f.counters.cmd_get.get() == 0);
  // `gat <exptime>` without keys: END, no Redis.
  CHECK_FALSE(f.start("gat 10\r\n"));
  CHECK(f.out == "END\r\n");
}

// An array reply of the given elements (valid as long as `elements` is).
redisReply arrayOf(std::vector<redisReply*>& elements) {
  redisReply a{};
  a.type = REDIS_REPLY_ARRAY;
  a.elements = elements.size();
  a.element = elements.data();
  return a;
}

TEST_CASE("a multi-get in parts: one MGET per part, END after the last", "[translator][flow]") {
  Fixture f;
  REQUIRE(f.startPart("get a bb ccc d e\r\n", 2));
  CHECK(f.last() == std::vector<std::string>{"MGET", "a", "bb"});
  CHECK(f.sink.routes.back().kind == backend::Route::Kind::kKeys);
  CHECK(f.sink.routes.back().key_count == 2);
  CHECK(f.op.keys_left == 3);
  CHECK(f.counters.cmd_get.get() == 5);  // counted once, for the whole request
  std::string va = item(1, 7, "A"), vc = item(3, 9, "CCC");
  redisReply ra = stringReply(va), nil = nilReply(), rc = stringReply(vc);
  std::vector<redisReply*> part1{&ra, &nil};
  redisReply a1 = arrayOf(part1);
  f.translator.finish(f.op, &a1, &f.out);
  CHECK(f.out == "VALUE a 1 1\r\nA\r\n");  // no END yet
  f.translator.sendNextPart(&f.op, 2, &f.sink, &f.completion);
  CHECK(f.last() == std::vector<std::string>{"MGET", "ccc", "d"});
  std::vector<redisReply*> part2{&rc, &nil};
  redisReply a2 = arrayOf(part2);
  f.translator.finish(f.op, &a2, &f.out);
  f.translator.sendNextPart(&f.op, 2, &f.sink, &f.completion);
  CHECK(f.last() == std::vector<std::string>{"MGET", "e"});
  CHECK(f.op.keys_left == 0);
  std::vector<redisReply*> part3{&nil};
  redisReply a3 = arrayOf(part3);
  f.translator.finish(f.op, &a3, &f.out);
  CHECK(f.out == "VALUE a 1 1\r\nA\r\nVALUE ccc 3 3\r\nCCC\r\nEND\r\n");
  CHECK(f.counters.get_hits.get() == 2);
  CHECK(f.counters.get_misses.get() == 3);
  CHECK(f.sink.commands.size() == 3);
}

TEST_CASE("gat in parts repeats its expiry; a failed later part ends as misses",
          "[translator][flow]") {
  Fixture f;
  const std::string& sha = backend::script(backend::Script::kGetAndTouch).sha1;
  REQUIRE(f.startPart("gat 100 k1 k2 k3\r\n", 2));
  CHECK(f.last() == std::vector<std::string>{"EVALSHA", sha, "2", "k1", "k2", "EX", "100"});
  std::string v1 = item(0, 5, "one");
  redisReply r1 = stringReply(v1), nil = nilReply();
  std::vector<redisReply*> part1{&r1, &nil};
  redisReply a1 = arrayOf(part1);
  f.translator.finish(f.op, &a1, &f.out);
  f.translator.sendNextPart(&f.op, 2, &f.sink, &f.completion);
  CHECK(f.last() == std::vector<std::string>{"EVALSHA", sha, "1", "k3", "EX", "100"});
  // The second part times out: the first part's value is out already; the rest is a miss, not
  // a SERVER_ERROR after values.
  f.op.keys_left = 0;
  f.translator.fail(f.op, backend::RedisFailure::kTimeout, &f.out);
  CHECK(f.out == "VALUE k1 0 3\r\none\r\nEND\r\n");
  // An error reply to a later part ends the same way.
  f.out.clear();
  REQUIRE(f.startPart("get x y\r\n", 1));
  redisReply nil2 = nilReply();
  f.translator.finish(f.op, &oneOf(&nil2), &f.out);
  f.translator.sendNextPart(&f.op, 1, &f.sink, &f.completion);
  f.op.keys_left = 0;
  redisReply err = errorReply("ERR boom");
  f.translator.finish(f.op, &err, &f.out);
  CHECK(f.out == "END\r\n");
  // The first part failing answers as before.
  f.out.clear();
  REQUIRE(f.startPart("get x y\r\n", 1));
  f.op.keys_left = 0;
  f.translator.fail(f.op, backend::RedisFailure::kTimeout, &f.out);
  CHECK(f.out == "SERVER_ERROR backend timeout\r\n");
}

TEST_CASE("cas, incr, append and touch", "[translator]") {
  Fixture f;
  redisReply one = intReply(1), zero = intReply(0), minus1 = intReply(-1), minus2 = intReply(-2);
  REQUIRE(f.start("cas k 3 0 1 258\r\nx\r\n"));
  CHECK(f.last() == std::vector<std::string>{"EVALSHA", backend::script(backend::Script::kCas).sha1,
                                             "1", "k", std::string("\0\0\0\0\0\0\x01\x02", 8),
                                             item(3, 1000, "x"), "", "0"});
  f.translator.finish(f.op, &one, &f.out);
  f.translator.finish(f.op, &zero, &f.out);
  f.translator.finish(f.op, &minus1, &f.out);
  CHECK(f.out == "STORED\r\nEXISTS\r\nNOT_FOUND\r\n");
  f.out.clear();

  REQUIRE(f.start("incr n 18446744073709551615\r\n"));
  CHECK(f.last()[4] == "18446744073709551615");
  CHECK(f.last()[5] == "1");
  std::string v = "0";
  redisReply num = stringReply(v);
  f.translator.finish(f.op, &num, &f.out);
  f.translator.finish(f.op, &minus1, &f.out);
  f.translator.finish(f.op, &minus2, &f.out);
  CHECK(f.out ==
        "0\r\nNOT_FOUND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  f.out.clear();

  REQUIRE(f.start("prepend k 9 9 2\r\nab\r\n"));
  CHECK(f.last()[4] == "ab");
  CHECK(f.last()[5] == "p");
  CHECK(f.last()[7] == std::to_string(protocol::maxValueBytes(1024 * 1024, 1, 0)));
  f.translator.finish(f.op, &zero, &f.out);
  CHECK(f.out == "NOT_STORED\r\n");
  f.out.clear();

  REQUIRE(f.start("touch k 10\r\n"));
  CHECK(f.last() == std::vector<std::string>{"EXPIRE", "k", "10"});
  REQUIRE(f.start("touch k -1\r\n"));
  CHECK(f.last() == std::vector<std::string>{"DEL", "k"});
  f.translator.finish(f.op, &one, &f.out);
  f.translator.finish(f.op, &zero, &f.out);
  CHECK(f.out == "TOUCHED\r\nNOT_FOUND\r\n");
}

TEST_CASE("noreply suppresses every reply, errors included", "[translator]") {
  Fixture f;
  redisReply one = intReply(1), err = errorReply("ERR boom");
  REQUIRE(f.start("delete k noreply\r\n"));
  f.translator.finish(f.op, &one, &f.out);
  f.translator.finish(f.op, &err, &f.out);
  f.translator.fail(f.op, backend::RedisFailure::kTimeout, &f.out);
  CHECK(f.out.empty());
}

TEST_CASE("Redis errors and failures map to SERVER_ERROR, never Redis's text", "[translator]") {
  Fixture f;
  REQUIRE(f.start("set k 0 0 1\r\nx\r\n"));
  redisReply oom = errorReply("OOM command not allowed when used memory > 'maxmemory'.");
  redisReply wrong = errorReply("WRONGTYPE Operation against a key holding the wrong kind");
  f.translator.finish(f.op, &oom, &f.out);
  f.translator.finish(f.op, &wrong, &f.out);
  f.translator.fail(f.op, backend::RedisFailure::kTimeout, &f.out);
  f.translator.fail(f.op, backend::RedisFailure::kDisconnected, &f.out);
  CHECK(f.out ==
        "SERVER_ERROR out of memory storing object\r\nSERVER_ERROR backend error\r\n"
        "SERVER_ERROR backend timeout\r\nSERVER_ERROR backend unavailable\r\n");
}

TEST_CASE("miss-on-error answers failed reads as misses, writes still fail", "[translator]") {
  backend::TranslatorOptions o;
  o.miss_on_error = true;
  Fixture f(o);
  REQUIRE(f.start("get a b\r\n"));
  f.translator.fail(f.op, backend::RedisFailure::kTimeout, &f.out);
  CHECK(f.out == "END\r\n");
  f.out.clear();
  REQUIRE(f.start("set a 0 0 1\r\nx\r\n"));
  f.translator.fail(f.op, backend::RedisFailure::kTimeout, &f.out);
  CHECK(f.out == "SERVER_ERROR backend timeout\r\n");
}

TEST_CASE("miss-on-error: a multi-get whose cluster part failed keeps the other hits",
          "[translator]") {
  backend::TranslatorOptions o;
  o.miss_on_error = true;
  Fixture f(o);
  REQUIRE(f.start("get a b\r\n"));
  CHECK(f.sink.routes.back().partial);  // the router may answer per part
  REQUIRE(f.start("gat 0 a b\r\n"));
  CHECK(f.sink.routes.back().partial);
  REQUIRE(f.start("get a b\r\n"));
  const std::string a = item(5, 77, "va");
  redisReply hit = stringReply(a);
  redisReply failed = errorReply("ERR backend timeout");
  redisReply* elements[] = {&hit, &failed};
  redisReply array{};
  array.type = REDIS_REPLY_ARRAY;
  array.elements = 2;
  array.element = elements;
  f.translator.finish(f.op, &array, &f.out, nullptr);
  CHECK(f.out == "VALUE a 5 2\r\nva\r\nEND\r\n");
  CHECK(f.counters.backend_failures.get() == 1);  // counted as a whole failure would be
  // Without the option nothing is partial: a failed part fails the request.
  Fixture g;
  REQUIRE(g.start("get a b\r\n"));
  CHECK_FALSE(g.sink.routes.back().partial);
}

TEST_CASE("a too-large set deletes the old item; other commands only answer", "[translator]") {
  Fixture f;
  protocol::Parser parser;
  protocol::Request req;
  std::string line = "set big 0 0 2000000\r\n";
  REQUIRE(parser.parse(line, &req).status == protocol::ParseStatus::kOk);
  REQUIRE(req.too_large);
  REQUIRE(f.translator.start(req, kNow, &f.op, &f.sink, &f.completion, &f.out));
  CHECK(f.last() == std::vector<std::string>{"DEL", "big"});
  redisReply one = intReply(1);
  f.translator.finish(f.op, &one, &f.out);
  CHECK(f.out == "SERVER_ERROR object too large for cache\r\n");
  f.out.clear();
  line = "add big 0 0 2000000\r\n";
  REQUIRE(parser.parse(line, &req).status == protocol::ParseStatus::kOk);
  CHECK_FALSE(f.translator.start(req, kNow, &f.op, &f.sink, &f.completion, &f.out));
  CHECK(f.out == "SERVER_ERROR object too large for cache\r\n");
  CHECK(f.counters.store_too_large.get() == 2);
}

TEST_CASE("NOSCRIPT resends the script command once as EVAL", "[translator]") {
  Fixture f;
  REQUIRE(f.start("incr n 5\r\n"));
  const std::vector<std::string> first = f.last();
  redisReply noscript = errorReply("NOSCRIPT No matching script. Please use EVAL.");
  REQUIRE(f.translator.retryIfNoScript(&f.op, &noscript, &f.sink, &f.completion));
  std::vector<std::string> expected = first;
  expected[0] = "EVAL";
  expected[1] = std::string(backend::script(backend::Script::kIncr).body);
  CHECK(f.last() == expected);
  // Only once; and never for plain commands.
  CHECK_FALSE(f.translator.retryIfNoScript(&f.op, &noscript, &f.sink, &f.completion));
  REQUIRE(f.start("get n\r\n"));
  CHECK_FALSE(f.translator.retryIfNoScript(&f.op, &noscript, &f.sink, &f.completion));
}

// The router needs each command's key (its hash slot under Redis Cluster): every command names it.
TEST_CASE("every command names its key for the router", "[translator]") {
  using Kind = backend::Route::Kind;
  backend::TranslatorOptions o;
  o.key_prefix = "p:";
  Fixture f(o);
  auto keyOf = [&](const backend::Route& r) { return f.last()[r.first_key]; };

  for (const char* req : {"set k 0 0 1\r\nv\r\n", "add k 0 0 1\r\nv\r\n", "delete k\r\n",
                          "touch k 10\r\n", "touch k 0\r\n", "incr k 1\r\n",
                          "append k 0 0 1\r\nv\r\n", "cas k 0 0 1 5\r\nv\r\n",
                          "set k 0 -1 1\r\nv\r\n"}) {
    INFO(req);
    REQUIRE(f.start(req));
    const backend::Route& r = f.sink.routes.back();
    CHECK(r.kind == Kind::kKey);
    CHECK_FALSE(r.read);
    CHECK(keyOf(r) == "p:k");
  }

  REQUIRE(f.start("get a bb ccc\r\n"));
  backend::Route r = f.sink.routes.back();
  CHECK(r.kind == Kind::kKeys);
  CHECK(r.read);
  REQUIRE(r.key_count == 3);
  CHECK(f.last()[r.first_key] == "p:a");
  CHECK(f.last()[r.first_key + 2] == "p:ccc");

  REQUIRE(f.start("gat 10 a bb\r\n"));
  r = f.sink.routes.back();
  CHECK(r.kind == Kind::kKeys);
  CHECK_FALSE(r.read);  // it touches
  REQUIRE(r.key_count == 2);
  CHECK(f.last()[r.numkeys_arg] == "2");
  CHECK(f.last()[r.first_key] == "p:a");
  CHECK(f.last()[r.first_key + 1] == "p:bb");

  // The NOSCRIPT retry as EVAL keeps the route.
  redisReply noscript = errorReply("NOSCRIPT No matching script.");
  REQUIRE(f.translator.retryIfNoScript(&f.op, &noscript, &f.sink, &f.completion));
  CHECK(f.last()[0] == "EVAL");
  CHECK(f.sink.routes.back().kind == Kind::kKeys);
  CHECK(f.sink.routes.back().key_count == 2);
  CHECK(f.last()[f.sink.routes.back().first_key + 1] == "p:bb");
}
