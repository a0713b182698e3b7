// RedisConnection: one pipelined Redis connection on a libuv loop. See the header for the
// contract; this file explains the mechanics. The socket (and TLS) is a RedisTransport
// (redis_transport.h); small MGETs sent back to back are merged by an MgetMerger
// (mget_merger.h).
//
// Life of a command:
//   send()   encodes RESP straight into queued_bytes_ and appends {completion, time} to queue_.
//   flush()  (a uv_prepare callback, so once per loop turn, just before the loop would block)
//            moves the whole queue_ into inflight_ and hands queued_bytes_ to one write.
//   reply    RespReader parses replies in place, in order; each pops the head of inflight_.
// At most one write is outstanding per socket; commands sent meanwhile stay in queue_ (not yet
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
// The open MGET run is encoded (closed) by the next non-MGET command, by flush(), by the deadline
// check and by stop, so every command still runs in the order it was sent.

#include "backend/redis_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "backend/log.h"
#include "backend/mget_merger.h"
#include "backend/redis_transport.h"
#include "backend/resp_encode.h"
#include "backend/ring_queue.h"

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

// Buffers keep their capacity between batches; one huge value should not pin memory forever.
constexpr size_t kKeepCapacity = size_t{4} * 1024 * 1024;
constexpr std::chrono::milliseconds kMaxDeadlineTick{100};

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

struct RedisConnection::Impl final : TransportEvents {
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
  enum class Kind : uint8_t { kUser, kAuth, kSelect, kReadonly, kScriptLoad };

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

