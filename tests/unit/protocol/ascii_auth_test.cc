// memcached -Y's ASCII auth handshake: what each input before authentication yields, fed whole
// and split at every point (need-more consumes nothing and announces what it needs).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/ascii_auth.h"

using namespace mcbridge::protocol;
using namespace std::literals;

namespace {

// Every outcome of `in`, parsed as a connection does; "NEED" for bytes left at the end.
std::vector<std::string> outcomes(std::string_view in, size_t chunk) {
  std::vector<std::string> out;
  std::string buf;
  size_t fed = 0;
  while (fed < in.size()) {
    const size_t n = std::min(chunk, in.size() - fed);
    buf.append(in.substr(fed, n));
    fed += n;
    while (true) {
      const AsciiAuthResult r = parseAsciiAuth(buf, 1024);
      if (r.status == AsciiAuthStatus::kNeedMore) {
        REQUIRE(r.consumed == 0);
        if (r.needed != 0) REQUIRE(r.needed > buf.size());
        break;
      }
      if (r.status == AsciiAuthStatus::kClose) {
        out.push_back("CLOSE");
        return out;
      }
      REQUIRE(r.consumed > 0);
      REQUIRE(r.consumed <= buf.size());
      if (r.status == AsciiAuthStatus::kReply) {
        out.emplace_back(r.reply.substr(0, r.reply.size() - 2));
      } else {
        out.push_back("USER " + std::string(r.user) + " PASS " + std::string(r.password));
      }
      buf.erase(0, r.consumed);
    }
  }
  if (!buf.empty()) out.push_back("NEED");
  return out;
}

std::vector<std::string> all(std::string_view in) {
  const auto whole = outcomes(in, in.size());
  for (size_t c = 1; c < in.size(); ++c) {
    INFO("chunk " << c);
    CHECK(outcomes(in, c) == whole);
  }
  return whole;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("ascii auth: credentials in a set's data block") {
  CHECK(all("set k 0 0 12\r\nalice secret\r\n") == V{"USER alice PASS secret"});
  CHECK(all("set  k b c 12 noreply\r\nalice secret\r\n") == V{"USER alice PASS secret"});
  CHECK(all("set k 0 0 18\r\nalice secret extra\r\n") == V{"USER alice PASS secret"});
  CHECK(all("set k 0 0 13\r\nalice  secret\r\n") == V{"USER alice PASS secret"});
  CHECK(all("set k 0 0 12\r\nalice sec") == V{"NEED"});
}

TEST_CASE("ascii auth: everything else before authentication") {
  CHECK(all("get a\r\nversion\r\n") ==
        V{"CLIENT_ERROR unauthenticated", "CLIENT_ERROR unauthenticated"});
  CHECK(all("set k 0 0 x\r\nset k 0 0 -1\r\nset k 0\r\n") == V{"CLIENT_ERROR unauthenticated",
                                                               "CLIENT_ERROR unauthenticated",
                                                               "CLIENT_ERROR unauthenticated"});
  CHECK(all("x\n") == V{"CLIENT_ERROR unauthenticated"});
  CHECK(all("\n") == V{"NEED"});  // memcached waits for two bytes
  CHECK(all("set k 0 0 5\r\nalice\r\n") == V{"CLIENT_ERROR bad authentication token format"});
  CHECK(all("set k 0 0 4\r\nx\0y\0\r\n"sv) == V{"CLIENT_ERROR bad authentication token format"});
  CHECK(all("set k 0 0 12\r\nalice\tsecret\r\n") ==
        V{"CLIENT_ERROR bad authentication token format"});
  CHECK(all("set k 0 0 12\r\nalice secretxxget") ==
        V{"CLIENT_ERROR bad command line termination", "NEED"});
  // A <bytes> word that is only whitespace reads as 0 (strtoul leaves endptr at a space).
  CHECK(all("set k 0 0 \r\n\r\n") == V{"CLIENT_ERROR bad authentication token format"});
}

TEST_CASE("ascii auth: closes on a long line without newline or an oversized data block") {
  CHECK(all(std::string(2049, 'a')) == V{"CLOSE"});
  CHECK(outcomes(std::string(2048, 'a'), 2048) == V{"NEED"});
  CHECK(all("set k 0 0 1025\r\n") == V{"CLOSE"});
  // Whatever the reads: a line over 2048 bytes closes even when its newline is there.
  CHECK(all(std::string(2049, 'a') + "\n") == V{"CLOSE"});
  CHECK(all("get " + std::string(2044, 'a') + "\n") == V{"CLIENT_ERROR unauthenticated"});
}
