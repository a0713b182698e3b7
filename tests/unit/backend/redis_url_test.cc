// parseRedisUrl: redis[s]://[[user]:password@]host[:port][/db]

#include <catch2/catch.hpp>
#include <string>

#include "backend/redis_connection.h"

namespace mcbridge::backend {
namespace {

RedisEndpoint parseOk(const std::string& url) {
  RedisEndpoint ep;
  std::string error;
  INFO(url);
  REQUIRE(parseRedisUrl(url, &ep, &error));
  CHECK(error.empty());
  return ep;
}

std::string parseError(const std::string& url) {
  RedisEndpoint ep;
  ep.host = "untouched";
  std::string error;
  INFO(url);
  REQUIRE_FALSE(parseRedisUrl(url, &ep, &error));
  CHECK(ep.host == "untouched");  // *out is not modified on error
  CHECK_FALSE(error.empty());
  return error;
}

TEST_CASE("parseRedisUrl: host, port, db", "[redis][url]") {
  RedisEndpoint ep = parseOk("redis://10.0.0.3");
  CHECK(ep.host == "10.0.0.3");
  CHECK(ep.port == 6379);
  CHECK(ep.db == 0);
  CHECK_FALSE(ep.tls);
  CHECK(ep.username.empty());
  CHECK(ep.password.empty());

  ep = parseOk("redis://redis.internal:6380/5");
  CHECK(ep.host == "redis.internal");
  CHECK(ep.port == 6380);
  CHECK(ep.db == 5);

  ep = parseOk("redis://h:1/");
  CHECK(ep.port == 1);
  CHECK(ep.db == 0);

  ep = parseOk("REDIS://h:65535/15");
  CHECK(ep.port == 65535);
  CHECK(ep.db == 15);
}

TEST_CASE("parseRedisUrl: user info", "[redis][url]") {
  RedisEndpoint ep = parseOk("redis://:secret@h");
  CHECK(ep.username.empty());
  CHECK(ep.password == "secret");

  ep = parseOk("redis://secret@h");  // redis-cli: no colon = password of the default user
  CHECK(ep.username.empty());
  CHECK(ep.password == "secret");

  ep = parseOk("redis://alice:pw@h:7000/2");
  CHECK(ep.username == "alice");
  CHECK(ep.password == "pw");
  CHECK(ep.host == "h");
  CHECK(ep.port == 7000);
  CHECK(ep.db == 2);

  ep = parseOk("redis://al%69ce:p%40ss%3Aword%25%2f@h");
  CHECK(ep.username == "alice");
  CHECK(ep.password == "p@ss:word%/");

  ep = parseOk("redis://:p@ss@h");  // the last '@' ends the user info
  CHECK(ep.password == "p@ss");
  CHECK(ep.host == "h");

  ep = parseOk("redis://:a:b@h");  // only the first ':' separates user and password
  CHECK(ep.username.empty());
  CHECK(ep.password == "a:b");
}

TEST_CASE("parseRedisUrl: rediss and IPv6", "[redis][url]") {
  RedisEndpoint ep;
  ep.tls_ca_file = "/etc/ca.pem";
  ep.tls_verify = false;
  std::string error;
  REQUIRE(parseRedisUrl("rediss://:pw@10.1.2.3:6378", &ep, &error));
  CHECK(ep.tls);
  CHECK(ep.port == 6378);
  CHECK(ep.password == "pw");
  CHECK(ep.tls_ca_file == "/etc/ca.pem");  // options a URL cannot carry are kept
  CHECK_FALSE(ep.tls_verify);

  ep = parseOk("rediss://h");
  CHECK(ep.tls);
  CHECK(ep.port == 6379);

  ep = parseOk("redis://[::1]:6390/1");
  CHECK(ep.host == "::1");
  CHECK(ep.port == 6390);
  CHECK(ep.db == 1);

  ep = parseOk("redis://:pw@[fe80::1:2]");
  CHECK(ep.host == "fe80::1:2");
  CHECK(ep.port == 6379);
}

TEST_CASE("parseRedisUrl: errors", "[redis][url]") {
  CHECK(parseError("http://h").find("scheme") != std::string::npos);
  CHECK(parseError("h:6379").find("scheme") != std::string::npos);
  CHECK(parseError("redis://").find("missing host") != std::string::npos);
  CHECK(parseError("redis://:pw@").find("missing host") != std::string::npos);
  CHECK(parseError("redis://h:").find("port") != std::string::npos);
  CHECK(parseError("redis://h:0").find("port") != std::string::npos);
  CHECK(parseError("redis://h:65536").find("port") != std::string::npos);
  CHECK(parseError("redis://h:-1").find("port") != std::string::npos);
  CHECK(parseError("redis://h:63x").find("port") != std::string::npos);
  CHECK(parseError("redis://h/x").find("database") != std::string::npos);
  CHECK(parseError("redis://h/-1").find("database") != std::string::npos);
  CHECK(parseError("redis://h/1/2").find("database") != std::string::npos);
  CHECK(parseError("redis://h/99999999999").find("database") != std::string::npos);
  CHECK(parseError("redis://::1:6379").find("brackets") != std::string::npos);
  CHECK(parseError("redis://[::1").find("'['") != std::string::npos);
  CHECK(parseError("redis://[::1]x").find("']'") != std::string::npos);
  CHECK(parseError("redis://[nothost]:1").find("IPv6") != std::string::npos);
  CHECK(parseError("redis://:%zz@h").find("percent") != std::string::npos);
  CHECK(parseError("redis://:%4@h").find("percent") != std::string::npos);
  CHECK(parseError("redis://h?db=1").find("query") != std::string::npos);
}

TEST_CASE("parseRedisUrl: errors never show the password", "[redis][url]") {
  std::string e = parseError("redis://bob:hunter2@h:99999");
  CHECK(e.find("hunter2") == std::string::npos);
  CHECK(e.find("bob") == std::string::npos);
  CHECK(e.find("redis://***@h:99999") != std::string::npos);
  e = parseError("redis://:hunter2@[::1/0");
  CHECK(e.find("hunter2") == std::string::npos);
}

}  // namespace
}  // namespace mcbridge::backend
