// One TCP connection attempt to a Redis node, optionally TLS over OpenSSL memory BIOs on the same
// uv_tcp_t (used by RedisConnection, which owns the protocol: queue, handshake, replies).
//
// A transport is replaced (never reused) on reconnect, so late callbacks of a dropped socket
// (ECANCELED writes, its close) cannot touch the new one. After close(), no event reaches the
// owner except onTransportClosed, from the close callback of the uv_tcp_t (which libuv runs after
// the cancelled connect/write callbacks); the transport deletes itself right after it.
#pragma once

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <uv.h>

#include <string>

#include "backend/counters.h"
#include "backend/read_buffer.h"
#include "backend/redis_connection.h"
#include "backend/resp_reader.h"

namespace mcbridge::backend {

class RedisTransport;

// Implemented by the transport's owner; every event runs on the loop thread.
class TransportEvents {
 public:
  virtual void onTransportTcpConnected(RedisTransport* t) = 0;  // TLS handshake (if any) next
  virtual void onTransportConnected(RedisTransport* t) = 0;     // ready for commands
  virtual void onTransportReadable(RedisTransport* t) = 0;      // new plaintext in input()
  virtual void onTransportWritable(RedisTransport* t) = 0;      // the outstanding write is done
  virtual void onTransportFailed(RedisTransport* t, const std::string& reason,
                                 spdlog::level::level_enum level) = 0;
  // The transport's handle is closed and the transport deleted.
  virtual void onTransportClosed() = 0;

 protected:
  ~TransportEvents() = default;
};

// Parsing helpers shared with the connection.
bool parseIpLiteral(const std::string& host, uint16_t port, sockaddr_storage* out);
// A TLS client context for `ep` (CA file or the system CAs, verification per ep.tls_verify);
// nullptr and *error on failure.
SSL_CTX* createTlsContext(const RedisEndpoint& ep, std::string* error);

class RedisTransport {
 public:
  static constexpr size_t kReadBufferSize = size_t{64} * 1024;

  // `ssl_ctx` null: plain TCP. `tls_name`: SNI and verification name. `cipher_buf` (TLS only):
  // kReadBufferSize bytes the ciphertext is read into, shared by the owner's transports.
  // `writes` counts the writes.
  RedisTransport(uv_loop_t* loop, TransportEvents* events, SSL_CTX* ssl_ctx, std::string tls_name,
                 bool tls_verify, char* cipher_buf, Counter* writes);
  RedisTransport(const RedisTransport&) = delete;
  RedisTransport& operator=(const RedisTransport&) = delete;

  // Returns a libuv error code (< 0) when the connect could not even start; the owner then
  // treats it as failed and closes the transport.
  int connect(const sockaddr_storage& addr);
  // Hands plaintext to the socket (encrypting when TLS) and starts a write. Leaves *plaintext
  // empty (possibly holding the wire buffer's old capacity). May report onTransportFailed.
  void send(std::string* plaintext);
  void close();

  bool closing() const { return closing_; }
  bool writeInProgress() const { return write_in_progress_; }
  bool tls() const { return ssl_ != nullptr; }
  // Plaintext reply bytes, parsed in place by the owner; parse again once in_needed bytes.
  ReadBuffer& input() { return in_; }
  size_t& inNeeded() { return in_needed_; }
  RespReader& resp() { return resp_; }

 private:
  ~RedisTransport();
  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  void startWrite();
  void startTls();
  void tlsProgress();
  void tlsFailed(const char* what);
  void drainTls();
  void fail(const std::string& reason, spdlog::level::level_enum level);

  uv_loop_t* loop_;
  TransportEvents* events_;
  SSL_CTX* ssl_ctx_;
  std::string tls_name_;
  bool tls_verify_;
  char* cipher_buf_;
  Counter* writes_;

  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  std::string wire_;     // bytes for the next uv_write (plaintext, or TLS records)
  std::string writing_;  // bytes of the outstanding uv_write
  bool write_in_progress_ = false;
  bool closing_ = false;
  ReadBuffer in_;         // reply bytes (plaintext), parsed in place
  size_t in_needed_ = 0;  // parse again once `in_` holds this many bytes
  RespReader resp_;
  SSL* ssl_ = nullptr;
  BIO* net_in_ = nullptr;   // ciphertext from the network, read by OpenSSL
  BIO* net_out_ = nullptr;  // ciphertext produced by OpenSSL, for the wire
  bool tls_done_ = false;
};

}  // namespace mcbridge::backend
