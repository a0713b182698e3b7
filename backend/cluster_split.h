// ClusterRouter's multi-key commands split per slot (internal to the cluster router's files;
// see cluster_router.h): the parts' replies joined into one reply in key order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/cluster_router.h"

namespace mcbridge::backend {

// A multi-key command split per slot: joins the parts' replies (one element per key) in key
// order, copying them (each part's reply lives only during its callback).
class ClusterRouter::Multi {
 public:
  Multi(SplitTarget to, size_t nkeys, bool partial) : to_(to), elems_(nkeys), partial_(partial) {}

  std::vector<std::vector<uint32_t>> part_keys;  // key indices of each part
  size_t pending = 0;

  // One part's reply (an array with one element per key of the part) or failure; the last
  // part answers the target and deletes *this.
  void partReply(size_t part, const redisReply* r);
  void partFailure(size_t part, RedisFailure f);

 private:
  struct Elem {
    int type = REDIS_REPLY_NIL;
    long long integer = 0;
    std::string str;
  };

  void finishPart();
  void deliver(const redisReply* reply);

  // Route::partial: a failed part's keys become error elements.
  void failKeys(size_t part, std::string_view error);

  SplitTarget to_;
  std::vector<Elem> elems_;
  bool partial_;
  bool failed_ = false;
  RedisFailure failure_ = RedisFailure::kDisconnected;
  bool errored_ = false;
  std::string error_;
};

}  // namespace mcbridge::backend
