// RedisConnection: one pipelined Redis connection on a libuv loop. See the header for the
// contract; this file explains the mechanics.
//
// Life of a command:
//   send()   encodes RESP straight into queued_bytes_ and appends {completion, time} to queue_.
//   flush()  (a uv_prepare callback, so once per loop turn, just before the loop would block)
//            moves the whole queue_ into inflight_ and hands queued_bytes_ to one uv_write.
//   reply    RespReader parses replies in place, in order; each pops the head of inflight_.
// At most one uv_write is outstanding per socket; commands sent meanwhile stay in queue_ (not yet
// on the wire) and go out in the next batch when the write completes. A command therefore is in
// exactly one place: queue_ (never written: safe to keep across a reconnect) or inflight_
// (written: failed on disconnect, because it may have run and may not be idempotent).
//
// Connection states: kBackoff -> (resolve) -> kConnecting -> [kTlsHandshake] -> [kHandshaking:
// AUTH, SELECT, SCRIPT LOAD, replies consumed here] -> kReady. Any failure closes the socket,
// fails inflight_ and arms the backoff timer: one attempt at a time, never a storm.
//
// Completions are always invoked after the connection's own state is consistent (collect, then
// deliver), so a completion may call send() or stop() re-entrantly.
//
// Small MGETs sent back to back (typically single-key gets of different clients in one loop
// turn) are merged into one MGET: Redis spends far less per key on one MGET than on one command
// per key. The merge is invisible: each sender gets its own slice of the reply array, and since
// only consecutive MGETs merge, every command still runs in the order it was sent. The open run
// is encoded (closed) by the next non-MGET command, by flush(), by the deadline check and by
// stop.
// (A Redis Cluster connection must merge only keys of one hash slot: CROSSSLOT otherwise.)

#include "backend/redis_connection.h"

#include "backend/read_buffer.h"
#include "backend/resp_reader.h"
#include "backend/ring_queue.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <climits>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "backend/log.h"
#include "protocol/reply.h"

namespace mcbridge::backend {

const char* toString(RedisFailure f) {
  switch (f) {
    case RedisFailure::kTimeout:
      return "timeout";
    case RedisFailure::kDisconnected:
      return "disconnected";
    case RedisFailure::kProtocol:
      return "protocol error";
    case RedisFailure::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadBufferSize = size_t{64} * 1024;
// Buffers keep their capacity between batches; one huge value should not pin memory forever.
constexpr size_t kKeepCapacity = size_t{4} * 1024 * 1024;
constexpr std::chrono::milliseconds kMaxDeadlineTick{100};
// Merging pays for small MGETs (a get of one key above all); a large one already spreads
// Redis's per-command cost over its keys, and merging it would only hold its neighbours'
// replies back until the whole large reply has arrived. A merged MGET is closed at this many
// keys or key bytes.
constexpr size_t kMaxKeysToMerge = 16;
constexpr size_t kMaxMergedKeys = 128;
constexpr size_t kMaxMergedKeyBytes = size_t{16} * 1024;

bool isMergeableMget(std::span<const RedisArg> args) {
  return args.size() >= 2 && args.size() - 1 <= kMaxKeysToMerge && args[0].first == "MGET" &&
         args[0].second.empty();
}

void appendDecimal(std::string* out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

// RESP: *<argc>\r\n, then $<len>\r\n<bytes>\r\n per argument. We encode ourselves instead of
// using hiredis's redisFormatCommandArgv: that takes each argument as one contiguous buffer, so
// a two-piece argument (14-byte item header + the client's data) would first have to be joined
// (one copy of the value) and then formatted (a second copy). Here the value is copied once,
// straight into the output buffer.
// $<len>\r\n<bytes>\r\n
void appendBulk(const RedisArg& a, std::string* out) {
  out->push_back('$');
  appendDecimal(out, a.first.size() + a.second.size());
  out->append("\r\n");
  out->append(a.first);
  out->append(a.second);
  out->append("\r\n");
}

void encodeCommand(std::span<const RedisArg> args, std::string* out) {
  size_t need = 16;
  for (const RedisArg& a : args) need += a.first.size() + a.second.size() + 24;
  protocol::reserveMore(out, need);
  out->push_back('*');
  appendDecimal(out, args.size());
  out->append("\r\n");
  for (const RedisArg& a : args) appendBulk(a, out);
}

bool parseIpLiteral(const std::string& host, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0) return true;
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
}

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

// Fails a completion from a loop callback when the connection can no longer do it itself
// (send() after stop() finished). Owns nothing but itself.
void failLater(uv_loop_t* loop, RedisCompletion* completion, RedisFailure failure) {
  struct Deferred {
    uv_timer_t timer;
    RedisCompletion* completion;
    RedisFailure failure;
  };
  auto* d = new Deferred{{}, completion, failure};
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
  uv_timer_start(
      &d->timer,
      [](uv_timer_t* t) {
        auto* self = static_cast<Deferred*>(t->data);
        self->completion->onRedisFailure(self->failure);
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Deferred*>(h->data); });
      },
      0, 0);
}

std::atomic<uint64_t> next_connection_id{1};

}  // namespace

struct RedisConnection::Impl {
  enum class State : uint8_t {
    kIdle,          // not started
    kBackoff,       // waiting for connect_timer_ before the next attempt
    kResolving,     // uv_getaddrinfo in progress
    kConnecting,    // uv_tcp_connect in progress
    kTlsHandshake,  // TCP up, TLS handshake in progress
    kHandshaking,   // AUTH / SELECT / SCRIPT LOAD sent, replies pending
    kReady,         // user commands flow
    kStopping,
  };
  // Commands that the connection sends itself; their replies never reach a completion.
  enum class Kind : uint8_t { kUser, kAuth, kSelect, kScriptLoad };

