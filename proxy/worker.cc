#include "proxy/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "backend/cluster_router.h"
#include "backend/hash_slot.h"
#include "backend/scripts.h"
#include "proxy/client_connection.h"
#include "proxy/server.h"

namespace mcbridge::proxy {
namespace {

backend::TranslatorOptions translatorOptions(const config::Options& o) {
  backend::TranslatorOptions t;
  t.key_prefix = o.key_prefix;
  t.item_size_max = o.item_size_max;
  t.miss_on_error = o.miss_on_error;
  return t;
}

backend::FlowOptions flowOptions(const config::Options& o, size_t workers) {
  backend::FlowOptions f;
  f.client_budget = o.client_reply_budget;
  f.worker_budget = o.reply_budget / (workers > 0 ? workers : 1);
  f.redis_budget = o.redis_reply_budget;
  f.part_keys = o.multiget_part_keys;
  f.part_bytes = o.multiget_part_size;
  f.item_size_max = o.item_size_max;
  return f;
}

protocol::ParserLimits parserLimits(const config::Options& o) {
  protocol::ParserLimits l;
  l.item_size_max = o.item_size_max;
  return l;
}

// "*", "?", "[", "]" and "\" are glob syntax in SCAN MATCH: a prefix must match literally.
std::string globEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// flush_all on every primary (the one node in standalone mode): one FlushJob per node, joined
// here. Answers `slot` (if any) once every node is done: the first failure, else the first error
// reply, else OK. Deletes itself.
class FlushAll {
 public:
  FlushAll(backend::RedisCompletion* slot, size_t nodes) : slot_(slot), pending_(nodes) {}

  void nodeReply(const redisReply* error) {  // null: OK
    if (error != nullptr && !failed_ && error_.empty()) error_.assign(error->str, error->len);
    finishNode();
  }
  void nodeFailure(backend::RedisFailure f) {
    if (!failed_) {
      failed_ = true;
      failure_ = f;
    }
    finishNode();
  }

 private:
  void finishNode() {
    if (--pending_ > 0) return;
    if (slot_ != nullptr) {
      if (failed_) {
        slot_->onRedisFailure(failure_);
      } else {
        redisReply r{};
        r.type = error_.empty() ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR;
        r.str = error_.empty() ? const_cast<char*>("OK") : error_.data();
        r.len = error_.empty() ? 2 : error_.size();
        slot_->onRedisReply(&r);
      }
    }
    delete this;
  }

  backend::RedisCompletion* slot_;
  size_t pending_;
  bool failed_ = false;
  backend::RedisFailure failure_ = backend::RedisFailure::kDisconnected;
  std::string error_;
};

// flush_all on one node: FLUSHDB, or with a key prefix SCAN + UNLINK in batches so Redis is
// never blocked for long and other namespaces are left alone. In a cluster one UNLINK per hash
// slot (a command's keys must share one). Deletes itself once its last command completed.
class FlushJob final : public backend::RedisCompletion {
 public:
  FlushJob(Worker* worker, FlushAll* all, std::string node)
      : worker_(worker), all_(all), node_(std::move(node)) {}

  void start() {
    const std::string& prefix = worker_->options().key_prefix;
    if (prefix.empty()) {
      flushdb_ = true;
      send({{"FLUSHDB"}});
      return;
    }
    pattern_ = globEscape(prefix) + "*";
    scan();
  }

