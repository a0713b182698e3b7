// RespReader: every reply type, nested arrays, and every split point of the input (need-more
// must ask for more than it has, then succeed once the bytes are there).
#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "backend/resp_reader.h"

using mcbridge::backend::RespReader;

namespace {

// Feeds `wire` growing one byte at a time; checks need-more until complete, then returns the
// parsed reply's description.
std::string parseAllSplits(const std::string& wire) {
  RespReader reader;
  std::string described;
  for (size_t have = 0; have <= wire.size(); ++have) {
    const redisReply* reply = nullptr;
    size_t consumed = 0, needed = 0;
    std::string_view error;
    auto st = reader.parse(std::string_view(wire).substr(0, have), &reply, &consumed, &needed,
                           &error);
    if (have < wire.size()) {
      REQUIRE(st == RespReader::Status::kNeedMore);
      REQUIRE(needed > have);
      REQUIRE(needed <= wire.size());
      continue;
    }
    REQUIRE(st == RespReader::Status::kOk);
    REQUIRE(consumed == wire.size());
    // Built with append, not operator+ on literals: gcc 12 at -O3 reports a false -Wrestrict
    // for `"s:" + std::string(...)`.
    std::function<std::string(const redisReply*)> describe = [&](const redisReply* r) {
      std::string out;
      switch (r->type) {
        case REDIS_REPLY_STRING: out.append("s:").append(r->str, r->len); break;
        case REDIS_REPLY_STATUS: out.append("+:").append(r->str, r->len); break;
        case REDIS_REPLY_ERROR: out.append("-:").append(r->str, r->len); break;
        case REDIS_REPLY_INTEGER: out.append("i:").append(std::to_string(r->integer)); break;
        case REDIS_REPLY_NIL: out.append("nil"); break;
        case REDIS_REPLY_ARRAY:
          out.append("[");
          for (size_t i = 0; i < r->elements; ++i) {
            if (i) out.append(",");
            out.append(describe(r->element[i]));
          }
          out.append("]");
          break;
        default: out.append("?");
      }
      return out;
    };
    described = describe(reply);
  }
  return described;
}

}  // namespace

TEST_CASE("RESP replies of every type, split at every byte", "[resp]") {
  CHECK(parseAllSplits("+OK\r\n") == "+:OK");
  CHECK(parseAllSplits("-ERR no\r\n") == "-:ERR no");
  CHECK(parseAllSplits(":-42\r\n") == "i:-42");
  CHECK(parseAllSplits("$5\r\nhe\r\no\r\n") == "s:he\r\no");
  CHECK(parseAllSplits(std::string("$3\r\na\0b\r\n", 9)) == std::string("s:a\0b", 5));
  CHECK(parseAllSplits("$0\r\n\r\n") == "s:");
  CHECK(parseAllSplits("$-1\r\n") == "nil");
  CHECK(parseAllSplits("*-1\r\n") == "nil");
  CHECK(parseAllSplits("*0\r\n") == "[]");
  CHECK(parseAllSplits("*3\r\n$1\r\na\r\n$-1\r\n:7\r\n") == "[s:a,nil,i:7]");
  CHECK(parseAllSplits("*2\r\n$1\r\n0\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n") == "[s:0,[s:k1,s:k2]]");
}

TEST_CASE("pipelined replies are taken one at a time, strings in place", "[resp]") {
  const std::string wire = "+OK\r\n$3\r\nabc\r\n:1\r\n";
  RespReader reader;
  std::string_view in = wire;
  const redisReply* r = nullptr;
  size_t consumed = 0, needed = 0;
  std::string_view error;
  REQUIRE(reader.parse(in, &r, &consumed, &needed, &error) == RespReader::Status::kOk);
  CHECK(consumed == 5);
  in.remove_prefix(consumed);
  REQUIRE(reader.parse(in, &r, &consumed, &needed, &error) == RespReader::Status::kOk);
  CHECK(r->type == REDIS_REPLY_STRING);
  CHECK(r->str == wire.data() + 9);  // no copy
  in.remove_prefix(consumed);
  REQUIRE(reader.parse(in, &r, &consumed, &needed, &error) == RespReader::Status::kOk);
  CHECK(r->integer == 1);
}

TEST_CASE("a large bulk asks for its whole length at once", "[resp]") {
  RespReader reader;
  const redisReply* r = nullptr;
  size_t consumed = 0, needed = 0;
  std::string_view error;
  CHECK(reader.parse("$1000000\r\nabc", &r, &consumed, &needed, &error) ==
        RespReader::Status::kNeedMore);
  CHECK(needed == 10 + 1000000 + 2);  // "$1000000\r\n" is 10 bytes
  // A bogus element count does not reserve memory for it.
  CHECK(reader.parse("*2000000000\r\n", &r, &consumed, &needed, &error) ==
        RespReader::Status::kNeedMore);
}

TEST_CASE("malformed replies are errors", "[resp]") {
  RespReader reader;
  const redisReply* r = nullptr;
  size_t consumed = 0, needed = 0;
  std::string_view error;
  for (std::string bad : {"?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcXY", "+OK\n", "*x\r\n"}) {
    INFO(bad);
    CHECK(reader.parse(bad, &r, &consumed, &needed, &error) == RespReader::Status::kError);
    CHECK_FALSE(error.empty());
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  CHECK(reader.parse(deep, &r, &consumed, &needed, &error) == RespReader::Status::kError);
}