  struct Queued {
    RedisCompletion* completion;
    Clock::time_point queued_at;
    size_t bytes;  // of its RESP in queued_bytes_
  };
  struct InFlight {
    RedisCompletion* completion;  // null: internal, or already failed with kTimeout
    Kind kind;
    Clock::time_point queued_at;  // the deadline counts from here
    Clock::time_point sent_at;    // latency counts from here
  };
  using Failures = std::vector<std::pair<RedisCompletion*, RedisFailure>>;

  // One sender's MGET inside a merged one: its keys are elements [first, first + count).
  struct MgetPart {
    RedisCompletion* completion;
    size_t first;
    size_t count;
  };
  // The completion of a merged MGET: hands each part its slice of the reply, then returns to
  // the pool. Owned by Impl (mget_fanouts_).
  struct MgetFanout final : RedisCompletion {
    Impl* owner = nullptr;
    std::vector<MgetPart> parts;
    size_t keys = 0;

    void onRedisReply(const redisReply* reply) override {
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == keys) {
        for (const MgetPart& p : parts) {
          redisReply slice{};
          slice.type = REDIS_REPLY_ARRAY;
          slice.elements = p.count;
          slice.element = reply->element + p.first;
          p.completion->onRedisReply(&slice);
        }
      } else if (reply->type == REDIS_REPLY_ERROR) {
        for (const MgetPart& p : parts) p.completion->onRedisReply(reply);
      } else {
        static const redisReply kUnexpected = [] {
          redisReply r{};
          r.type = REDIS_REPLY_ERROR;
          r.str = const_cast<char*>("ERR unexpected reply to MGET");
          r.len = std::strlen(r.str);
          return r;
        }();
        for (const MgetPart& p : parts) p.completion->onRedisReply(&kUnexpected);
      }
      release();
    }
    void onRedisFailure(RedisFailure failure) override {
      for (const MgetPart& p : parts) p.completion->onRedisFailure(failure);
      release();
    }
    void release() {
      parts.clear();
      keys = 0;
      owner->free_fanouts_.push_back(this);
    }
  };
  // MGETs sent back to back and not yet encoded.
  struct MgetRun {
    std::string keys;  // RESP bulk strings
    size_t nkeys = 0;
    std::vector<MgetPart> parts;
    Clock::time_point queued_at;
  };

  // One TCP connection attempt. Replaced (never reused) on reconnect, so late callbacks of a
  // dropped socket (ECANCELED writes, its close) cannot touch the new one. Freed in the close
  // callback of its uv_tcp_t, which libuv runs after the cancelled connect/write callbacks.
  struct Socket {
    explicit Socket(Impl* o) : owner(o) {}
    ~Socket() {
      if (ssl != nullptr) SSL_free(ssl);  // frees both memory BIOs too
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    Impl* owner;
    uv_tcp_t tcp{};
    uv_connect_t connect_req{};
    uv_write_t write_req{};
    std::string wire;     // bytes for the next uv_write (plaintext, or TLS records)
    std::string writing;  // bytes of the outstanding uv_write
    bool write_in_progress = false;
    bool closing = false;
    ReadBuffer in;       // reply bytes (plaintext), parsed in place
    size_t in_needed = 0;  // parse again once `in` holds this many bytes
    RespReader resp;
    SSL* ssl = nullptr;
    BIO* net_in = nullptr;   // ciphertext from the network, read by OpenSSL
    BIO* net_out = nullptr;  // ciphertext produced by OpenSSL, for the wire
    bool tls_done = false;
  };

  Impl(uv_loop_t* loop, RedisOptions options)
      : loop_(loop),
        options_(std::move(options)),
        log_(namedLogger("redis")),
        rng_(std::random_device{}()),
        read_buf_(new char[kReadBufferSize]) {
    const RedisEndpoint& ep = options_.endpoint;
    bool v6 = ep.host.find(':') != std::string::npos;
    name_ = fmt::format("#{} {}{}{}:{}", next_connection_id.fetch_add(1), v6 ? "[" : "", ep.host,
                        v6 ? "]" : "", ep.port);
  }

  ~Impl() {
    if (ssl_ctx_ != nullptr) SSL_CTX_free(ssl_ctx_);
  }

  // ---- public operations ----

  void start() {
    if (started_) return;
    started_ = true;
    initHandles();
    setState(State::kBackoff);
    beginConnect();
    if (!queue_.empty() || !mget_run_.parts.empty()) armDeadlineTimer();
  }

  void stop(std::function<void()> done) {
    if (stopping_) {
      log_->warn("redis {}: stop() called twice", name_);
      if (done) failLaterDone(std::move(done));
      return;
    }
    stopping_ = true;
    done_ = std::move(done);
    // Even when never started we need a loop callback to run `done` (and the kShutdown
    // completions) outside of this call.
    if (!started_) {
      started_ = true;
      initHandles();
    }
    setState(State::kStopping);
    SPDLOG_LOGGER_DEBUG(log_, "redis {}: stopping ({} queued, {} in flight)", name_, queue_.size(),
                        inflight_.size());
    closeSocket();
    if (resolve_req_ != nullptr) {
      // Its callback still runs (with UV_EAI_CANCELED, or normally if already resolving) and
      // releases it; open_handles_ keeps `done` waiting for it.
      uv_cancel(reinterpret_cast<uv_req_t*>(resolve_req_));
      resolve_req_ = nullptr;
    }
    closeHandle(reinterpret_cast<uv_handle_t*>(&flush_handle_));
    closeHandle(reinterpret_cast<uv_handle_t*>(&deadline_timer_));
    closeHandle(reinterpret_cast<uv_handle_t*>(&connect_timer_));
  }

  void send(std::span<const RedisArg> args, RedisCompletion* completion) {
    if (stopped_) {
      failLater(loop_, completion, RedisFailure::kShutdown);
      return;
    }
    if (isMergeableMget(args)) {
      addToMgetRun(args.subspan(1), completion);
    } else {
      closeMgetRun();
      size_t before = queued_bytes_.size();
      encodeCommand(args, &queued_bytes_);
      queue_.push_back(Queued{completion, Clock::now(), queued_bytes_.size() - before});
    }
    // While stopping, the last close callback fails everything queued; before start(),
    // commands wait for it.
    if (stopping_ || !started_) return;
    armDeadlineTimer();
    if (state_ == State::kReady && !uv_is_active(reinterpret_cast<uv_handle_t*>(&flush_handle_))) {
      uv_prepare_start(&flush_handle_, &Impl::onFlush);
    }
  }

  // ---- merged MGETs ----

  void addToMgetRun(std::span<const RedisArg> keys, RedisCompletion* completion) {
    if (mget_run_.nkeys > 0 && (mget_run_.nkeys + keys.size() > kMaxMergedKeys ||
                                mget_run_.keys.size() > kMaxMergedKeyBytes)) {
      closeMgetRun();
    }
    if (mget_run_.parts.empty()) mget_run_.queued_at = Clock::now();
    mget_run_.parts.push_back(MgetPart{completion, mget_run_.nkeys, keys.size()});
    mget_run_.nkeys += keys.size();
    for (const RedisArg& k : keys) appendBulk(k, &mget_run_.keys);
  }

  // Encodes the open run as one MGET and queues it, with a fan-out completion when it merges
  // several senders' MGETs.
  void closeMgetRun() {
    MgetRun& run = mget_run_;
    if (run.parts.empty()) return;
    const size_t before = queued_bytes_.size();
    queued_bytes_.push_back('*');
    appendDecimal(&queued_bytes_, run.nkeys + 1);
    queued_bytes_.append("\r\n$4\r\nMGET\r\n");
    queued_bytes_.append(run.keys);
    RedisCompletion* completion = run.parts.front().completion;
    if (run.parts.size() > 1) {
      MgetFanout* fanout;
      if (free_fanouts_.empty()) {
        mget_fanouts_.push_back(std::make_unique<MgetFanout>());
        fanout = mget_fanouts_.back().get();
        fanout->owner = this;
      } else {
        fanout = free_fanouts_.back();
        free_fanouts_.pop_back();
      }
      fanout->parts.swap(run.parts);  // both keep their capacity
      fanout->keys = run.nkeys;
      completion = fanout;
    }
    queue_.push_back(Queued{completion, run.queued_at, queued_bytes_.size() - before});
    run.parts.clear();
    run.keys.clear();
    run.nkeys = 0;
  }

  // ---- handles ----

  void initHandles() {
    uv_prepare_init(loop_, &flush_handle_);
    uv_timer_init(loop_, &deadline_timer_);
    uv_timer_init(loop_, &connect_timer_);
    flush_handle_.data = this;
    deadline_timer_.data = this;
    connect_timer_.data = this;
    open_handles_ += 3;
  }

  void closeHandle(uv_handle_t* h) {
    uv_close(h, [](uv_handle_t* handle) {
      auto* self = static_cast<Impl*>(handle->data);
      --self->open_handles_;
      self->maybeFinishStop();
    });
  }

  void failLaterDone(std::function<void()> done) {
    struct Deferred {
      uv_timer_t timer;
      std::function<void()> done;
    };
    auto* d = new Deferred{{}, std::move(done)};
    uv_timer_init(loop_, &d->timer);
    d->timer.data = d;
    uv_timer_start(
        &d->timer,
        [](uv_timer_t* t) {
          uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
            auto* self = static_cast<Deferred*>(h->data);
            auto fn = std::move(self->done);
            delete self;
            fn();
          });
        },
        0, 0);
  }

  // Runs once every handle and request is closed: fails whatever is left with kShutdown, then
  // calls done. Completions may send() more: those are queued (stopped_ is not set yet) and
  // failed by the same loop.
  void maybeFinishStop() {
    if (!stopping_ || stopped_ || finishing_ || open_handles_ > 0) return;
    finishing_ = true;
    while (!queue_.empty() || !inflight_.empty() || !mget_run_.parts.empty()) {
      closeMgetRun();
      Failures failures;
      for (const Queued& q : queue_) failures.emplace_back(q.completion, RedisFailure::kShutdown);
      for (const InFlight& f : inflight_) {
        if (f.completion != nullptr) failures.emplace_back(f.completion, RedisFailure::kShutdown);
      }
      queue_.clear();
      queued_bytes_.clear();
      inflight_.clear();
      counters_.errors.add(failures.size());
      deliver(failures);
    }
    stopped_ = true;
    SPDLOG_LOGGER_DEBUG(log_, "redis {}: stopped", name_);
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done();  // may destroy *this: nothing after it
  }

  // ---- connecting ----

  void beginConnect() {
    const RedisEndpoint& ep = options_.endpoint;
    uv_timer_start(&connect_timer_, &Impl::onConnectTimer,
                   static_cast<uint64_t>(options_.connect_timeout.count()), 0);
    if (ep.tls && ssl_ctx_ == nullptr) {
      std::string error;
      if (!createSslContext(&error)) {
        connectionFailed(error, spdlog::level::err);
        return;
      }
    }
    sockaddr_storage addr;
    if (parseIpLiteral(ep.host, ep.port, &addr)) {
      connectTo(addr);
      return;
    }
    setState(State::kResolving);
    auto* req = new uv_getaddrinfo_t;
    req->data = this;
    resolve_req_ = req;
    ++open_handles_;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop_, req, &Impl::onResolved, ep.host.c_str(),
                            std::to_string(ep.port).c_str(), &hints);
    if (rc < 0) {
      delete req;
      resolve_req_ = nullptr;
      --open_handles_;
      connectionFailed(fmt::format("cannot resolve {}: {}", ep.host, uv_strerror(rc)),
                       spdlog::level::warn);
    }
  }

  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* self = static_cast<Impl*>(req->data);
    bool current = req == self->resolve_req_;
    delete req;
    --self->open_handles_;
    if (current) self->resolve_req_ = nullptr;
    // A name often has several addresses (localhost: ::1 and 127.0.0.1) and the server may
    // listen on only one: successive attempts rotate through them.
    std::vector<sockaddr_storage> addrs;
    for (addrinfo* ai = status == 0 ? res : nullptr; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
      sockaddr_storage a{};
      std::memcpy(&a, ai->ai_addr, ai->ai_addrlen);
      addrs.push_back(a);
    }
    if (res != nullptr) uv_freeaddrinfo(res);
    bool have_addr = !addrs.empty();
    sockaddr_storage addr{};
    if (have_addr) addr = addrs[self->resolve_rotation_++ % addrs.size()];
    if (self->stopping_) {
      self->maybeFinishStop();
      return;
    }
    if (!current) return;  // that attempt timed out already
    if (!have_addr) {
      self->connectionFailed(fmt::format("cannot resolve {}: {}", self->options_.endpoint.host,
                                         status < 0 ? uv_strerror(status) : "no address"),
                             spdlog::level::warn);
      return;
    }
    self->connectTo(addr);
  }

  void connectTo(const sockaddr_storage& addr) {
    auto* s = new Socket(this);
    uv_tcp_init(loop_, &s->tcp);
    ++open_handles_;
    s->tcp.data = s;
    s->connect_req.data = s;
    s->write_req.data = s;
    sock_ = s;
    setState(State::kConnecting);
    uv_tcp_nodelay(&s->tcp, 1);
    uv_tcp_keepalive(&s->tcp, 1, 60);
    int rc = uv_tcp_connect(&s->connect_req, &s->tcp, reinterpret_cast<const sockaddr*>(&addr),
                            &Impl::onConnect);
    if (rc < 0) connectionFailed(fmt::format("connect: {}", uv_strerror(rc)), spdlog::level::warn);
  }

  static void onConnect(uv_connect_t* req, int status) {
    auto* s = static_cast<Socket*>(req->data);
    Impl* self = s->owner;
    if (s->closing || s != self->sock_) return;  // cancelled by a close
    if (status < 0) {
      self->connectionFailed(fmt::format("connect: {}", uv_strerror(status)), spdlog::level::warn);
      return;
    }
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp), &Impl::onAlloc, &Impl::onRead);
    if (rc < 0) {
      self->connectionFailed(fmt::format("read start: {}", uv_strerror(rc)), spdlog::level::warn);
      return;
    }
    SPDLOG_LOGGER_DEBUG(self->log_, "redis {}: TCP connected", self->name_);
    if (s->owner->options_.endpoint.tls) {
      self->startTls(s);
    } else {
      self->sendHandshake();
    }
  }

  // AUTH, SELECT and SCRIPT LOAD go first on every new connection; user commands wait in
  // queue_ until all their replies are in, so an AUTH failure can never be answered to a user.
  void sendHandshake() {
    const RedisEndpoint& ep = options_.endpoint;
    std::string out;
    auto now = Clock::now();
    auto internal = [&](std::initializer_list<RedisArg> args, Kind kind) {
      encodeCommand(std::span<const RedisArg>(args.begin(), args.size()), &out);
      inflight_.push_back(InFlight{nullptr, kind, now, now});
      ++internal_pending_;
    };
    if (!ep.password.empty() || !ep.username.empty()) {
      if (ep.username.empty()) {
        internal({{"AUTH"}, {ep.password}}, Kind::kAuth);
      } else {
        internal({{"AUTH"}, {ep.username}, {ep.password}}, Kind::kAuth);
      }
    }
    std::string db = std::to_string(ep.db);
    if (ep.db != 0) internal({{"SELECT"}, {db}}, Kind::kSelect);
    for (const std::string& script : options_.scripts) {
      internal({{"SCRIPT"}, {"LOAD"}, {script}}, Kind::kScriptLoad);
    }
    if (internal_pending_ == 0) {
      becomeReady();
      return;
    }
    setState(State::kHandshaking);
    transmit(sock_, &out);
  }

  // Returns false when the connection was dropped.
  bool onInternalReply(Kind kind, const redisReply* reply) {
    bool is_error = reply->type == REDIS_REPLY_ERROR;
    std::string message = is_error ? std::string(reply->str, reply->len) : std::string();
    if (kind == Kind::kAuth && is_error) {
      connectionFailed("AUTH failed: " + message, spdlog::level::err);
      return false;
    }
    if (kind == Kind::kSelect && is_error) {
      connectionFailed(fmt::format("SELECT {} failed: {}", options_.endpoint.db, message),
                       spdlog::level::err);
      return false;
    }
    if (kind == Kind::kScriptLoad && is_error) {
      // Not fatal: EVALSHA will answer NOSCRIPT and the caller falls back to EVAL.
      log_->warn("redis {}: SCRIPT LOAD failed: {}", name_, message);
    }
    if (--internal_pending_ == 0) becomeReady();
    return true;
  }

  void becomeReady() {
    uv_timer_stop(&connect_timer_);
    setState(State::kReady);
    backoff_attempt_ = 0;
    if (ever_ready_) {
      counters_.reconnects.add();
      log_->info("redis {}: reconnected{}", name_,
                 last_error_.empty() ? "" : " (after: " + last_error_ + ")");
    } else {
      log_->info("redis {}: connected{}", name_, sock_->ssl ? " (TLS)" : "");
    }
    ever_ready_ = true;
    last_error_.clear();
    logged_error_.clear();
    flush();
  }

  static void onConnectTimer(uv_timer_t* t) {
    auto* self = static_cast<Impl*>(t->data);
    switch (self->state_) {
      case State::kBackoff:
        self->beginConnect();
        break;
      case State::kResolving:
      case State::kConnecting:
      case State::kTlsHandshake:
      case State::kHandshaking:
        self->connectionFailed(
            fmt::format("connect timed out after {} ms", self->options_.connect_timeout.count()),
            spdlog::level::warn);
        break;
      default:
        break;
    }
  }

  // Exponential backoff with jitter: the n-th consecutive failure waits a random time in
  // [max(min, cap/2), cap] with cap = min(backoff_max, backoff_min * 2^n). Reset once ready.
  void scheduleReconnect() {
    using std::chrono::milliseconds;
    int64_t lo = std::max<int64_t>(1, options_.backoff_min.count());
    int64_t hi = std::max<int64_t>(lo, options_.backoff_max.count());
    int64_t cap = lo;
    for (uint32_t i = 0; i < backoff_attempt_ && cap < hi; ++i) cap *= 2;
    cap = std::min(cap, hi);
    int64_t floor = std::max(lo, cap / 2);
    int64_t delay = std::uniform_int_distribution<int64_t>(floor, cap)(rng_);
    if (backoff_attempt_ < 32) ++backoff_attempt_;
    setState(State::kBackoff);
    uv_timer_start(&connect_timer_, &Impl::onConnectTimer, static_cast<uint64_t>(delay), 0);
    SPDLOG_LOGGER_DEBUG(log_, "redis {}: reconnecting in {} ms", name_, delay);
  }

  // Drops the current attempt or connection: closes the socket, fails every written command
  // (kDisconnected unless told otherwise: it may have run, so it is never retried), keeps
  // unwritten ones queued, and schedules the next attempt.
  void connectionFailed(const std::string& reason, spdlog::level::level_enum level,
                        RedisFailure failure = RedisFailure::kDisconnected,
                        std::optional<RedisFailure> head_failure = std::nullopt) {
    if (stopping_) return;
    // The same error on every retry is logged once at the given level, then at debug.
    if (reason != logged_error_) {
      log_->log(level, "redis {}: {}", name_, reason);
      logged_error_ = reason;
    } else {
      SPDLOG_LOGGER_DEBUG(log_, "redis {}: {}", name_, reason);
    }
    last_error_ = reason;
    closeSocket();
    resolve_req_ = nullptr;  // a pending resolution is now stale; its callback frees it
    Failures failures;
    bool head = true;
    for (const InFlight& f : inflight_) {
      if (f.completion != nullptr) {
        failures.emplace_back(f.completion, head && head_failure ? *head_failure : failure);
      }
      head = false;
    }
    inflight_.clear();
    internal_pending_ = 0;
    counters_.errors.add(failures.size());
    scheduleReconnect();
    deliver(failures);
  }

  void closeSocket() {
    Socket* s = sock_;
    if (s == nullptr) return;
    sock_ = nullptr;
    s->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), [](uv_handle_t* h) {
      auto* sock = static_cast<Socket*>(h->data);
      Impl* self = sock->owner;
      delete sock;
      --self->open_handles_;
      self->maybeFinishStop();
    });
  }

  // ---- writing ----

  static void onFlush(uv_prepare_t* p) {
    auto* self = static_cast<Impl*>(p->data);
    uv_prepare_stop(p);
    self->flush();
  }

  // Moves every queued command into one batch. Only when no write is outstanding: then, for
  // plain TCP, the socket's wire buffer is empty and the batch is swapped in without a copy.
  void flush() {
    closeMgetRun();
    Socket* s = sock_;
    if (state_ != State::kReady || s == nullptr || s->write_in_progress || queue_.empty()) return;
    auto now = Clock::now();
    for (const Queued& q : queue_) {
      inflight_.push_back(InFlight{q.completion, Kind::kUser, q.queued_at, now});
    }
    counters_.commands.add(queue_.size());
    queue_.clear();
    transmit(s, &queued_bytes_);
  }

  // Hands plaintext to the socket (encrypting when TLS) and starts a write. Leaves *plaintext
  // empty (possibly holding the wire buffer's old capacity).
  void transmit(Socket* s, std::string* plaintext) {
    if (s->ssl != nullptr) {
      ERR_clear_error();
      size_t off = 0;
      while (off < plaintext->size()) {
        int chunk = static_cast<int>(std::min<size_t>(plaintext->size() - off, INT_MAX));
        int n = SSL_write(s->ssl, plaintext->data() + off, chunk);
        if (n <= 0) {
          plaintext->clear();
          connectionFailed("TLS write failed: " + opensslErrors(), spdlog::level::warn);
          return;
        }
        off += static_cast<size_t>(n);
      }
      plaintext->clear();
      drainTls(s);
    } else if (s->wire.empty()) {
      s->wire.swap(*plaintext);
    } else {
      s->wire.append(*plaintext);
      plaintext->clear();
    }
    startWrite(s);
  }

  void startWrite(Socket* s) {
    if (s->write_in_progress || s->closing || s->wire.empty()) return;
    auto* stream = reinterpret_cast<uv_stream_t*>(&s->tcp);
    // Most batches fit in the socket buffer: write them at once. uv_write would also register
    // the socket for writability (an extra epoll_ctl per batch in libuv 1.44).
    uv_buf_t now = uv_buf_init(s->wire.data(), static_cast<unsigned>(s->wire.size()));
    int written = uv_try_write(stream, &now, 1);
    if (written == static_cast<int>(s->wire.size())) {
      s->wire.clear();
      counters_.writes.add();
      return;
    }
    if (written < 0 && written != UV_EAGAIN) {
      s->wire.clear();
      connectionFailed(fmt::format("write: {}", uv_strerror(written)), spdlog::level::warn);
      return;
    }
    const size_t done = written > 0 ? static_cast<size_t>(written) : 0;
    s->writing.swap(s->wire);  // s->writing was empty: the wire buffer keeps its capacity
    uv_buf_t buf = uv_buf_init(s->writing.data() + done,
                               static_cast<unsigned>(s->writing.size() - done));
    int rc = uv_write(&s->write_req, stream, &buf, 1, &Impl::onWrite);
    if (rc < 0) {
      s->writing.clear();
      connectionFailed(fmt::format("write: {}", uv_strerror(rc)), spdlog::level::warn);
      return;
    }
    s->write_in_progress = true;
    counters_.writes.add();
  }

  static void onWrite(uv_write_t* req, int status) {
    auto* s = static_cast<Socket*>(req->data);
    s->write_in_progress = false;
    s->writing.clear();
    if (s->writing.capacity() > kKeepCapacity) s->writing.shrink_to_fit();
    Impl* self = s->owner;
    if (s->closing || s != self->sock_) return;
    if (status < 0) {
      self->connectionFailed(fmt::format("write: {}", uv_strerror(status)), spdlog::level::warn);
      return;
    }
    if (self->queued_bytes_.capacity() > kKeepCapacity && self->queued_bytes_.empty()) {
      self->queued_bytes_.shrink_to_fit();
    }
    startWriteAndFlush(s);
  }

  static void startWriteAndFlush(Socket* s) {
    Impl* self = s->owner;
    self->startWrite(s);  // TLS records produced meanwhile (e.g. by a read)
    self->flush();        // commands that arrived while the write was outstanding
  }

  // ---- reading ----

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* s = static_cast<Socket*>(h->data);
    if (s->ssl != nullptr) {  // ciphertext: decrypted into s->in by tlsProgress
      *buf = uv_buf_init(s->owner->read_buf_.get(), kReadBufferSize);
      return;
    }
    // Plain TCP: replies land where they are parsed, and are copied once, by the completion.
    size_t avail = 0;
    char* p = s->in.prepare(kReadBufferSize, s->in_needed, &avail);
    *buf = uv_buf_init(p, static_cast<unsigned>(avail));
  }

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* s = static_cast<Socket*>(stream->data);
    Impl* self = s->owner;
    if (s->closing || s != self->sock_) return;
    if (nread < 0) {
      self->connectionFailed(nread == UV_EOF
                                 ? std::string("connection closed by the server")
                                 : fmt::format("read: {}", uv_strerror(static_cast<int>(nread))),
                             spdlog::level::warn);
      return;
    }
    if (nread == 0) return;
    if (s->ssl != nullptr) {
      BIO_write(s->net_in, buf->base, static_cast<int>(nread));
      self->tlsProgress(s);
      return;
    }
    s->in.commit(static_cast<size_t>(nread));
    self->processReplies(s);
  }

  void processReplies(Socket* s) {
    for (;;) {
      if (s->in.size() == 0 || s->in.size() < s->in_needed) return;
      const redisReply* reply = nullptr;
      size_t consumed = 0;
      std::string_view error;
      const RespReader::Status status =
          s->resp.parse(s->in.data(), &reply, &consumed, &s->in_needed, &error);
      if (status == RespReader::Status::kNeedMore) return;
      if (status == RespReader::Status::kError) {
        connectionFailed(fmt::format("unparsable reply: {}", error), spdlog::level::err,
                         RedisFailure::kDisconnected, RedisFailure::kProtocol);
        return;
      }
      s->in_needed = 0;
      // The reply points into s->in: consume its bytes only after it has been used. The socket
      // outlives a completion that drops the connection (it is freed by its close callback).
      struct Consume {
        Socket* s;
        size_t n;
        ~Consume() { s->in.consume(n); }
      } consume{s, consumed};
      if (inflight_.empty()) {
        connectionFailed("reply without a command in flight", spdlog::level::err);
        return;
      }
      InFlight f = inflight_.front();
      inflight_.pop_front();
      if (f.kind != Kind::kUser) {
        if (!onInternalReply(f.kind, reply)) return;
        if (sock_ != s) return;
        continue;
      }
      if (f.completion == nullptr) continue;  // already failed with kTimeout
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - f.sent_at);
      const uint64_t latency = static_cast<uint64_t>(us.count());
      counters_.latency_us_sum.add(latency);
      counters_.latency_count.add();
      size_t bucket = 0;
      while (bucket < std::size(kLatencyBucketsUs) && latency > kLatencyBucketsUs[bucket]) ++bucket;
      counters_.latency_buckets[bucket].add();
      if (reply->type == REDIS_REPLY_ERROR) counters_.errors.add();
      f.completion->onRedisReply(reply);
      if (sock_ != s) return;  // the completion called stop()
    }
  }

  // ---- TLS over memory BIOs on the same uv_tcp_t ----

  bool createSslContext(std::string* error) {
    const RedisEndpoint& ep = options_.endpoint;
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) {
      *error = "cannot create the TLS context: " + opensslErrors();
      return false;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (ep.tls_verify) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      int ok = ep.tls_ca_file.empty()
                   ? SSL_CTX_set_default_verify_paths(ctx)
                   : SSL_CTX_load_verify_locations(ctx, ep.tls_ca_file.c_str(), nullptr);
      if (ok != 1) {
        *error =
            ep.tls_ca_file.empty()
                ? "cannot load the system CA certificates: " + opensslErrors()
                : fmt::format("cannot load the CA file '{}': {}", ep.tls_ca_file, opensslErrors());
        SSL_CTX_free(ctx);
        return false;
      }
    } else {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    ssl_ctx_ = ctx;
    return true;
  }

  void startTls(Socket* s) {
    const RedisEndpoint& ep = options_.endpoint;
    const std::string& name = ep.tls_server_name.empty() ? ep.host : ep.tls_server_name;
    ERR_clear_error();
    s->ssl = SSL_new(ssl_ctx_);
    s->net_in = BIO_new(BIO_s_mem());
    s->net_out = BIO_new(BIO_s_mem());
    if (s->ssl == nullptr || s->net_in == nullptr || s->net_out == nullptr) {
      if (s->ssl == nullptr) {
        BIO_free(s->net_in);
        BIO_free(s->net_out);
      } else {
        SSL_set_bio(s->ssl, s->net_in, s->net_out);  // so SSL_free releases whichever exists
      }
      connectionFailed("cannot create the TLS session: " + opensslErrors(), spdlog::level::err);
      return;
    }
    SSL_set_bio(s->ssl, s->net_in, s->net_out);
    SSL_set_connect_state(s->ssl);
    bool ip = isIpLiteral(name);
    // SNI carries host names only (RFC 6066); Memorystore is usually addressed by IP.
    if (!ip) SSL_set_tlsext_host_name(s->ssl, name.c_str());
    if (ep.tls_verify) {
      int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), name.c_str())
                  : SSL_set1_host(s->ssl, name.c_str());
      if (ok != 1) {
        connectionFailed(
            fmt::format("cannot set the TLS verification name '{}': {}", name, opensslErrors()),
            spdlog::level::err);
        return;
      }
    }
    setState(State::kTlsHandshake);
    tlsProgress(s);
  }

  // Runs the handshake, then decrypts whatever arrived and feeds the RESP reader; sends any
  // TLS records OpenSSL produced along the way.
  void tlsProgress(Socket* s) {
    ERR_clear_error();
    if (!s->tls_done) {
      int rc = SSL_do_handshake(s->ssl);
      if (rc != 1) {
        int err = SSL_get_error(s->ssl, rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          drainTls(s);
          startWrite(s);
          return;
        }
        tlsFailed(s, "TLS handshake");
        return;
      }
      s->tls_done = true;
      SPDLOG_LOGGER_DEBUG(log_, "redis {}: TLS established ({}, {})", name_,
                          SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl));
      drainTls(s);
      startWrite(s);
      if (sock_ != s) return;  // the write failed and dropped the connection
      sendHandshake();
      if (sock_ != s) return;
    }
    for (;;) {
      size_t avail = 0;
      char* plain = s->in.prepare(16 * 1024, s->in_needed, &avail);
      int n = SSL_read(s->ssl, plain, static_cast<int>(std::min<size_t>(avail, INT_MAX)));
      if (n > 0) {
        s->in.commit(static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(s->ssl, n);
      if (err == SSL_ERROR_WANT_READ) break;
      if (err == SSL_ERROR_ZERO_RETURN) {
        connectionFailed("TLS connection closed by the server", spdlog::level::warn);
        return;
      }
      tlsFailed(s, "TLS read");
      return;
    }
    drainTls(s);  // e.g. answers to key updates
    startWrite(s);
    if (sock_ != s) return;
    processReplies(s);
  }

  void tlsFailed(Socket* s, const char* what) {
    std::string reason = fmt::format("{} failed: {}", what, opensslErrors());
    long verify = SSL_get_verify_result(s->ssl);
    if (verify != X509_V_OK) {
      reason +=
          fmt::format(" (certificate verification: {})", X509_verify_cert_error_string(verify));
    }
    connectionFailed(reason, spdlog::level::err);
  }

  void drainTls(Socket* s) {
    for (;;) {
      size_t pending = BIO_ctrl_pending(s->net_out);
      if (pending == 0) return;
      size_t old = s->wire.size();
      s->wire.resize(old + pending);
      int n = BIO_read(s->net_out, s->wire.data() + old, static_cast<int>(pending));
      s->wire.resize(old + static_cast<size_t>(std::max(n, 0)));
      if (n <= 0) return;
    }
  }

  // ---- deadlines ----

  // A tick of a tenth of the timeout bounds the lateness of a kTimeout to ~10%.
  void armDeadlineTimer() {
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&deadline_timer_))) return;
    auto tick =
        std::clamp(options_.request_timeout / 10, std::chrono::milliseconds(1), kMaxDeadlineTick);
    auto ms = static_cast<uint64_t>(tick.count());
    uv_timer_start(&deadline_timer_, &Impl::onDeadlineTimer, ms, ms);
  }

  static void onDeadlineTimer(uv_timer_t* t) { static_cast<Impl*>(t->data)->checkDeadlines(); }

  void checkDeadlines() {
    closeMgetRun();
    auto now = Clock::now();
    auto timeout = options_.request_timeout;
    Failures failures;
    // Deadlines grow along both queues (FIFO of send times), so the expired ones are a prefix.
    size_t n = 0;
    size_t bytes = 0;
    while (n < queue_.size() && now - queue_[n].queued_at >= timeout) bytes += queue_[n++].bytes;
    if (n > 0) {
      for (size_t i = 0; i < n; ++i)
        failures.emplace_back(queue_[i].completion, RedisFailure::kTimeout);
      queue_.pop_front(n);
      queued_bytes_.erase(0, bytes);
    }
    // A written command past its deadline is answered now; its reply, if it ever comes, is
    // matched to the tombstone and dropped.
    for (InFlight& f : inflight_) {
      if (f.kind != Kind::kUser || f.completion == nullptr) continue;
      if (now - f.queued_at < timeout) break;
      failures.emplace_back(f.completion, RedisFailure::kTimeout);
      f.completion = nullptr;
    }
    counters_.errors.add(failures.size());
    // No reply at all for a whole timeout: the server is stuck or the path is dead. Replies can
    // no longer be matched to anything useful, so start over on a new connection.
    if (!inflight_.empty() && inflight_.front().kind == Kind::kUser &&
        now - inflight_.front().sent_at >= timeout) {
      deliver(failures);
      failures.clear();
      if (stopping_) return;
      connectionFailed(
          fmt::format("no reply within {} ms, dropping the connection", timeout.count()),
          spdlog::level::warn, RedisFailure::kTimeout);
    }
    if (!stopping_ && queue_.empty() && inflight_.empty()) uv_timer_stop(&deadline_timer_);
    deliver(failures);
  }

  // Completions last, with every structure consistent: they may send() or stop().
  void deliver(const Failures& failures) {
    for (const auto& [completion, failure] : failures) completion->onRedisFailure(failure);
  }

  uv_loop_t* loop_;
  RedisOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string name_;  // "#<id> host:port", in every log line
  State state_ = State::kIdle;
  void setState(State s) {
    state_ = s;
    counters_.ready.store(s == State::kReady, std::memory_order_relaxed);
  }
  bool started_ = false;
  bool stopping_ = false;
  bool finishing_ = false;
  bool stopped_ = false;  // done has been called
  bool ever_ready_ = false;
  int open_handles_ = 0;  // handles and requests whose callbacks are still due
  std::function<void()> done_;

  uv_prepare_t flush_handle_{};
  uv_timer_t deadline_timer_{};
  uv_timer_t connect_timer_{};  // connect timeout, or the backoff delay
  Socket* sock_ = nullptr;
  uv_getaddrinfo_t* resolve_req_ = nullptr;
  size_t resolve_rotation_ = 0;

  RingQueue<Queued> queue_;
  std::string queued_bytes_;
  MgetRun mget_run_;
  std::vector<std::unique_ptr<MgetFanout>> mget_fanouts_;  // every fan-out ever made
  std::vector<MgetFanout*> free_fanouts_;
  RingQueue<InFlight> inflight_;
  size_t internal_pending_ = 0;

  std::string last_error_;
  std::string logged_error_;
  RedisCounters counters_;
  uint32_t backoff_attempt_ = 0;
  std::minstd_rand rng_;
  SSL_CTX* ssl_ctx_ = nullptr;
  std::unique_ptr<char[]> read_buf_;
};

RedisConnection::RedisConnection(uv_loop_t* loop, RedisOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

RedisConnection::~RedisConnection() {
  if (impl_ && impl_->started_ && !impl_->stopped_) {
    // Its handles are still linked into the loop: freeing them would corrupt it. Leak instead.
    impl_->log_->critical("redis {}: destroyed before stop() completed", impl_->name_);
    assert(false && "RedisConnection destroyed before stop() completed");
    (void)impl_.release();
  }
}

void RedisConnection::start() { impl_->start(); }
void RedisConnection::stop(std::function<void()> done) { impl_->stop(std::move(done)); }
void RedisConnection::send(std::span<const RedisArg> args, RedisCompletion* completion) {
  impl_->send(args, completion);
}
bool RedisConnection::connected() const { return impl_->state_ == Impl::State::kReady; }
const std::string& RedisConnection::lastError() const { return impl_->last_error_; }
const RedisCounters& RedisConnection::counters() const { return impl_->counters_; }

}  // namespace mcbridge::backend
