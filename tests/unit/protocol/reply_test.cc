// Reply composer tests: exact bytes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "protocol/reply.h"

namespace mcbridge::protocol {
namespace {

using namespace std::literals;

TEST_CASE("reply: VALUE lines", "[reply]") {
  std::string out;
  appendValue(&out, "foo", 5, "bar");
  CHECK(out == "VALUE foo 5 3\r\nbar\r\n");

  out.clear();
  appendValueCas(&out, "foo", 5, "bar", 2);
  CHECK(out == "VALUE foo 5 3 2\r\nbar\r\n");

  out.clear();
  appendValue(&out, "a", 0, "");
  CHECK(out == "VALUE a 0 0\r\n\r\n");

  // binary-safe data, max flags and cas
  out.clear();
  appendValueCas(&out, "k", UINT32_MAX, "\r\n\0x"s, UINT64_MAX);
  CHECK(out == "VALUE k 4294967295 4 18446744073709551615\r\n\r\n\0x\r\n"s);

  // keys are written as they are (memcached accepts tabs, high bytes)
  out.clear();
  appendValue(&out, "a\tb", 0, "x");
  CHECK(out == "VALUE a\tb 0 1\r\nx\r\n");
}

TEST_CASE("reply: VALUE header only, appended to existing output", "[reply]") {
  std::string out = "VALUE x 0 1\r\nx\r\n";
  appendValueHeader(&out, "big", 7, 1048000, nullptr);
  CHECK(out == "VALUE x 0 1\r\nx\r\nVALUE big 7 1048000\r\n");
  out.clear();
  const uint64_t cas = 223;
  appendValueHeader(&out, "a", 4294967295u, 1, &cas);
  CHECK(out == "VALUE a 4294967295 1 223\r\n");
  out.clear();
  appendValueHeader(&out, "a", 0, SIZE_MAX, nullptr);
  CHECK(out == "VALUE a 0 18446744073709551615\r\n");
}

TEST_CASE("reply: incr/decr numbers", "[reply]") {
  const std::pair<uint64_t, const char*> cases[] = {
      {0, "0\r\n"},
      {1, "1\r\n"},
      {9, "9\r\n"},
      {10, "10\r\n"},
      {101, "101\r\n"},
      {4294967295u, "4294967295\r\n"},
      {4294967296u, "4294967296\r\n"},
      {9223372036854775807u, "9223372036854775807\r\n"},
      {9223372036854775808u, "9223372036854775808\r\n"},
      {18446744073709551615u, "18446744073709551615\r\n"},
  };
  for (const auto& [n, text] : cases) {
    std::string out = "x";
    appendNumber(&out, n);
    CHECK(out == "x"s + text);
  }
}

TEST_CASE("reply: STAT lines", "[reply]") {
  std::string out;
  appendStat(&out, "pid", uint64_t{6144});
  appendStat(&out, "version", "1.6.18");
  appendStat(&out, "rusage_user", "0.065109");
  appendStat(&out, "bytes_written", UINT64_MAX);
  appendStat(&out, "evictions", uint64_t{0});
  out += reply::kEnd;
  CHECK(out ==
        "STAT pid 6144\r\nSTAT version 1.6.18\r\nSTAT rusage_user 0.065109\r\n"
        "STAT bytes_written 18446744073709551615\r\nSTAT evictions 0\r\nEND\r\n");
}

TEST_CASE("reply: constant texts", "[reply]") {
  // The exact bytes clients match on (PROTOCOL.md §1.5, §5.2, §6).
  CHECK(reply::kStored == "STORED\r\n");
  CHECK(reply::kError == "ERROR\r\n");
  CHECK(reply::kBadFormat == "CLIENT_ERROR bad command line format\r\n");
  CHECK(reply::kBadDataChunk == "CLIENT_ERROR bad data chunk\r\n");
  CHECK(reply::kDeleteUsage ==
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  CHECK(reply::kTooLarge == "SERVER_ERROR object too large for cache\r\n");
  CHECK(reply::kShutdownDisabled == "ERROR: shutdown not enabled\r\n");
  CHECK(reply::kMemlimitTooSmall == "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
  CHECK(reply::kMemlimitAdjustFailed ==
        "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n");
  for (std::string_view r :
       {reply::kStored, reply::kNotStored, reply::kExists, reply::kNotFound, reply::kDeleted,
        reply::kTouched, reply::kEnd, reply::kOk, reply::kReset, reply::kInvalidExptime,
        reply::kInvalidDelta, reply::kNonNumeric, reply::kOutOfMemory, reply::kFlushDenied}) {
    CHECK(r.ends_with("\r\n"));
    CHECK(r.find('\n') == r.size() - 1);
  }
}

}  // namespace
}  // namespace mcbridge::protocol
