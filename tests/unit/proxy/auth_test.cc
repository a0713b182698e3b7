// --auth-file parsing, the credential check and SASL PLAIN messages.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proxy/auth.h"

using namespace mcbridge::proxy;
using namespace std::literals;

TEST_CASE("auth file: user:password lines") {
  std::vector<Credential> c;
  std::string error;
  REQUIRE(parseCredentials("alice:secret\nbob:pw:with:colons\r\n\nempty:\n", &c, &error));
  REQUIRE(c.size() == 3);
  CHECK(c[0].user == "alice");
  CHECK(c[0].password == "secret");
  CHECK(c[1].password == "pw:with:colons");
  CHECK(c[2].password.empty());
  CHECK(!parseCredentials("alice:secret\nnocolon\n", &c, &error));
  CHECK(error == "line 2 is not user:password");
  CHECK(!parseCredentials(":password\n", &c, &error));
}

TEST_CASE("auth file: credentials match exactly") {
  std::vector<Credential> c;
  std::string error;
  REQUIRE(parseCredentials("alice:secret\nbob:pw\n", &c, &error));
  CHECK(credentialsMatch(c, "alice", "secret"));
  CHECK(credentialsMatch(c, "bob", "pw"));
  CHECK_FALSE(credentialsMatch(c, "alice", "pw"));
  CHECK_FALSE(credentialsMatch(c, "alice", "secre"));
  CHECK_FALSE(credentialsMatch(c, "alice", "secrets"));
  CHECK_FALSE(credentialsMatch(c, "ALICE", "secret"));
  CHECK_FALSE(credentialsMatch(c, "", ""));
}

TEST_CASE("SASL PLAIN with and without an authorization identity") {
  std::string_view user, pass;
  REQUIRE(parseSaslPlain("\0alice\0secret"sv, &user, &pass));
  CHECK(user == "alice");
  CHECK(pass == "secret");
  REQUIRE(parseSaslPlain("alice\0alice\0secret"sv, &user, &pass));
  CHECK(user == "alice");
  CHECK(pass == "secret");
  CHECK_FALSE(parseSaslPlain("bob\0alice\0secret"sv, &user, &pass));
  CHECK_FALSE(parseSaslPlain("\0alice"sv, &user, &pass));
  CHECK_FALSE(parseSaslPlain(""sv, &user, &pass));
  CHECK_FALSE(parseSaslPlain("\0\0secret"sv, &user, &pass));
  CHECK_FALSE(parseSaslPlain("\0alice\0secret\0"sv, &user, &pass));
}