  void onRedisReply(const redisReply* r) override {
    --outstanding_;
    if (r->type == REDIS_REPLY_ERROR && !answered_) {
      spdlog::warn("flush_all failed: {}", std::string_view(r->str, r->len));
      return answer(r);
    }
    if (answered_) return maybeDelete();
    if (flushdb_) return answer(nullptr);
    if (unlinking_) {
      if (outstanding_ > 0) return;
      unlinking_ = false;
      if (cursor_ == "0") return answer(nullptr);
      return scan();
    }
    // SCAN reply: [cursor, [keys...]]
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
      return answer(nullptr);
    }
    cursor_.assign(r->element[0]->str, r->element[0]->len);
    const redisReply* keys = r->element[1];
    if (keys->elements == 0) {
      if (cursor_ == "0") return answer(nullptr);
      return scan();
    }
    std::vector<std::pair<uint16_t, std::string_view>> by_slot;
    by_slot.reserve(keys->elements);
    const bool clustered = !node_.empty() && worker_->router().clustered();
    for (size_t i = 0; i < keys->elements; ++i) {
      std::string_view k(keys->element[i]->str, keys->element[i]->len);
      by_slot.emplace_back(clustered ? backend::keySlot(k) : 0, k);
    }
    std::stable_sort(by_slot.begin(), by_slot.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::vector<backend::RedisArg>> commands;
    for (size_t i = 0; i < by_slot.size(); ++i) {
      if (i == 0 || by_slot[i].first != by_slot[i - 1].first) commands.push_back({{"UNLINK"}});
      commands.back().push_back({by_slot[i].second});
    }
    unlinking_ = true;
    for (const auto& args : commands) send(args);
  }

  void onRedisFailure(backend::RedisFailure f) override {
    --outstanding_;
    if (!answered_) {
      answered_ = true;
      all_->nodeFailure(f);
    }
    maybeDelete();
  }

 private:
  void send(std::span<const backend::RedisArg> args) {
    ++outstanding_;
    if (node_.empty()) {
      worker_->send(backend::Route::anyNode(), args, this);
    } else {
      worker_->router().sendToNode(node_, args, this);
    }
  }
  void send(std::initializer_list<backend::RedisArg> args) {
    send(std::span<const backend::RedisArg>(args.begin(), args.size()));
  }
  void scan() { send({{"SCAN"}, {cursor_}, {"MATCH"}, {pattern_}, {"COUNT"}, {"1000"}}); }
  // The node's result (null: OK); the job ends once its last command completed.
  void answer(const redisReply* error) {
    answered_ = true;
    all_->nodeReply(error);
    maybeDelete();
  }
  void maybeDelete() {
    if (outstanding_ == 0) delete this;
  }

