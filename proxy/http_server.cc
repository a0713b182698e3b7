#include "proxy/http_server.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace mcbridge::proxy {
namespace {

constexpr size_t kMaxHead = 8192;
constexpr size_t kReadChunk = 1024;
constexpr uint64_t kConnectionTimeoutMs = 10000;  // a client gets this long to send its request

std::string_view reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string render(const HttpResponse& r, bool head_only, std::string_view extra_headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out.append(reason(r.status)).append("\r\nContent-Type: ").append(r.content_type);
  out.append("\r\nContent-Length: ").append(std::to_string(r.body.size()));
  out.append("\r\nConnection: close\r\n").append(extra_headers).append("\r\n");
  if (!head_only) out.append(r.body);
  return out;
}

HttpResponse plain(int status, std::string body) { return {status, "text/plain", std::move(body)}; }

// The end of the request head (the empty line), or npos.
size_t headEnd(std::string_view in) {
  const size_t crlf = in.find("\r\n\r\n");
  const size_t lf = in.find("\n\n");
  if (crlf == std::string_view::npos) return lf == std::string_view::npos ? lf : lf + 2;
  if (lf != std::string_view::npos && lf < crlf) return lf + 2;
  return crlf + 4;
}

}  // namespace

struct HttpServer::Conn {
  HttpServer* server;
  uv_tcp_t tcp;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  std::string in;
  std::string out;
  uint64_t accepted_ms;
  bool answered = false;
  bool closing = false;
  Conn* prev = nullptr;
  Conn* next = nullptr;
};

std::string HttpServer::respond(std::string_view head, const Handler& handler) {
  // <METHOD> SP <target> SP HTTP/<x.y> CRLF, then headers (ignored)
  const size_t eol = head.find('\n');
  std::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    return render(plain(400, "bad request\n"), false);
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.rfind("http://", 0) == 0) {  // absolute form: keep the path
    const size_t slash = target.find('/', 7);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  target = target.substr(0, target.find_first_of("?#"));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return render(plain(405, "method not allowed\n"), false, "Allow: GET, HEAD\r\n");
  }
  return render(handler(target), head_only);
}

HttpServer::HttpServer(Handler handler) : handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::start(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (gai != 0) return std::string("cannot resolve: ") + gai_strerror(gai);
  uv_loop_init(&loop_);
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  int rc = uv_tcp_bind(&listener_, res->ai_addr, 0);
  freeaddrinfo(res);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, &onConnection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return uv_strerror(rc);
  }
  uv_async_init(&loop_, &stop_async_, &onStop);
  stop_async_.data = this;
  uv_timer_init(&loop_, &sweep_timer_);
  sweep_timer_.data = this;
  uv_timer_start(&sweep_timer_, &onSweep, 1000, 1000);
  started_ = true;
  thread_ = std::thread([this] {
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  });
  return {};
}

void HttpServer::stop() {
  if (!started_) return;
  started_ = false;
  uv_async_send(&stop_async_);
  thread_.join();
}

void HttpServer::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<HttpServer*>(listener->data);
  if (status < 0) return;
  auto* c = new Conn{};
  c->server = self;
  uv_tcp_init(&self->loop_, &c->tcp);
  c->tcp.data = c;
  c->accepted_ms = uv_now(&self->loop_);
  c->next = self->conns_;
  if (self->conns_ != nullptr) self->conns_->prev = c;
  self->conns_ = c;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    closeConn(c);
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(h->data);
        const size_t used = conn->in.size();
        conn->in.resize(used + kReadChunk);
        *buf = uv_buf_init(conn->in.data() + used, kReadChunk);
      },
      &onRead);
}

void HttpServer::onRead(uv_stream_t* stream, ssize_t n, const uv_buf_t*) {
  auto* c = static_cast<Conn*>(stream->data);
  c->in.resize(c->in.size() - kReadChunk + (n > 0 ? static_cast<size_t>(n) : 0));
  if (n < 0) {
    closeConn(c);
    return;
  }
  const size_t end = headEnd(c->in);
  if (end == std::string::npos && c->in.size() <= kMaxHead) return;
  uv_read_stop(stream);
  c->answered = true;
  c->out = end == std::string::npos
               ? render(plain(431, "request head too large\n"), false)
               : respond(std::string_view(c->in).substr(0, end), c->server->handler_);
  uv_buf_t out = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
  uv_write(&c->write_req, stream, &out, 1, [](uv_write_t* w, int status) {
    auto* conn = static_cast<Conn*>(w->handle->data);
    if (status < 0 || conn->closing) {
      closeConn(conn);
      return;
    }
    // FIN after the response, then close once the kernel took it.
    uv_shutdown(&conn->shutdown_req, w->handle,
                [](uv_shutdown_t* sh, int) { closeConn(static_cast<Conn*>(sh->handle->data)); });
  });
}

void HttpServer::closeConn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    HttpServer* self = conn->server;
    if (conn->prev != nullptr) conn->prev->next = conn->next;
    if (conn->next != nullptr) conn->next->prev = conn->prev;
    if (self->conns_ == conn) self->conns_ = conn->next;
    delete conn;
  });
}

void HttpServer::onSweep(uv_timer_t* timer) {
  auto* self = static_cast<HttpServer*>(timer->data);
  const uint64_t now = uv_now(&self->loop_);
  for (Conn* c = self->conns_; c != nullptr; c = c->next) {
    if (!c->answered && now - c->accepted_ms > kConnectionTimeoutMs) closeConn(c);
  }
}

void HttpServer::onStop(uv_async_t* async) {
  auto* self = static_cast<HttpServer*>(async->data);
  for (Conn* c = self->conns_; c != nullptr; c = c->next) closeConn(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->listener_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->sweep_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_async_), nullptr);
}

}  // namespace mcbridge::proxy
