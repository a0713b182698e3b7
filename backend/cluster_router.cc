#include "backend/cluster_router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "backend/log.h"

namespace mcbridge::backend {
namespace {

constexpr int kMaxRedirects = 5;
constexpr std::chrono::milliseconds kRetryBase{5};
constexpr std::chrono::milliseconds kRetryMax{100};

bool startsWith(const redisReply* r, std::string_view prefix) {
  return std::string_view(r->str, r->len).starts_with(prefix);
}

// The reply of ASKING is not anyone's business.
struct IgnoreReply final : RedisCompletion {
  void onRedisReply(const redisReply*) override {}
  void onRedisFailure(RedisFailure) override {}
};
IgnoreReply ignore_reply;

}  // namespace

// One command on its way through the cluster: owns a copy of its arguments (views into the
// client's buffer die when send() returns) so it can be re-sent after a redirect or a retry.
class ClusterRouter::Request final : public RedisCompletion {
 public:
  ClusterRouter* router = nullptr;
  RedisCompletion* target = nullptr;  // the sender's completion; null for a part of a Multi
  Multi* parent = nullptr;
  size_t part = 0;
  Route route;
  std::string buf;
  std::vector<RedisArg> args;
  Clock::time_point deadline;
  Clock::time_point wake_at;
  uint16_t slot = 0;
  uint8_t redirects = 0;
  uint8_t retries = 0;
  bool slotted = false;  // slot computed (or a keyless command)
  bool on_replica = false;
  bool tried_replica = false;
  bool outstanding = false;  // a link holds this completion
  bool done = false;         // the sender has its answer
  bool watched = false;      // in router->watched_
  bool waiting = false;      // held or backing off; dispatched by the router's tick

  void assign(std::span<const RedisArg> a) {
    size_t total = 0;
    for (const RedisArg& x : a) total += x.first.size() + x.second.size();
    buf.clear();
    buf.reserve(total);
    for (const RedisArg& x : a) {
      buf.append(x.first);
      buf.append(x.second);
    }
    args.resize(a.size());
    size_t off = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const size_t len = a[i].first.size() + a[i].second.size();
      args[i] = RedisArg{std::string_view(buf.data() + off, len)};
      off += len;
    }
  }

  void onRedisReply(const redisReply* reply) override;
  void onRedisFailure(RedisFailure failure) override;
  void deliverReply(const redisReply* reply);
  void deliverFailure(RedisFailure failure);
};

// A multi-key command split per slot: joins the parts' replies (one element per key) in key
// order, copying them (each part's reply lives only during its callback).
class ClusterRouter::Multi {
 public:
  Multi(RedisCompletion* target, size_t nkeys) : target_(target), elems_(nkeys) {}

  std::vector<std::vector<uint32_t>> part_keys;  // key indices of each part
  size_t pending = 0;

  void partReply(size_t part, const redisReply* r) {
    const std::vector<uint32_t>& keys = part_keys[part];
    if (r->type == REDIS_REPLY_ARRAY && r->elements == keys.size()) {
      for (size_t i = 0; i < keys.size(); ++i) {
        const redisReply* e = r->element[i];
        Elem& out = elems_[keys[i]];
        out.type = e->type;
        out.integer = e->integer;
        if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ||
            e->type == REDIS_REPLY_ERROR) {
          out.str.assign(e->str, e->len);
        } else if (e->type != REDIS_REPLY_INTEGER) {
          out.type = REDIS_REPLY_NIL;
        }
      }
    } else if (!errored_) {
      errored_ = true;
      error_ = r->type == REDIS_REPLY_ERROR
                   ? std::string(r->str, r->len)
                   : std::string("ERR unexpected reply to a split command");
    }
    finishPart();
  }
  void partFailure(RedisFailure f) {
    if (!failed_) {
      failed_ = true;
      failure_ = f;
    }
    finishPart();
  }

 private:
  struct Elem {
    int type = REDIS_REPLY_NIL;
    long long integer = 0;
    std::string str;
  };

  void finishPart() {
    if (--pending > 0) return;
    if (failed_) {
      target_->onRedisFailure(failure_);
    } else if (errored_) {
      redisReply e{};
      e.type = REDIS_REPLY_ERROR;
      e.str = error_.data();
      e.len = error_.size();
      target_->onRedisReply(&e);
    } else {
      std::vector<redisReply> replies(elems_.size());
      std::vector<redisReply*> pointers(elems_.size());
      for (size_t i = 0; i < elems_.size(); ++i) {
        redisReply& r = replies[i];
        r = redisReply{};
        r.type = elems_[i].type;
        r.integer = elems_[i].integer;
        r.str = elems_[i].str.data();
        r.len = elems_[i].str.size();
        pointers[i] = &r;
      }
      redisReply array{};
      array.type = REDIS_REPLY_ARRAY;
      array.elements = elems_.size();
      array.element = pointers.data();
      target_->onRedisReply(&array);
    }
    delete this;
  }

  RedisCompletion* target_;
  std::vector<Elem> elems_;
  bool failed_ = false;
  RedisFailure failure_ = RedisFailure::kDisconnected;
  bool errored_ = false;
  std::string error_;
};

