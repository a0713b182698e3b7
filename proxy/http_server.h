// A minimal HTTP/1.1 server for the admin endpoint: GET and HEAD, one request per connection
// (answered with `Connection: close`), on its own thread and libuv loop so it never touches the
// request path. Enough for Prometheus scrapes, kubelet probes and curl; nothing more.
//
// Our own rather than cpp-httplib: the Debian library initialises OpenSSL (with its error
// strings) from a static constructor in every process that links it, ~2 MB of resident memory
// for an endpoint that never speaks TLS.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace mcbridge::proxy {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

class HttpServer {
 public:
  // Called on the server's thread for every GET/HEAD request, with the path (query removed).
  using Handler = std::function<HttpResponse(std::string_view path)>;

  explicit HttpServer(Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (host: an IP address or a name resolved now) and starts serving on a new
  // thread. Returns an error message, empty on success.
  std::string start(const std::string& host, int port);
  // Closes every connection and the listener, joins the thread. Idempotent.
  void stop();

  // The whole response (status line, headers, body) to one complete request head: the request
  // line and headers up to the empty line. Public for the unit test.
  static std::string respond(std::string_view head, const Handler& handler);

 private:
  struct Conn;
  static void onConnection(uv_stream_t* listener, int status);
  static void onRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf);
  static void closeConn(Conn* c);
  static void onStop(uv_async_t* async);
  static void onSweep(uv_timer_t* timer);

  Handler handler_;
  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t stop_async_{};
  uv_timer_t sweep_timer_{};
  Conn* conns_ = nullptr;  // intrusive list of open connections
  bool started_ = false;
  std::thread thread_;
};

}  // namespace mcbridge::proxy
