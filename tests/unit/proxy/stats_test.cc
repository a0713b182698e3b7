// `stats cachedump`: memcached 1.6.18's answers (verified against it) for every argument shape.
#include <catch2/catch.hpp>

#include <string>

#include "proxy/stats.h"

using mcbridge::proxy::appendCachedump;

namespace {

std::string cachedump(std::string_view args) {
  std::string out;
  appendCachedump(args, &out);
  return out;
}

}  // namespace

TEST_CASE("stats cachedump: an empty dump for every valid slab class") {
  CHECK(cachedump(" 1 0") == "END\r\n");
  CHECK(cachedump(" 0 0") == "END\r\n");
  CHECK(cachedump(" 63 100") == "END\r\n");
  CHECK(cachedump("   1   0   extra words") == "END\r\n");    // extra words are ignored
  CHECK(cachedump(" +1 -0") == "END\r\n");                    // strtoul's signs
  CHECK(cachedump(" 4294967297 0") == "END\r\n");             // truncated to 32 bits: class 1
  CHECK(cachedump(" -18446744073709551615 0") == "END\r\n");  // wraps to 1
  CHECK(cachedump(" 1\t 0") == "END\r\n");                    // whitespace after a number
}

TEST_CASE("stats cachedump: memcached's errors") {
  CHECK(cachedump("") == "CLIENT_ERROR bad command line\r\n");
  CHECK(cachedump(" 1") == "CLIENT_ERROR bad command line\r\n");
  CHECK(cachedump(" 1   ") == "CLIENT_ERROR bad command line\r\n");
  CHECK(cachedump(" x 0") == "CLIENT_ERROR bad command line format\r\n");
  CHECK(cachedump(" 1 y") == "CLIENT_ERROR bad command line format\r\n");
  CHECK(cachedump(" -1 0") == "CLIENT_ERROR bad command line format\r\n");
  CHECK(cachedump(" 1x 0") == "CLIENT_ERROR bad command line format\r\n");
  CHECK(cachedump(" 18446744073709551616 0") == "CLIENT_ERROR bad command line format\r\n");
  CHECK(cachedump(" 64 0") == "CLIENT_ERROR Illegal slab id\r\n");
  CHECK(cachedump(" 200 0") == "CLIENT_ERROR Illegal slab id\r\n");
  CHECK(cachedump(" 4294967295 0") == "CLIENT_ERROR Illegal slab id\r\n");
}
