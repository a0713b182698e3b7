// Hash slots as Redis computes them (values from CLUSTER KEYSLOT of redis-server 7.0), and the
// two-piece form (key prefix + key) equal to the joined key. tests/cluster/ checks thousands of
// random keys against a real cluster.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "backend/hash_slot.h"

using mcbridge::backend::crc16;
using mcbridge::backend::keySlot;
using mcbridge::backend::RedisArg;

TEST_CASE("CRC16 is XMODEM", "[cluster]") {
  CHECK(crc16("123456789") == 0x31C3);
  CHECK(crc16("") == 0);
}

TEST_CASE("key slots match CLUSTER KEYSLOT, hash tags included", "[cluster]") {
  struct Case {
    const char* key;
    uint16_t slot;
  };
  const Case cases[] = {
      {"foo", 12182},    {"bar", 5061}, {"hello", 866},       {"{user1000}.following", 3443},
      {"{}x", 10595},    {"{abc", 444}, {"}{abc", 15680},     {"{a}{b}", 15495},
      {"a{b}c", 3300},   {"", 0},       {"123456789", 12739}, {"p:{x}y", 16287},
      {"{", 4092},       {"}", 12090},  {"{}", 15257},        {"{{a}}", 10276},
      {"mc:key1", 8525},
  };
  for (const Case& c : cases) {
    INFO(c.key);
    CHECK(keySlot(std::string_view(c.key)) == c.slot);
  }
}

TEST_CASE("a two-piece key hashes as the joined key", "[cluster]") {
  std::mt19937 rng(42);
  const std::string alphabet = "ab{}x:";
  for (int i = 0; i < 20000; ++i) {
    std::string key;
    const int len = static_cast<int>(rng() % 9);
    for (int j = 0; j < len; ++j) key.push_back(alphabet[rng() % alphabet.size()]);
    const size_t cut = key.empty() ? 0 : rng() % (key.size() + 1);
    const std::string a = key.substr(0, cut);
    const std::string b = key.substr(cut);
    INFO(a << "|" << b);
    REQUIRE(keySlot(RedisArg{a, b}) == keySlot(std::string_view(key)));
  }
  CHECK(keySlot(RedisArg{"p:{", "x}y"}) == 16287);
  CHECK(keySlot(RedisArg{"p:", "foo"}) == keySlot(std::string_view("p:foo")));
}
