// ClusterRouter's per-slot splits: a multi-key command whose keys span slots goes out as one
// part per slot, all in the same loop turn, and the parts' replies are joined in key order.
#include <algorithm>
#include <charconv>
#include <utility>

#include "backend/cluster_request.h"
#include "backend/cluster_split.h"

namespace mcbridge::backend {

void ClusterRouter::Multi::partReply(size_t part, const redisReply* r) {
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
  } else {
    const std::string_view error =
        r->type == REDIS_REPLY_ERROR ? std::string_view(r->str, r->len)
                                     : std::string_view("ERR unexpected reply to a split command");
    if (partial_) {
      failKeys(part, error);
    } else if (!errored_) {
      errored_ = true;
      error_ = error;
    }
  }
  finishPart();
}

void ClusterRouter::Multi::partFailure(size_t part, RedisFailure f) {
  if (partial_) {
    failKeys(part, f == RedisFailure::kTimeout ? "ERR backend timeout" : "ERR backend unavailable");
  } else if (!failed_) {
    failed_ = true;
    failure_ = f;
  }
  finishPart();
}

void ClusterRouter::Multi::failKeys(size_t part, std::string_view error) {
  for (uint32_t k : part_keys[part]) {
    Elem& out = elems_[k];
    out.type = REDIS_REPLY_ERROR;
    out.integer = 0;
    out.str = error;
  }
}

void ClusterRouter::Multi::finishPart() {
  if (--pending > 0) return;
  if (failed_) {
    if (to_.parent != nullptr) {
      to_.parent->partFailure(to_.part, failure_);
    } else {
      to_.completion->onRedisFailure(failure_);
    }
  } else if (errored_) {
    redisReply e{};
    e.type = REDIS_REPLY_ERROR;
    e.str = error_.data();
    e.len = error_.size();
    deliver(&e);
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
    deliver(&array);
  }
  delete this;
}

void ClusterRouter::Multi::deliver(const redisReply* reply) {
  if (to_.parent != nullptr) {
    to_.parent->partReply(to_.part, reply);
  } else {
    to_.completion->onRedisReply(reply);
  }
}

void ClusterRouter::sendSplit(const Route& route, std::span<const RedisArg> args, SplitTarget to,
                              Clock::time_point deadline, bool per_key) {
  // Group the keys by slot (or one group per key), keeping their order within each group.
  std::vector<std::pair<uint16_t, uint32_t>> order(route.key_count);
  for (uint32_t i = 0; i < route.key_count; ++i) {
    order[i] = {keySlot(args[route.first_key + i]), i};
  }
  if (!per_key) {
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  auto* multi = new Multi(to, route.key_count, route.partial);
  std::vector<std::pair<uint16_t, size_t>> groups;  // slot, first index into order
  for (size_t i = 0; i < order.size(); ++i) {
    if (per_key || i == 0 || order[i].first != order[i - 1].first) {
      groups.emplace_back(order[i].first, i);
    }
  }
  multi->pending = groups.size();
  multi->part_keys.resize(groups.size());
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
    Route part_route = route;  // its flags (read, bulk, partial) and numkeys position
    part_route.key_count = static_cast<uint32_t>(keys.size());
    Request* part = newRequest(part_route, part_args, groups[g].first, deadline);
    part->parent = multi;
    part->part = g;
    part->slotted = true;
    part->no_merge = per_key;
    parts.push_back(part);
  }
  for (Request* part : parts) dispatch(part);  // all in this loop turn
}

}  // namespace mcbridge::backend