void ClusterRouter::Request::deliverReply(const redisReply* reply) {
  done = true;
  if (parent != nullptr) {
    parent->partReply(part, reply);
  } else {
    target->onRedisReply(reply);
  }
}

void ClusterRouter::Request::deliverFailure(RedisFailure failure) {
  done = true;
  if (parent != nullptr) {
    parent->partFailure(failure);
  } else {
    target->onRedisFailure(failure);
  }
}

void ClusterRouter::Request::onRedisReply(const redisReply* reply) {
  outstanding = false;
  ClusterRouter* r = router;
  if (done) return r->release(this);
  if (reply->type == REDIS_REPLY_ERROR && (r->mode_ == Mode::kCluster || on_replica)) {
    const auto now = Clock::now();
    Redirect redirect;
    if (parseRedirect(std::string_view(reply->str, reply->len), &redirect)) {
      (redirect.ask ? r->ask_ : r->moved_).add();
      if (++redirects <= kMaxRedirects && now < deadline) {
        if (!redirect.ask) r->onMoved(redirect.slot, redirect.address);
        const int node = r->nodeId(redirect.address);
        r->watch(this);
        r->sendTo(this, node, redirect.ask);
        return;
      }
    } else {
      const bool tryagain = startsWith(reply, "TRYAGAIN");
      const bool clusterdown = startsWith(reply, "CLUSTERDOWN");
      // A replica still loading, or cut off from its primary: the primary answers instead.
      const bool replica_trouble =
          on_replica && (startsWith(reply, "LOADING") || startsWith(reply, "MASTERDOWN") ||
                         startsWith(reply, "READONLY"));
      if (tryagain) r->tryagain_.add();
      if (clusterdown) {
        r->clusterdown_.add();
        r->requestRefresh();
      }
      if (tryagain || clusterdown || replica_trouble) {
        const auto backoff = std::min<std::chrono::milliseconds>(
            kRetryBase * (1 << std::min<int>(retries, 5)), kRetryMax);
        ++retries;
        if (now + backoff < deadline) {
          on_replica = false;
          r->hold(this, now + backoff);
          return;
        }
      }
    }
  }
  deliverReply(reply);
  r->release(this);
}

void ClusterRouter::Request::onRedisFailure(RedisFailure failure) {
  outstanding = false;
  ClusterRouter* r = router;
  if (done) return r->release(this);
  if (failure != RedisFailure::kShutdown) r->nodeTrouble();
  // A read that failed on a replica may still be answered by the primary; a command that may
  // have run on a primary is never sent again.
  if (on_replica && failure != RedisFailure::kShutdown && Clock::now() < deadline) {
    on_replica = false;
    r->watch(this);
    r->dispatch(this);
    return;
  }
  deliverFailure(failure);
  r->release(this);
}

// ---- the router ----

ClusterRouter::ClusterRouter(uv_loop_t* loop, ClusterRouterOptions options, NodeLinkFactory links)
    : loop_(loop),
      options_(std::move(options)),
      make_link_(std::move(links)),
      rng_(std::random_device{}()) {
  refresh_.router = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  seed_ = nodeId(options_.seed);
  seed_counters_ = &nodes_[static_cast<size_t>(seed_)]->link->counters();
  if (options_.mode == ClusterRouterOptions::Mode::kStandalone) {
    mode_ = Mode::kStandalone;
    standalone_.store(true, std::memory_order_relaxed);
  }
  if (!options_.read_endpoint.empty() && options_.read_from_replica) {
    read_node_ = nodeId(options_.read_endpoint);
  }
}

