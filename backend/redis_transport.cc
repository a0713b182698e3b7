#include "backend/redis_transport.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "backend/log.h"

namespace mcbridge::backend {
namespace {

// Buffers keep their capacity between batches; one huge value should not pin memory forever.
constexpr size_t kKeepCapacity = size_t{4} * 1024 * 1024;

bool isIpLiteral(const std::string& host) {
  sockaddr_storage unused;
  return parseIpLiteral(host, 0, &unused);
}

// Drains OpenSSL's thread-local error queue into one line.
std::string opensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("unknown error") : out;
}

}  // namespace

bool parseIpLiteral(const std::string& host, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0) return true;
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
}

SSL_CTX* createTlsContext(const RedisEndpoint& ep, std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "cannot create the TLS context: " + opensslErrors();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (ep.tls_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int ok = ep.tls_ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx)
                 : SSL_CTX_load_verify_locations(ctx, ep.tls_ca_file.c_str(), nullptr);
    if (ok != 1) {
      *error = ep.tls_ca_file.empty() ? "cannot load the system CA certificates: " + opensslErrors()
                                      : fmt::format("cannot load the CA file '{}': {}",
                                                    ep.tls_ca_file, opensslErrors());
      SSL_CTX_free(ctx);
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

RedisTransport::RedisTransport(uv_loop_t* loop, TransportEvents* events, SSL_CTX* ssl_ctx,
                               std::string tls_name, bool tls_verify, char* cipher_buf,
                               Counter* writes)
    : loop_(loop),
      events_(events),
      ssl_ctx_(ssl_ctx),
      tls_name_(std::move(tls_name)),
      tls_verify_(tls_verify),
      cipher_buf_(cipher_buf),
      writes_(writes) {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  connect_req_.data = this;
  write_req_.data = this;
}

RedisTransport::~RedisTransport() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both memory BIOs too
}

int RedisTransport::connect(const sockaddr_storage& addr) {
  uv_tcp_nodelay(&tcp_, 1);
  uv_tcp_keepalive(&tcp_, 1, 60);
  return uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&addr),
                        &RedisTransport::onConnect);
}

void RedisTransport::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    auto* self = static_cast<RedisTransport*>(h->data);
    TransportEvents* events = self->events_;
    delete self;
    events->onTransportClosed();
  });
}

void RedisTransport::fail(const std::string& reason, spdlog::level::level_enum level) {
  events_->onTransportFailed(this, reason, level);
}

void RedisTransport::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<RedisTransport*>(req->data);
  if (self->closing_) return;  // cancelled by a close
  if (status < 0) {
    self->fail(fmt::format("connect: {}", uv_strerror(status)), spdlog::level::warn);
    return;
  }
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &RedisTransport::onAlloc,
                         &RedisTransport::onRead);
  if (rc < 0) {
    self->fail(fmt::format("read start: {}", uv_strerror(rc)), spdlog::level::warn);
    return;
  }
  self->events_->onTransportTcpConnected(self);
  if (self->closing_) return;
  if (self->ssl_ctx_ != nullptr) {
    self->startTls();
  } else {
    self->events_->onTransportConnected(self);
  }
}

// ---- writing ----

void RedisTransport::send(std::string* plaintext) {
  if (ssl_ != nullptr) {
    ERR_clear_error();
    size_t off = 0;
    while (off < plaintext->size()) {
      int chunk = static_cast<int>(std::min<size_t>(plaintext->size() - off, INT_MAX));
      int n = SSL_write(ssl_, plaintext->data() + off, chunk);
      if (n <= 0) {
        plaintext->clear();
        fail("TLS write failed: " + opensslErrors(), spdlog::level::warn);
        return;
      }
      off += static_cast<size_t>(n);
    }
    plaintext->clear();
    drainTls();
  } else if (wire_.empty()) {
    wire_.swap(*plaintext);
  } else {
    wire_.append(*plaintext);
    plaintext->clear();
  }
  startWrite();
}

void RedisTransport::startWrite() {
  if (write_in_progress_ || closing_ || wire_.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  // Most batches fit in the socket buffer: write them at once. uv_write would also register
  // the socket for writability (an extra epoll_ctl per batch in libuv 1.44).
  uv_buf_t now = uv_buf_init(wire_.data(), static_cast<unsigned>(wire_.size()));
  int written = uv_try_write(stream, &now, 1);
  if (written == static_cast<int>(wire_.size())) {
    wire_.clear();
    writes_->add();
    return;
  }
  if (written < 0 && written != UV_EAGAIN) {
    wire_.clear();
    fail(fmt::format("write: {}", uv_strerror(written)), spdlog::level::warn);
    return;
  }
  const size_t done = written > 0 ? static_cast<size_t>(written) : 0;
  writing_.swap(wire_);  // writing_ was empty: the wire buffer keeps its capacity
  uv_buf_t buf = uv_buf_init(writing_.data() + done, static_cast<unsigned>(writing_.size() - done));
  int rc = uv_write(&write_req_, stream, &buf, 1, &RedisTransport::onWrite);
  if (rc < 0) {
    writing_.clear();
    fail(fmt::format("write: {}", uv_strerror(rc)), spdlog::level::warn);
    return;
  }
  write_in_progress_ = true;
  writes_->add();
}

void RedisTransport::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<RedisTransport*>(req->data);
  self->write_in_progress_ = false;
  self->writing_.clear();
  if (self->writing_.capacity() > kKeepCapacity) self->writing_.shrink_to_fit();
  if (self->closing_) return;
  if (status < 0) {
    self->fail(fmt::format("write: {}", uv_strerror(status)), spdlog::level::warn);
    return;
  }
  self->startWrite();  // TLS records produced meanwhile (e.g. by a read)
  if (self->closing_) return;
  self->events_->onTransportWritable(self);  // commands that arrived meanwhile
}