  Worker* worker_;
  FlushAll* all_;
  std::string node_;
  std::string pattern_;
  std::string cursor_ = "0";
  bool flushdb_ = false;
  bool unlinking_ = false;
  bool answered_ = false;
  size_t outstanding_ = 0;
};

// memcached's -c: the limit counts every worker's clients.
bool overConnectionLimit(Server* server) {
  int64_t total = 0;
  for (const auto& w : server->workers()) {
    total += w->counters().curr_connections.load(std::memory_order_relaxed);
  }
  return total >= static_cast<int64_t>(server->options().max_connections);
}

// --redis-mode standalone: the one connection, as always. auto and cluster: a ClusterRouter (in
// auto mode it finds out, and serves a standalone Redis through one connection too).
std::string hostPort(const std::string& host, uint16_t port) {
  std::string out;
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

std::unique_ptr<backend::Router> makeRouter(uv_loop_t* loop, const config::Options& o,
                                            backend::RedisOptions ro) {
  const bool read_endpoint = !o.redis_read_url.empty() && o.read_from_replica;
  if (o.redis_mode == config::RedisMode::kStandalone && !read_endpoint) {
    return std::make_unique<backend::StandaloneRouter>(loop, std::move(ro));
  }
  backend::ClusterRouterOptions co;
  switch (o.redis_mode) {
    case config::RedisMode::kAuto: co.mode = backend::ClusterRouterOptions::Mode::kAuto; break;
    case config::RedisMode::kCluster: co.mode = backend::ClusterRouterOptions::Mode::kCluster; break;
    case config::RedisMode::kStandalone:
      co.mode = backend::ClusterRouterOptions::Mode::kStandalone;
      break;
  }
  co.seed = hostPort(ro.endpoint.host, ro.endpoint.port);
  if (read_endpoint) {
    backend::RedisEndpoint ep;
    std::string error;
    if (backend::parseRedisUrl(o.redis_read_url, &ep, &error)) {
      co.read_endpoint = hostPort(ep.host, ep.port);
    } else {
      spdlog::error("invalid --redis-read-url: {}", error);
    }
  }
  co.read_from_replica = o.read_from_replica;
  co.request_timeout = ro.request_timeout;
  ro.readonly = o.read_from_replica;
  return std::make_unique<backend::ClusterRouter>(loop, std::move(co),
                                                  backend::redisNodeLinks(loop, std::move(ro)));
}

struct FlushTimer {
  uv_timer_t timer;
  Worker* worker;
  uint64_t generation;
};

}  // namespace

Worker::Worker(Server* server, unsigned index, const backend::RedisOptions& redis)
    : server_(server),
      index_(index),
      parser_(parserLimits(server->options())),
      flow_(flowOptions(server->options(), server->workerCount()), &counters_),
      translator_(translatorOptions(server->options()), server->casGenerator(), &counters_) {
  uv_loop_init(&loop_);
  backend::RedisOptions ro = redis;
  ro.scripts = backend::allScriptBodies();
  router_ = makeRouter(&loop_, server->options(), std::move(ro));
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_async_init(&loop_, &stop_async_, onStopAsync);
  stop_async_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;
  uv_timer_init(&loop_, &health_timer_);
  health_timer_.data = this;
  health_.worker = this;
  bulk_sink_.worker = this;
}

Worker::~Worker() {
  for (const ListenSocket& s : sockets_) {
    if (s.fd >= 0 && listeners_.empty()) ::close(s.fd);
  }
  uv_loop_close(&loop_);
}

const config::Options& Worker::options() const { return server_->options(); }

void Worker::addListener(ListenSocket socket) { sockets_.push_back(std::move(socket)); }

void Worker::start() {
  for (const ListenSocket& s : sockets_) {
    uv_stream_t* stream;
    int rc;
    if (s.unix_socket) {
      auto* p = new uv_pipe_t;
      uv_pipe_init(&loop_, p, 0);
      rc = uv_pipe_open(p, s.fd);
      stream = reinterpret_cast<uv_stream_t*>(p);
    } else {
      auto* t = new uv_tcp_t;
      uv_tcp_init(&loop_, t);
      rc = uv_tcp_open(t, s.fd);
      stream = reinterpret_cast<uv_stream_t*>(t);
    }
    stream->data = this;
    if (rc == 0) rc = uv_listen(stream, 1024, onConnection);
    if (rc != 0) spdlog::error("worker {}: cannot listen on {}: {}", index_, s.name, uv_strerror(rc));
    listeners_.push_back(stream);
  }
  uv_check_start(&check_, onCheck);
  uv_prepare_start(&prepare_, onPrepare);
  router_->start();
  uv_timer_start(&health_timer_, onHealthTimer, 0, 1000);
  thread_ = std::thread([this] {
    uv_run(&loop_, UV_RUN_DEFAULT);
    SPDLOG_DEBUG("worker {}: loop ended", index_);
  });
}

void Worker::stop() { uv_async_send(&stop_async_); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::send(const backend::Route& route, std::span<const backend::RedisArg> args,
                  backend::RedisCompletion* completion) {
  if (test_sink_ != nullptr) return test_sink_->send(route, args, completion);
  router_->send(route, args, completion);
}

void Worker::adoptClientForTesting(int fd) {
  auto* conn = new ClientConnection(this, next_client_id_++);
  uv_pipe_init(&loop_, conn->pipe(), 0);
  conn->stream()->data = conn;
  uv_pipe_open(conn->pipe(), fd);
  counters_.curr_connections.fetch_add(1, std::memory_order_relaxed);
  clients_.insert(conn);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&check_))) uv_check_start(&check_, onCheck);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&prepare_))) {
    uv_prepare_start(&prepare_, onPrepare);
  }
  conn->start();
}