ClusterRouter::~ClusterRouter() {
  for (Request* r : watched_) delete r;
  for (Request* r : free_requests_) delete r;
}

size_t ClusterRouter::liveNodes() const {
  size_t n = 0;
  for (const auto& node : nodes_) n += node->retired ? 0 : 1;
  return n;
}

int ClusterRouter::nodeId(const std::string& address) {
  auto it = node_ids_.find(address);
  if (it != node_ids_.end()) {
    Node& n = *nodes_[static_cast<size_t>(it->second)];
    if (n.retired) {
      std::unique_ptr<NodeLink> link = make_link_(address);
      {
        std::lock_guard<std::mutex> lock(nodes_mu_);
        n.link = std::move(link);
        n.retired = false;
      }
      if (started_) n.link->start();
    }
    return it->second;
  }
  auto node = std::make_unique<Node>();
  node->address = address;
  node->link = make_link_(address);
  NodeLink* link = node->link.get();
  const int id = static_cast<int>(nodes_.size());
  {
    std::lock_guard<std::mutex> lock(nodes_mu_);
    nodes_.push_back(std::move(node));
  }
  node_ids_.emplace(address, id);
  if (started_ && !stopping_) link->start();
  return id;
}

ClusterRouter::Request* ClusterRouter::newRequest(const Route& route,
                                                  std::span<const RedisArg> args, uint16_t slot,
                                                  Clock::time_point deadline) {
  Request* r;
  if (free_requests_.empty()) {
    r = new Request;
  } else {
    r = free_requests_.back();
    free_requests_.pop_back();
  }
  r->router = this;
  r->target = nullptr;
  r->parent = nullptr;
  r->part = 0;
  r->route = route;
  r->assign(args);
  r->deadline = deadline;
  r->slot = slot;
  r->redirects = 0;
  r->retries = 0;
  r->slotted = false;
  r->on_replica = false;
  r->tried_replica = false;
  r->outstanding = false;
  r->done = false;
  r->watched = false;
  r->waiting = false;
  return r;
}

void ClusterRouter::release(Request* r) {
  if (r->outstanding || !r->done || r->watched) return;  // the tick frees watched ones
  if (free_requests_.size() < 1024) {
    free_requests_.push_back(r);
  } else {
    delete r;
  }
}

void ClusterRouter::watch(Request* r) {
  if (r->watched) return;
  r->watched = true;
  watched_.push_back(r);
  // The tick stops in standalone mode when nothing is watched: a watched request needs it.
  if (started_ && !stopping_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_))) {
    const auto ms = static_cast<uint64_t>(options_.tick.count());
    uv_timer_start(&timer_, &ClusterRouter::onTick, ms, ms);
  }
}

void ClusterRouter::hold(Request* r, Clock::time_point until) {
  r->waiting = true;
  r->wake_at = until;
  watch(r);
}

void ClusterRouter::send(const Route& route, std::span<const RedisArg> args,
                         RedisCompletion* completion) {
  if ((mode_ == Mode::kStandalone && !(route.read && read_node_ >= 0)) || stopping_) {
    // As StandaloneRouter (after stop, the link fails it with kShutdown from the loop); a bulk
    // command (flow control: a large reply expected) never merges.
    nodes_[static_cast<size_t>(seed_)]->link->send(args, completion,
                                                   route.bulk ? RedisConnection::kNoMerge : 0);
    return;
  }
  Request* r = newRequest(route, args, 0, Clock::now() + options_.request_timeout);
  r->target = completion;
  dispatch(r);
}

