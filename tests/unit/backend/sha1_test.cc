#include "backend/sha1.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

using mcbridge::backend::sha1;
using mcbridge::backend::sha1Hex;

TEST_CASE("sha1: FIPS 180 test vectors", "[sha1]") {
  CHECK(sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(sha1Hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("sha1: the same digest as OpenSSL for every length around the block edges", "[sha1]") {
  std::mt19937 rng(7);
  std::string data;
  for (size_t len = 0; len <= 300; ++len) {
    data.resize(len);
    for (char& c : data) c = static_cast<char>(rng());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha1(), nullptr) == 1);
    REQUIRE(md_len == 20);
    const auto ours = sha1(data);
    INFO("length " << len);
    CHECK(std::equal(ours.begin(), ours.end(), md));
  }
}