void Worker::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Worker*>(listener->data);
  if (status < 0) {
    spdlog::warn("worker {}: accept failed: {}", self->index_, uv_strerror(status));
    return;
  }
  auto* conn = new ClientConnection(self, (uint64_t{self->index_} << 48) | self->next_client_id_++);
  int rc;
  if (listener->type == UV_NAMED_PIPE) {
    uv_pipe_init(&self->loop_, conn->pipe(), 0);
  } else {
    uv_tcp_init(&self->loop_, conn->tcp());
  }
  conn->stream()->data = conn;
  rc = uv_accept(listener, conn->stream());
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(conn->stream()),
             [](uv_handle_t* h) { delete static_cast<ClientConnection*>(h->data); });
    return;
  }
  if (listener->type != UV_NAMED_PIPE) uv_tcp_nodelay(conn->tcp(), 1);
  self->counters_.total_connections.add();
  if (self->stopping_ || overConnectionLimit(self->server_)) {
    // memcached's answer to a connection over -c, then close.
    static constexpr char kTooMany[] = "ERROR Too many open connections\r\n";
    uv_buf_t b = uv_buf_init(const_cast<char*>(kTooMany), sizeof kTooMany - 1);
    uv_try_write(conn->stream(), &b, 1);
    self->counters_.rejected_connections.add();
    uv_close(reinterpret_cast<uv_handle_t*>(conn->stream()),
             [](uv_handle_t* h) { delete static_cast<ClientConnection*>(h->data); });
    return;
  }
  self->counters_.curr_connections.fetch_add(1, std::memory_order_relaxed);
  self->clients_.insert(conn);
  conn->start();
}

void Worker::markDirty(ClientConnection* conn) { dirty_.push_back(conn); }

void Worker::onCheck(uv_check_t* h) { static_cast<Worker*>(h->data)->flushDirty(); }
void Worker::onPrepare(uv_prepare_t* h) { static_cast<Worker*>(h->data)->flushDirty(); }

void Worker::flushDirty() {
  // Flushing may mark connections dirty again (a drained backlog parsed anew): loop until quiet.
  // Clients held by the worker's flow-control budgets retry, in the order they were held, once
  // a reply or a write has freed room (a bounded number of rounds per turn).
  for (int round = 0; round < 8; ++round) {
    if (!flow_waiters_.empty() && flow_.takeFreed()) {
      waking_.swap(flow_waiters_);
      for (ClientConnection* c : waking_) c->flowWake();
      waking_.clear();
    }
    if (dirty_.empty()) break;
    while (!dirty_.empty()) {
      flushing_.swap(dirty_);  // both keep their capacity: no allocation per turn
      for (ClientConnection* c : flushing_) c->flush();
      flushing_.clear();
    }
  }
}

void Worker::clientClosed(ClientConnection* conn) {
  clients_.erase(conn);
  std::erase(flow_waiters_, conn);
  counters_.curr_connections.fetch_sub(1, std::memory_order_relaxed);
  if (stopping_ && clients_.empty()) finishStop();
}

void Worker::startFlush(backend::RedisCompletion* slot) {
  auto run = [this, slot](const std::vector<std::string>& nodes) {
    auto* all = new FlushAll(slot, nodes.empty() ? 1 : nodes.size());
    if (nodes.empty()) return (new FlushJob(this, all, std::string()))->start();
    for (const std::string& node : nodes) (new FlushJob(this, all, node))->start();
  };
  if (test_sink_ != nullptr) return run({std::string()});
  router_->forEachPrimary(run);
}

