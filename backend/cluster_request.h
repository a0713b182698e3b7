// ClusterRouter's request (internal to the cluster router's files; see cluster_router.h): one
// command on its way through the cluster, and the redirect/retry policy applied to its replies
// (cluster_request.cc).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "backend/cluster_router.h"

namespace mcbridge::backend {

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
  int node = -1;  // where it was sent last
  uint8_t redirects = 0;
  uint8_t retries = 0;
  bool slotted = false;  // slot computed (or a keyless command)
  bool on_replica = false;
  bool tried_replica = false;
  bool outstanding = false;  // a link holds this completion
  bool done = false;         // the sender has its answer
  bool watched = false;      // in router->watched_
  bool waiting = false;      // held or backing off; dispatched by the router's tick
  bool no_merge = false;     // a part of a per-key split: never merged into a larger MGET

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

}  // namespace mcbridge::backend
