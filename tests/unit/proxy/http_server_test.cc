// The admin endpoint's HTTP server: request heads answered as curl, Prometheus and kubelet
// expect, and a real socket round trip (bind, answer, close, stop with a client still open).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "proxy/http_server.h"

using mcbridge::proxy::HttpResponse;
using mcbridge::proxy::HttpServer;

namespace {

HttpResponse route(std::string_view path) {
  if (path == "/healthz") return {200, "text/plain", "ok\n"};
  return {404, "text/plain", "not found\n"};
}

int connectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A port free right now (bind to 0, read it back, release it).
int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("http: GET and HEAD of a known path, query ignored", "[http]") {
  CHECK(HttpServer::respond("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", route) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
        "Connection: close\r\n\r\nok\n");
  CHECK(HttpServer::respond("HEAD /healthz?x=1 HTTP/1.0\r\n\r\n", route) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
        "Connection: close\r\n\r\n");
  CHECK(HttpServer::respond("GET http://h:9/healthz HTTP/1.1\n\n", route).find(" 200 OK") == 8);
}

TEST_CASE("http: unknown path, other methods and garbage", "[http]") {
  CHECK(HttpServer::respond("GET /nope HTTP/1.1\r\n\r\n", route).rfind("HTTP/1.1 404 ", 0) == 0);
  const std::string post = HttpServer::respond("POST /healthz HTTP/1.1\r\n\r\n", route);
  CHECK(post.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(post.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
  CHECK(HttpServer::respond("hello\r\n\r\n", route).rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(HttpServer::respond("GET /healthz SPDY/3\r\n\r\n", route).rfind("HTTP/1.1 400 ", 0) == 0);
}

TEST_CASE("http: a real socket round trip, a request in pieces, an oversized head", "[http]") {
  HttpServer server(route);
  const int port = freePort();
  REQUIRE(server.start("127.0.0.1", port).empty());

  int fd = connectTo(port);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
  REQUIRE(write(fd, req.data(), 10) == 10);
  usleep(20000);
  REQUIRE(write(fd, req.data() + 10, req.size() - 10) == static_cast<ssize_t>(req.size() - 10));
  const std::string reply = readAll(fd);  // ends when the server closes
  close(fd);
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(reply.substr(reply.size() - 3) == "ok\n");

  fd = connectTo(port);
  const std::string big = "GET /" + std::string(9000, 'a');
  REQUIRE(write(fd, big.data(), big.size()) == static_cast<ssize_t>(big.size()));
  CHECK(readAll(fd).rfind("HTTP/1.1 431 ", 0) == 0);
  close(fd);

  // A client that never sends anything does not keep stop() waiting.
  fd = connectTo(port);
  server.stop();
  close(fd);
  // The port is free again.
  HttpServer again(route);
  CHECK(again.start("127.0.0.1", port).empty());
}

TEST_CASE("http: a port in use is an error at start", "[http]") {
  HttpServer a(route), b(route);
  const int port = freePort();
  REQUIRE(a.start("127.0.0.1", port).empty());
  CHECK_FALSE(b.start("127.0.0.1", port).empty());
}