  Impl(uv_loop_t* loop, RedisOptions options)
      : loop_(loop),
        options_(std::move(options)),
        log_(namedLogger("redis")),
        rng_(std::random_device{}()),
        read_buf_(new char[RedisTransport::kReadBufferSize]) {
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
    if (!queue_.empty() || !mget_.empty()) armDeadlineTimer();
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

  void send(std::span<const RedisArg> args, RedisCompletion* completion, uint32_t merge_group) {
    if (stopped_) {
      failLater(loop_, completion, RedisFailure::kShutdown);
      return;
    }
    if (merge_group != RedisConnection::kNoMerge && MgetMerger::mergeable(args)) {
      if (!mget_.empty() && mget_.group() != merge_group) closeMgetRun();
      MgetMerger::Closed closed;
      if (mget_.add(args.subspan(1), completion, merge_group, &queued_bytes_, &closed)) {
        queueClosedRun(closed);
      }
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

  void queueClosedRun(const MgetMerger::Closed& closed) {
    queue_.push_back(Queued{closed.completion, closed.queued_at, closed.bytes});
  }

  // Encodes the open run of merged MGETs and queues it.
  void closeMgetRun() {
    MgetMerger::Closed closed;
    if (mget_.close(&queued_bytes_, &closed)) queueClosedRun(closed);
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
    while (!queue_.empty() || !inflight_.empty() || !mget_.empty()) {
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
      ssl_ctx_ = createTlsContext(ep, &error);
      if (ssl_ctx_ == nullptr) {
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
    const RedisEndpoint& ep = options_.endpoint;
    auto* t = new RedisTransport(loop_, this, ep.tls ? ssl_ctx_ : nullptr,
                                 ep.tls_server_name.empty() ? ep.host : ep.tls_server_name,
                                 ep.tls_verify, read_buf_.get(), &counters_.writes);
    ++open_handles_;
    sock_ = t;
    setState(State::kConnecting);
    int rc = t->connect(addr);
    if (rc < 0) connectionFailed(fmt::format("connect: {}", uv_strerror(rc)), spdlog::level::warn);
  }

  // ---- transport events ----

  void onTransportTcpConnected(RedisTransport*) override {
    SPDLOG_LOGGER_DEBUG(log_, "redis {}: TCP connected", name_);
    if (options_.endpoint.tls) setState(State::kTlsHandshake);
  }
  void onTransportConnected(RedisTransport*) override { sendHandshake(); }
  void onTransportReadable(RedisTransport* t) override { processReplies(t); }
  void onTransportWritable(RedisTransport*) override {
    if (queued_bytes_.capacity() > kKeepCapacity && queued_bytes_.empty()) {
      queued_bytes_.shrink_to_fit();
    }
    flush();  // commands that arrived while the write was outstanding
  }
  void onTransportFailed(RedisTransport*, const std::string& reason,
                         spdlog::level::level_enum level) override {
    connectionFailed(reason, level);
  }
  void onTransportClosed() override {
    --open_handles_;
    maybeFinishStop();
  }

  // AUTH, SELECT and SCRIPT LOAD go first on every new connection; user commands wait in
  // queue_ until all their replies are in, so an AUTH failure can never be answered to a user.
  void sendHandshake() {
    RedisEndpoint ep = options_.endpoint;
    if (!options_.password_file.empty()) {
      std::string secret;
      std::string error;
      if (readPasswordFile(options_.password_file, &secret, &error)) {
        if (!secret.empty()) applySecret(secret, &ep);
      } else {
        log_->warn("redis {}: {}; using the last credentials", name_, error);
      }
    }
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
    if (options_.readonly) internal({{"READONLY"}}, Kind::kReadonly);
    for (const std::string& script : options_.scripts) {
      internal({{"SCRIPT"}, {"LOAD"}, {script}}, Kind::kScriptLoad);
    }
    if (internal_pending_ == 0) {
      becomeReady();
      return;
    }
    setState(State::kHandshaking);
    sock_->send(&out);
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
    if (kind == Kind::kReadonly && is_error) {
      // Not fatal: reads sent here are answered MOVED and go to the primary.
      log_->warn("redis {}: READONLY failed: {}", name_, message);
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
      log_->info("redis {}: connected{}", name_, sock_->tls() ? " (TLS)" : "");
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
    RedisTransport* t = sock_;
    if (t == nullptr) return;
    sock_ = nullptr;
    t->close();  // onTransportClosed follows, from the close callback
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
    RedisTransport* t = sock_;
    if (state_ != State::kReady || t == nullptr || t->writeInProgress() || queue_.empty()) return;
    auto now = Clock::now();
    for (const Queued& q : queue_) {
      inflight_.push_back(InFlight{q.completion, Kind::kUser, q.queued_at, now});
    }
    counters_.commands.add(queue_.size());
    queue_.clear();
    t->send(&queued_bytes_);
  }

  // ---- reading ----

  void processReplies(RedisTransport* t) {
    for (;;) {
      ReadBuffer& in = t->input();
      if (in.size() == 0 || in.size() < t->inNeeded()) return;
      const redisReply* reply = nullptr;
      size_t consumed = 0;
      std::string_view error;
      const RespReader::Status status =
          t->resp().parse(in.data(), &reply, &consumed, &t->inNeeded(), &error);
      if (status == RespReader::Status::kNeedMore) return;
      if (status == RespReader::Status::kError) {
        connectionFailed(fmt::format("unparsable reply: {}", error), spdlog::level::err,
                         RedisFailure::kDisconnected, RedisFailure::kProtocol);
        return;
      }
      t->inNeeded() = 0;
      // The reply points into the input: consume its bytes only after it has been used. The
      // transport outlives a completion that drops the connection (freed by its close callback).
      struct Consume {
        ReadBuffer* in;
        size_t n;
        ~Consume() { in->consume(n); }
      } consume{&in, consumed};
      if (inflight_.empty()) {
        connectionFailed("reply without a command in flight", spdlog::level::err);
        return;
      }
      InFlight f = inflight_.front();
      inflight_.pop_front();
      if (f.kind != Kind::kUser) {
        if (!onInternalReply(f.kind, reply)) return;
        if (sock_ != t) return;
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
      if (sock_ != t) return;  // the completion called stop()
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
  RedisTransport* sock_ = nullptr;
  uv_getaddrinfo_t* resolve_req_ = nullptr;
  size_t resolve_rotation_ = 0;

  RingQueue<Queued> queue_;
  std::string queued_bytes_;
  MgetMerger mget_;
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
  impl_->send(args, completion, 0);
}
void RedisConnection::send(std::span<const RedisArg> args, RedisCompletion* completion,
                           uint32_t merge_group) {
  impl_->send(args, completion, merge_group);
}
bool RedisConnection::connected() const { return impl_->state_ == Impl::State::kReady; }
const std::string& RedisConnection::lastError() const { return impl_->last_error_; }
const RedisCounters& RedisConnection::counters() const { return impl_->counters_; }

}  // namespace mcbridge::backend
