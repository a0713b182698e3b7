// ClusterRouter's requests: their pool, the watch list whose deadlines the tick enforces, and
// what a reply does to a request (redirects followed, transient errors retried, replica trouble
// answered by the primary). The policy is in cluster_router.h's header comment.
#include <algorithm>
#include <chrono>

#include "backend/cluster_request.h"
#include "backend/cluster_split.h"

namespace mcbridge::backend {
namespace {

constexpr int kMaxRedirects = 5;
constexpr std::chrono::milliseconds kRetryBase{5};
constexpr std::chrono::milliseconds kRetryMax{100};

bool startsWith(const redisReply* r, std::string_view prefix) {
  return std::string_view(r->str, r->len).starts_with(prefix);
}

}  // namespace

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
    parent->partFailure(part, failure);
  } else {
    target->onRedisFailure(failure);
  }
}

void ClusterRouter::Request::onRedisReply(const redisReply* reply) {
  outstanding = false;
  ClusterRouter* r = router;
  if (node >= 0) r->nodes_[static_cast<size_t>(node)]->suspect_until = {};  // it answers
  if (done) return r->release(this);
  if (reply->type == REDIS_REPLY_ERROR && (r->mode_ == Mode::kCluster || on_replica)) {
    const auto now = Clock::now();
    Redirect redirect;
    if (parseRedirect(std::string_view(reply->str, reply->len), &redirect)) {
      (redirect.ask ? r->ask_ : r->moved_).add();
      if (++redirects <= kMaxRedirects && now < deadline) {
        if (!redirect.ask) r->onMoved(redirect.slot, redirect.address);
        const int to = r->nodeId(redirect.address);
        r->watch(this);
        r->sendTo(this, to, redirect.ask);
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
      if (tryagain && route.kind == Route::Kind::kKeys && route.key_count > 1 && !on_replica &&
          now < deadline) {
        // A multi-key command on a migrating slot whose keys are not all on one node: Redis
        // refuses it until the migration ends, but serves each key alone.
        r->sendSplit(route, args, SplitTarget{target, parent, part}, deadline, /*per_key=*/true);
        done = true;  // its sender is answered by the parts now
        r->release(this);
        return;
      }
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
  if (node >= 0) r->suspect(node, failure);
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
  r->no_merge = false;
  r->node = -1;
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

}  // namespace mcbridge::backend
