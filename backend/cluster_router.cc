// ClusterRouter's core: accepting commands, picking each one's node (dispatch), the tick that
// wakes held commands and enforces deadlines, start and stop. The other jobs live beside it:
// cluster_request.cc (redirects and retries), cluster_split.cc (per-slot splits),
// cluster_refresh.cc (the slot map), cluster_nodes.cc (per-node links, flush, figures).
#include "backend/cluster_router.h"

#include <utility>

#include "backend/cluster_request.h"

namespace mcbridge::backend {

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

void ClusterRouter::send(const Route& route, std::span<const RedisArg> args,
                         RedisCompletion* completion) {
  if ((mode_ == Mode::kStandalone && !(route.read && read_node_ >= 0)) || stopping_) {
    // As StandaloneRouter (after stop, the link fails it with kShutdown from the loop); a bulk
    // command (flow control: a large reply expected) goes on the bulk connection.
    NodeLink* link = nodes_[static_cast<size_t>(seed_)]->link.get();
    if (route.bulk) return link->sendBulk(args, completion);
    link->send(args, completion, 0);
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
          sendSplit(r->route, r->args, SplitTarget{r->target, r->parent, r->part}, r->deadline,
                    /*per_key=*/false);
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
        if (nodes_[static_cast<size_t>(c)]->link->connected() && !skipped(r, c)) {
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
  if (skipped(r, node)) {
    r->deliverFailure(RedisFailure::kDisconnected);  // --miss-on-error: its keys miss at once
    release(r);
    return;
  }
  sendTo(r, node, false);
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
      if (r->outstanding && r->node >= 0) suspect(r->node, RedisFailure::kTimeout);
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

}  // namespace mcbridge::backend