void ClusterRouter::dispatch(Request* r) {
  if (mode_ == Mode::kDetecting) {
    hold(r, Clock::time_point::max());  // until the mode is known (or the deadline)
    return;
  }
  if (mode_ == Mode::kStandalone) {
    // Reads go to the read endpoint while it is connected; the primary answers otherwise.
    int node = seed_;
    if (r->route.read && read_node_ >= 0 && !r->tried_replica &&
        nodes_[static_cast<size_t>(read_node_)]->link->connected()) {
      node = read_node_;
      r->on_replica = true;
    }
    r->tried_replica = true;
    sendTo(r, node, false);
    return;
  }
  if (!r->slotted) {
    r->slotted = true;
    if (r->route.kind == Route::Kind::kKey) {
      r->slot = keySlot(r->args[r->route.first_key]);
    } else if (r->route.kind == Route::Kind::kKeys) {
      const uint16_t first = keySlot(r->args[r->route.first_key]);
      for (uint32_t i = 1; i < r->route.key_count; ++i) {
        if (keySlot(r->args[r->route.first_key + i]) != first) {
          sendSplit(r->route, r->args, r->target);
          r->done = true;  // its sender is answered by the parts now
          release(r);
          return;
        }
      }
      r->slot = first;
    }
  }
  int node = -1;
  if (r->route.kind == Route::Kind::kAnyNode) {
    // The configured node, or any connected primary while it is down (health checks).
    node = seed_;
    if (!nodes_[static_cast<size_t>(seed_)]->link->connected()) {
      for (int p : primaries_) {
        const Node& n = *nodes_[static_cast<size_t>(p)];
        if (!n.retired && n.link->connected()) {
          node = p;
          break;
        }
      }
    }
  } else {
    if (r->route.read && options_.read_from_replica && !r->tried_replica) {
      const std::vector<int>& replicas = table_.replicas(r->slot);
      for (size_t i = 0; i < replicas.size(); ++i) {
        const int c = replicas[(replica_rr_ + i) % replicas.size()];
        if (nodes_[static_cast<size_t>(c)]->link->connected()) {
          node = c;
          break;
        }
      }
      ++replica_rr_;
      r->tried_replica = true;
      r->on_replica = node >= 0;
    }
    if (node < 0) node = table_.primary(r->slot);
    if (node < 0) {  // nobody serves the slot (yet): wait for a map that says who does
      requestRefresh();
      hold(r, Clock::now() + options_.refresh_min_interval);
      return;
    }
  }
  sendTo(r, node, false);
}

void ClusterRouter::sendTo(Request* r, int node, bool asking) {
  NodeLink* link = nodes_[static_cast<size_t>(node)]->link.get();
  r->outstanding = true;
  if (asking) {
    // ASKING applies to the next command of the connection: the two go out back to back, and
    // the command does not merge with anything.
    static constexpr RedisArg kAsking[] = {{"ASKING"}};
    link->send(kAsking, &ignore_reply, RedisConnection::kNoMerge);
    link->send(r->args, r, RedisConnection::kNoMerge);
    return;
  }
  // MGETs merge per slot on the node's connection (a merged MGET must stay in one slot); in
  // standalone mode all of them may merge. A bulk one (flow control: a large reply expected)
  // never merges.
  uint32_t group = RedisConnection::kNoMerge;
  if (r->route.bulk) {
    group = RedisConnection::kNoMerge;
  } else if (mode_ == Mode::kStandalone) {
    group = 0;
  } else if (r->slotted && r->route.kind != Route::Kind::kAnyNode) {
    group = r->slot;
  }
  link->send(r->args, r, group);
}

void ClusterRouter::sendSplit(const Route& route, std::span<const RedisArg> args,
                              RedisCompletion* completion) {
  // Group the keys by slot, keeping their order within each group.
  std::vector<std::pair<uint16_t, uint32_t>> order(route.key_count);
  for (uint32_t i = 0; i < route.key_count; ++i) {
    order[i] = {keySlot(args[route.first_key + i]), i};
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  auto* multi = new Multi(completion, route.key_count);
  std::vector<std::pair<uint16_t, size_t>> groups;  // slot, first index into order
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || order[i].first != order[i - 1].first) groups.emplace_back(order[i].first, i);
  }
  multi->pending = groups.size();
  multi->part_keys.resize(groups.size());
  const auto deadline = Clock::now() + options_.request_timeout;
  std::vector<Request*> parts;
  std::vector<RedisArg> part_args;
  for (size_t g = 0; g < groups.size(); ++g) {
    const size_t begin = groups[g].second;
    const size_t end = g + 1 < groups.size() ? groups[g + 1].second : order.size();
    std::vector<uint32_t>& keys = multi->part_keys[g];
    for (size_t i = begin; i < end; ++i) keys.push_back(order[i].second);
    char numkeys[16];
    const auto n = std::to_chars(numkeys, numkeys + sizeof numkeys, keys.size()).ptr - numkeys;
    part_args.assign(args.begin(), args.begin() + route.first_key);
    if (route.numkeys_arg > 0) {
      part_args[route.numkeys_arg] = RedisArg{std::string_view(numkeys, static_cast<size_t>(n))};
    }
    for (uint32_t k : keys) part_args.push_back(args[route.first_key + k]);
    part_args.insert(part_args.end(), args.begin() + route.first_key + route.key_count, args.end());
    Route part_route =
        Route::keys(route.first_key, static_cast<uint32_t>(keys.size()), route.read,
                    route.numkeys_arg);
    part_route.bulk = route.bulk;
    Request* part = newRequest(part_route, part_args, groups[g].first, deadline);
    part->parent = multi;
    part->part = g;
    part->slotted = true;
    parts.push_back(part);
  }
  for (Request* part : parts) dispatch(part);  // all in this loop turn
}

