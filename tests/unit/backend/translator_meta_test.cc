// Meta commands through the translator: which Redis command each one costs, and the reply bytes.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "backend/item.h"
#include "backend/scripts.h"
#include "backend/translator.h"
#include "protocol/parser.h"

using namespace mcbridge;
using backend::RedisArg;

namespace {

struct Sink final : backend::CommandSink {
  std::vector<std::vector<std::string>> commands;
  void send(const backend::Route&, std::span<const RedisArg> args,
            backend::RedisCompletion*) override {
    std::vector<std::string> cmd;
    for (const RedisArg& a : args) cmd.push_back(std::string(a.first) + std::string(a.second));
    commands.push_back(std::move(cmd));
  }
};

struct Null final : backend::RedisCompletion {
  void onRedisReply(const redisReply*) override {}
  void onRedisFailure(backend::RedisFailure) override {}
};

struct Meta {
  backend::Counters counters;
  backend::CasGenerator cas{1000};
  backend::Translator translator{{}, &cas, &counters};
  Sink sink;
  Null completion;
  backend::PendingOp op;
  std::string out;
  std::string input;

  bool start(std::string text) {
    input = std::move(text);
    protocol::Parser parser;
    protocol::Request req;
    REQUIRE(parser.parse(input, &req).status == protocol::ParseStatus::kOk);
    return translator.start(req, 1'800'000'000, &op, &sink, &completion, &out);
  }
  const std::vector<std::string>& last() const { return sink.commands.back(); }
};

std::string item(uint32_t flags, uint64_t cas, std::string_view data, int version = 1,
                 uint8_t state = 0) {
  char h[backend::kHeaderSizeV2];
  if (version == 1) {
    backend::encodeHeader(flags, cas, h);
    return std::string(h, backend::kHeaderSize) + std::string(data);
  }
  backend::encodeHeaderV2(flags, cas, state, 1'799'999'990, h);
  return std::string(h, backend::kHeaderSizeV2) + std::string(data);
}

redisReply str(const std::string& s) {
  redisReply r{};
  r.type = REDIS_REPLY_STRING;
  r.str = const_cast<char*>(s.data());
  r.len = s.size();
  return r;
}

redisReply array(std::vector<redisReply*>& elements) {
  redisReply r{};
  r.type = REDIS_REPLY_ARRAY;
  r.elements = elements.size();
  r.element = elements.data();
  return r;
}

}  // namespace

TEST_CASE("meta translator: plain mg is one MGET, decoded from v1 and v2") {
  Meta m;
  REQUIRE(m.start("mg foo v f c s k O1\r\n"));
  CHECK(m.last() == std::vector<std::string>{"MGET", "foo"});
  const std::string v1 = item(5, 77, "bar");
  redisReply e = str(v1);
  std::vector<redisReply*> el{&e};
  redisReply a = array(el);
  m.translator.finish(m.op, &a, &m.out);
  CHECK(m.out == "VA 3 f5 c77 s3 kfoo O1\r\nbar\r\n");

  Meta w;
  REQUIRE(w.start("mg foo v k\r\n"));
  const std::string v2 = item(0, 9, "xy", 2, backend::kStateWinSent | backend::kStateKeyBinary);
  redisReply e2 = str(v2);
  std::vector<redisReply*> el2{&e2};
  redisReply a2 = array(el2);
  w.translator.finish(w.op, &a2, &w.out);
  CHECK(w.out == "VA 2 kZm9v b Z\r\nxy\r\n");
}

TEST_CASE("meta translator: flags that write go to the mg script") {
  for (const char* line : {"mg foo h\r\n", "mg foo l\r\n", "mg foo t\r\n", "mg foo N30\r\n",
                           "mg foo R30\r\n", "mg foo T30\r\n"}) {
    Meta m;
    REQUIRE(m.start(line));
    CHECK(m.last()[0] == "EVALSHA");
    CHECK(m.last()[1] == backend::script(backend::Script::kMetaGet).sha1);
  }
}

TEST_CASE("meta translator: ms, md and ma commands") {
  Meta s;
  REQUIRE(s.start("ms foo 3 T100 F5 ME\r\nbar\r\n"));
  CHECK(s.last().size() == 6);
  CHECK(s.last()[0] == "SET");
  CHECK(s.last()[3] == "EX");
  CHECK(s.last()[5] == "NX");
  CHECK(backend::decodeItem(s.last()[2]).flags == 5);
  CHECK(backend::decodeItem(s.last()[2]).version == 1);

  Meta b;
  REQUIRE(b.start("ms Zm9v 1 b\r\nx\r\n"));
  CHECK(b.last()[1] == "foo");
  const backend::ItemView v = backend::decodeItem(b.last()[2]);
  CHECK(v.version == 2);
  CHECK(v.state == backend::kStateKeyBinary);
  CHECK(v.data == "x");

  Meta c;
  REQUIRE(c.start("ms foo 1 C5\r\nx\r\n"));
  CHECK(c.last()[1] == backend::script(backend::Script::kMetaSet).sha1);

  Meta d;
  REQUIRE(d.start("md foo q\r\n"));
  CHECK(d.last() == std::vector<std::string>{"DEL", "foo"});
  Meta di;
  REQUIRE(di.start("md foo I T30\r\n"));
  CHECK(di.last()[1] == backend::script(backend::Script::kMetaDelete).sha1);

  Meta a;
  REQUIRE(a.start("ma foo\r\n"));
  CHECK(a.last()[1] == backend::script(backend::Script::kMetaArithmetic).sha1);
}

TEST_CASE("storage format: version 2 beside version 1 and foreign values") {
  char h[backend::kHeaderSizeV2];
  backend::encodeHeaderV2(7, 0x0102030405060708ull,
                          backend::kStateStale | backend::kStateWinSent, 1'800'000'000, h);
  const std::string v2 = std::string(h, sizeof h) + "data";
  CHECK(static_cast<unsigned char>(v2[0]) == 0xFB);
  CHECK(v2[1] == 2);
  backend::ItemView i = backend::decodeItem(v2);
  CHECK(i.version == 2);
  CHECK(i.flags == 7);
  CHECK(i.cas == 0x0102030405060708ull);
  CHECK(i.state == (backend::kStateStale | backend::kStateWinSent));
  CHECK(i.last_access == 1'800'000'000u);
  CHECK(i.data == "data");
  CHECK_FALSE(i.foreign);

  const std::string v1 = item(9, 42, "xyz");
  i = backend::decodeItem(v1);
  CHECK(i.version == 1);
  CHECK(i.state == 0);
  CHECK(i.data == "xyz");

  // a version-2 marker on a value too short for its header is a foreign value
  const std::string short_v2 = v2.substr(0, 17);
  i = backend::decodeItem(short_v2);
  CHECK(i.foreign);
  CHECK(i.data == short_v2);
  CHECK(i.cas == backend::foreignCas(short_v2));
}