void Worker::scheduleFlush(int64_t delay_seconds, uint64_t generation) {
  auto* t = new FlushTimer{{}, this, generation};
  uv_timer_init(&loop_, &t->timer);
  t->timer.data = t;
  uv_timer_start(&t->timer, onFlushTimer, static_cast<uint64_t>(delay_seconds) * 1000, 0);
}

void Worker::onFlushTimer(uv_timer_t* h) {
  auto* t = static_cast<FlushTimer*>(h->data);
  if (!t->worker->stopping_ &&
      t->worker->server_->flushGeneration().load() == t->generation) {
    t->worker->startFlush(nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* hh) {
    delete static_cast<FlushTimer*>(hh->data);
  });
}

void Worker::onHealthTimer(uv_timer_t* h) {
  auto* self = static_cast<Worker*>(h->data);
  const uint32_t idle_s = self->options().idle_timeout_s;
  if (idle_s > 0) {
    const uint64_t now = uv_now(&self->loop_);
    std::vector<ClientConnection*> idle;
    for (ClientConnection* c : self->clients_) {
      if (c->idle() && now - c->lastActive() >= uint64_t{idle_s} * 1000) idle.push_back(c);
    }
    for (ClientConnection* c : idle) c->close();
  }
  if (self->health_.pending) return;
  self->health_.pending = true;
  self->send(backend::Route::anyNode(), {{"PING"}}, &self->health_);
}

void Worker::HealthCheck::onRedisReply(const redisReply* reply) {
  pending = false;
  worker->healthy_.store(reply->type != REDIS_REPLY_ERROR, std::memory_order_relaxed);
}

void Worker::HealthCheck::onRedisFailure(backend::RedisFailure /*failure*/) {
  pending = false;
  worker->healthy_.store(false, std::memory_order_relaxed);
}

void Worker::onStopAsync(uv_async_t* h) { static_cast<Worker*>(h->data)->beginStop(); }

void Worker::beginStop() {
  if (stopping_) return;
  stopping_ = true;
  for (uv_stream_t* l : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(l), [](uv_handle_t* h) {
      if (h->type == UV_NAMED_PIPE) {
        delete reinterpret_cast<uv_pipe_t*>(h);
      } else {
        delete reinterpret_cast<uv_tcp_t*>(h);
      }
    });
  }
  listeners_.clear();
  sockets_.clear();
  if (clients_.empty()) {
    finishStop();
    return;
  }
  // Let in-flight requests finish; whatever is still open at the deadline is closed.
  std::vector<ClientConnection*> clients(clients_.begin(), clients_.end());
  for (ClientConnection* c : clients) c->stopReading();
  uv_timer_start(&drain_timer_, onDrainTimer, server_->options().drain_timeout_ms, 0);
}

void Worker::onDrainTimer(uv_timer_t* h) {
  auto* self = static_cast<Worker*>(h->data);
  std::vector<ClientConnection*> clients(self->clients_.begin(), self->clients_.end());
  if (!self->drain_expired_) {
    // Deadline: every request still waiting for Redis gets an error now, so no client is left
    // without a reply; connections close once that is written, or at the hard stop below.
    self->drain_expired_ = true;
    for (ClientConnection* c : clients) c->abandonPending("SERVER_ERROR shutting down\r\n");
    uv_timer_start(&self->drain_timer_, onDrainTimer, 200, 0);
    return;
  }
  for (ClientConnection* c : clients) c->close();
}

void Worker::finishStop() {
  if (stopped_) return;
  stopped_ = true;
  uv_timer_stop(&drain_timer_);
  uv_timer_stop(&health_timer_);
  router_->stop([this] {
    uv_close(reinterpret_cast<uv_handle_t*>(&health_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
    // Pending delayed-flush timers end with the loop.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (h->type == UV_TIMER && !uv_is_closing(h)) {
            uv_close(h, [](uv_handle_t* hh) { delete static_cast<FlushTimer*>(hh->data); });
          }
        },
        nullptr);
  });
}

}  // namespace mcbridge::proxy