void ClusterRouter::onMoved(uint16_t slot, const std::string& address) {
  const int node = nodeId(address);
  table_.fix(slot, node, ++epoch_);
  if (std::find(primaries_.begin(), primaries_.end(), node) == primaries_.end()) {
    primaries_.push_back(node);
  }
  requestRefresh();
}

void ClusterRouter::nodeTrouble() { requestRefresh(); }

void ClusterRouter::requestRefresh() {
  if (mode_ == Mode::kStandalone) return;
  refresh_wanted_ = true;
  maybeRefresh(Clock::now());
}

void ClusterRouter::maybeRefresh(Clock::time_point now) {
  if (stopping_ || !started_ || refresh_in_flight_ || mode_ == Mode::kStandalone) return;
  if (now >= next_periodic_) refresh_wanted_ = true;
  if (!refresh_wanted_ || now < next_refresh_allowed_) return;
  // Ask the configured node if it answers, else any connected node.
  int node = seed_;
  if (!nodes_[static_cast<size_t>(seed_)]->link->connected()) {
    for (int p : primaries_) {
      if (!nodes_[static_cast<size_t>(p)]->retired &&
          nodes_[static_cast<size_t>(p)]->link->connected()) {
        node = p;
        break;
      }
    }
  }
  refresh_wanted_ = false;
  refresh_in_flight_ = true;
  refresh_asked_at_ = ++epoch_;
  refresh_.node = node;
  const auto min = options_.refresh_min_interval;
  auto jitter = [&](std::chrono::milliseconds range) {
    return std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, range.count()))(rng_));
  };
  next_refresh_allowed_ = now + min + jitter(min / 2);
  const auto interval = options_.refresh_interval;
  next_periodic_ = now + interval * 4 / 5 + jitter(interval * 2 / 5);
  static constexpr RedisArg kClusterSlots[] = {{"CLUSTER"}, {"SLOTS"}};
  nodes_[static_cast<size_t>(node)]->link->send(kClusterSlots, &refresh_,
                                                RedisConnection::kNoMerge);
}

void ClusterRouter::RefreshCompletion::onRedisReply(const redisReply* reply) {
  router->onRefresh(node, reply);
}

void ClusterRouter::RefreshCompletion::onRedisFailure(RedisFailure) { router->onRefreshFailed(); }

void ClusterRouter::onRefreshFailed() {
  refresh_in_flight_ = false;
  if (stopping_) return;
  refresh_errors_.add();
  refresh_wanted_ = true;
}

void ClusterRouter::onRefresh(int node, const redisReply* reply) {
  refresh_in_flight_ = false;
  if (stopping_) return;
  if (mode_ == Mode::kDetecting && options_.mode == ClusterRouterOptions::Mode::kAuto &&
      reply->type == REDIS_REPLY_ERROR &&
      std::string_view(reply->str, reply->len).find("cluster support disabled") !=
          std::string_view::npos) {
    becomeStandalone();
    return;
  }
  std::string host;
  uint16_t port = 0;
  splitAddress(nodes_[static_cast<size_t>(node)]->address, &host, &port);
  ClusterTopology view;
  std::string error;
  if (!parseClusterSlots(reply, host, &view, &error) || view.shards.empty()) {
    refresh_errors_.add();
    refresh_wanted_ = true;
    namedLogger("redis")->warn("cluster: CLUSTER SLOTS from {} failed: {}",
                               nodes_[static_cast<size_t>(node)]->address,
                               error.empty() ? "no slots assigned" : error);
    return;
  }
  install(view);
}