// ---- reading ----

void RedisTransport::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<RedisTransport*>(h->data);
  if (self->ssl_ != nullptr) {  // ciphertext: decrypted into in_ by tlsProgress
    *buf = uv_buf_init(self->cipher_buf_, kReadBufferSize);
    return;
  }
  // Plain TCP: replies land where they are parsed, and are copied once, by the completion.
  size_t avail = 0;
  char* p = self->in_.prepare(kReadBufferSize, self->in_needed_, &avail);
  *buf = uv_buf_init(p, static_cast<unsigned>(avail));
}

void RedisTransport::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<RedisTransport*>(stream->data);
  if (self->closing_) return;
  if (nread < 0) {
    self->fail(nread == UV_EOF ? std::string("connection closed by the server")
                               : fmt::format("read: {}", uv_strerror(static_cast<int>(nread))),
               spdlog::level::warn);
    return;
  }
  if (nread == 0) return;
  if (self->ssl_ != nullptr) {
    BIO_write(self->net_in_, buf->base, static_cast<int>(nread));
    self->tlsProgress();
    return;
  }
  self->in_.commit(static_cast<size_t>(nread));
  self->events_->onTransportReadable(self);
}

// ---- TLS over memory BIOs on the same uv_tcp_t ----

void RedisTransport::startTls() {
  ERR_clear_error();
  ssl_ = SSL_new(ssl_ctx_);
  net_in_ = BIO_new(BIO_s_mem());
  net_out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || net_in_ == nullptr || net_out_ == nullptr) {
    if (ssl_ == nullptr) {
      BIO_free(net_in_);
      BIO_free(net_out_);
    } else {
      SSL_set_bio(ssl_, net_in_, net_out_);  // so SSL_free releases whichever exists
    }
    fail("cannot create the TLS session: " + opensslErrors(), spdlog::level::err);
    return;
  }
  SSL_set_bio(ssl_, net_in_, net_out_);
  SSL_set_connect_state(ssl_);
  bool ip = isIpLiteral(tls_name_);
  // SNI carries host names only (RFC 6066); Memorystore is usually addressed by IP.
  if (!ip) SSL_set_tlsext_host_name(ssl_, tls_name_.c_str());
  if (tls_verify_) {
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), tls_name_.c_str())
                : SSL_set1_host(ssl_, tls_name_.c_str());
    if (ok != 1) {
      fail(fmt::format("cannot set the TLS verification name '{}': {}", tls_name_, opensslErrors()),
           spdlog::level::err);
      return;
    }
  }
  tlsProgress();
}

// Runs the handshake, then decrypts whatever arrived and hands it to the owner; sends any TLS
// records OpenSSL produced along the way.
void RedisTransport::tlsProgress() {
  ERR_clear_error();
  if (!tls_done_) {
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        drainTls();
        startWrite();
        return;
      }
      tlsFailed("TLS handshake");
      return;
    }
    tls_done_ = true;
    SPDLOG_LOGGER_DEBUG(namedLogger("redis"), "redis: TLS established ({}, {})",
                        SSL_get_version(ssl_), SSL_get_cipher_name(ssl_));
    drainTls();
    startWrite();
    if (closing_) return;  // the write failed and dropped the connection
    events_->onTransportConnected(this);
    if (closing_) return;
  }
  for (;;) {
    size_t avail = 0;
    char* plain = in_.prepare(16 * 1024, in_needed_, &avail);
    int n = SSL_read(ssl_, plain, static_cast<int>(std::min<size_t>(avail, INT_MAX)));
    if (n > 0) {
      in_.commit(static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      fail("TLS connection closed by the server", spdlog::level::warn);
      return;
    }
    tlsFailed("TLS read");
    return;
  }
  drainTls();  // e.g. answers to key updates
  startWrite();
  if (closing_) return;
  events_->onTransportReadable(this);
}

void RedisTransport::tlsFailed(const char* what) {
  std::string reason = fmt::format("{} failed: {}", what, opensslErrors());
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    reason += fmt::format(" (certificate verification: {})", X509_verify_cert_error_string(verify));
  }
  fail(reason, spdlog::level::err);
}

void RedisTransport::drainTls() {
  for (;;) {
    size_t pending = BIO_ctrl_pending(net_out_);
    if (pending == 0) return;
    size_t old = wire_.size();
    wire_.resize(old + pending);
    int n = BIO_read(net_out_, wire_.data() + old, static_cast<int>(pending));
    wire_.resize(old + static_cast<size_t>(std::max(n, 0)));
    if (n <= 0) return;
  }
}

}  // namespace mcbridge::backend