void ClusterRouter::install(const ClusterTopology& view) {
  std::vector<int> primary_ids;
  std::vector<std::vector<int>> replica_ids;
  for (const ClusterTopology::Shard& shard : view.shards) {
    primary_ids.push_back(nodeId(shard.primary));
    std::vector<int> replicas;
    if (options_.read_from_replica) {
      for (const std::string& a : shard.replicas) replicas.push_back(nodeId(a));
    }
    replica_ids.push_back(std::move(replicas));
  }
  table_.install(view, primary_ids, replica_ids, refresh_asked_at_);
  primaries_ = table_.primaries();
  if (mode_ == Mode::kDetecting) {
    namedLogger("redis")->info("cluster mode: {} primaries (seed {})", primaries_.size(),
                               options_.seed);
  }
  mode_ = Mode::kCluster;
  have_map_ = true;
  refreshes_.add();
  map_installed_ms_.store(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count(),
      std::memory_order_relaxed);
  // Disconnect nodes that left the map (the seed stays: it answers the next refresh).
  std::vector<bool> used(nodes_.size(), false);
  used[static_cast<size_t>(seed_)] = true;
  if (read_node_ >= 0) used[static_cast<size_t>(read_node_)] = true;
  for (int p : primaries_) used[static_cast<size_t>(p)] = true;
  for (const auto& r : replica_ids) {
    for (int id : r) used[static_cast<size_t>(id)] = true;
  }
  for (size_t id = 0; id < nodes_.size(); ++id) {
    Node& n = *nodes_[id];
    if (used[id] || n.retired) continue;
    namedLogger("redis")->info("cluster: {} left the slot map, disconnecting", n.address);
    std::unique_ptr<NodeLink> link;
    {
      std::lock_guard<std::mutex> lock(nodes_mu_);
      link = std::move(n.link);
      n.retired = true;
      n.link = nullptr;
    }
    NodeLink* raw = link.release();
    ++stops_pending_;
    raw->stop([this, raw] {
      delete raw;
      --stops_pending_;
      if (stopping_) finishStop();
    });
  }
  for (size_t id = 0; id < nodes_.size(); ++id) {
    nodes_[id]->primary.store(
        std::find(primaries_.begin(), primaries_.end(), static_cast<int>(id)) != primaries_.end(),
        std::memory_order_relaxed);
  }
  updateReady();
  // Commands held for the mode or for an unknown slot owner go now.
  for (size_t i = 0; i < watched_.size(); ++i) {
    Request* r = watched_[i];
    if (r->waiting && !r->done && r->wake_at == Clock::time_point::max()) {
      r->waiting = false;
      dispatch(r);
    }
  }
  runPendingFlushes();
}

void ClusterRouter::becomeStandalone() {
  mode_ = Mode::kStandalone;
  standalone_.store(true, std::memory_order_relaxed);
  namedLogger("redis")->info("standalone mode ({} is not a cluster node)", options_.seed);
  for (size_t i = 0; i < watched_.size(); ++i) {
    Request* r = watched_[i];
    if (r->waiting && !r->done) {
      r->waiting = false;
      dispatch(r);
    }
  }
  runPendingFlushes();
  updateReady();
}

void ClusterRouter::runPendingFlushes() {
  auto pending = std::move(pending_flushes_);
  pending_flushes_.clear();
  for (auto& fn : pending) forEachPrimary(std::move(fn));
}

void ClusterRouter::forEachPrimary(std::function<void(const std::vector<std::string>&)> fn) {
  if (mode_ == Mode::kDetecting) {
    pending_flushes_.push_back(std::move(fn));
    return;
  }
  std::vector<std::string> addresses;
  if (mode_ == Mode::kStandalone) {
    addresses.push_back(options_.seed);
  } else {
    for (int p : primaries_) addresses.push_back(nodes_[static_cast<size_t>(p)]->address);
  }
  fn(addresses);
}

void ClusterRouter::sendToNode(const std::string& address, std::span<const RedisArg> args,
                               RedisCompletion* completion) {
  const int node = mode_ == Mode::kStandalone || stopping_ ? seed_ : nodeId(address);
  nodes_[static_cast<size_t>(node)]->link->send(args, completion, RedisConnection::kNoMerge);
}

void ClusterRouter::updateReady() {
  bool ready = false;
  if (mode_ == Mode::kStandalone) {
    ready = nodes_[static_cast<size_t>(seed_)]->link->connected();
  } else if (mode_ == Mode::kCluster && table_.complete()) {
    ready = true;
    for (int p : primaries_) {
      const Node& n = *nodes_[static_cast<size_t>(p)];
      if (n.retired || !n.link->connected()) ready = false;
    }
  }
  ready_.store(ready, std::memory_order_relaxed);
}

void ClusterRouter::start() {
  if (started_) return;
  started_ = true;
  for (auto& n : nodes_) {
    if (!n->retired) n->link->start();
  }
  uv_timer_start(&timer_, &ClusterRouter::onTick, static_cast<uint64_t>(options_.tick.count()),
                 static_cast<uint64_t>(options_.tick.count()));
  maybeRefresh(Clock::now());
}

void ClusterRouter::onTick(uv_timer_t* t) { static_cast<ClusterRouter*>(t->data)->tick(); }

void ClusterRouter::tick() {
  const auto now = Clock::now();
  for (size_t i = 0; i < watched_.size();) {
    Request* r = watched_[i];
    if (!r->done && now >= r->deadline) {
      r->waiting = false;
      r->deliverFailure(RedisFailure::kTimeout);
    } else if (r->waiting && !r->done && now >= r->wake_at) {
      r->waiting = false;
      dispatch(r);
    }
    if (r->done && !r->outstanding) {
      watched_[i] = watched_.back();
      watched_.pop_back();
      r->watched = false;
      release(r);
      continue;
    }
    ++i;
  }
  updateReady();
  if (mode_ == Mode::kCluster && !ready_.load(std::memory_order_relaxed)) refresh_wanted_ = true;
  maybeRefresh(now);
  if (mode_ == Mode::kStandalone && watched_.empty()) uv_timer_stop(&timer_);
}

void ClusterRouter::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  done_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<ClusterRouter*>(h->data);
    // Commands still held here fail now; those on links fail as each link stops.
    for (size_t i = 0; i < self->watched_.size(); ++i) {
      Request* r = self->watched_[i];
      if (!r->done && !r->outstanding) {
        r->waiting = false;
        r->deliverFailure(RedisFailure::kShutdown);
      }
    }
    for (auto& n : self->nodes_) {
      if (n->retired) continue;
      ++self->stops_pending_;
      n->link->stop([self] {
        --self->stops_pending_;
        self->finishStop();
      });
    }
    --self->stops_pending_;  // the timer's own count
    self->finishStop();
  });
  ++stops_pending_;
}

void ClusterRouter::finishStop() {
  if (stops_pending_ > 0 || !done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done();  // may destroy *this
}

void ClusterRouter::collectCounters(RedisCounters* totals) const {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  for (const auto& n : nodes_) {
    if (n->link) addCounters(n->link->counters(), totals);
  }
}

void ClusterRouter::collectCluster(ClusterStats* out) const {
  // mode_ and primaries_ belong to the loop thread; the map time and counters are atomic.
  const int64_t installed = map_installed_ms_.load(std::memory_order_relaxed);
  if (installed == 0) return;
  out->cluster = true;
  out->moved += moved_.get();
  out->ask += ask_.get();
  out->tryagain += tryagain_.get();
  out->clusterdown += clusterdown_.get();
  out->refreshes += refreshes_.get();
  out->refresh_errors += refresh_errors_.get();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  out->slot_map_age_s = std::max(out->slot_map_age_s, static_cast<double>(now - installed) / 1e3);
  std::lock_guard<std::mutex> lock(nodes_mu_);
  for (const auto& n : nodes_) {
    if (!n->link) continue;
    ClusterStats::Node* s = nullptr;
    for (auto& existing : out->nodes) {
      if (existing.address == n->address) s = &existing;
    }
    if (s == nullptr) {
      out->nodes.push_back({});
      s = &out->nodes.back();
      s->address = n->address;
    }
    const RedisCounters& c = n->link->counters();
    s->primary = s->primary || n->primary.load(std::memory_order_relaxed);
    s->links += 1;
    s->connected += c.ready.load(std::memory_order_relaxed) ? 1 : 0;
    s->commands += c.commands.get();
    s->errors += c.errors.get();
    s->latency_us_sum += c.latency_us_sum.get();
    s->latency_count += c.latency_count.get();
  }
}

}  // namespace mcbridge::backend
