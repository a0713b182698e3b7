#include "backend/router.h"

#include <utility>

namespace mcbridge::backend {

void addCounters(const RedisCounters& from, RedisCounters* to) {
  to->commands.add(from.commands.get());
  to->errors.add(from.errors.get());
  to->reconnects.add(from.reconnects.get());
  to->writes.add(from.writes.get());
  to->latency_us_sum.add(from.latency_us_sum.get());
  to->latency_count.add(from.latency_count.get());
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    to->latency_buckets[i].add(from.latency_buckets[i].get());
  }
}

StandaloneRouter::StandaloneRouter(uv_loop_t* loop, RedisOptions options)
    : link_(makeRedisNodeLink(loop, std::move(options))) {}

void StandaloneRouter::send(const Route& route, std::span<const RedisArg> args,
                            RedisCompletion* completion) {
  // A bulk command (a large reply expected) goes on the bulk connection: other commands'
  // replies do not wait behind its reply.
  if (route.bulk) return link_->sendBulk(args, completion);
  link_->send(args, completion, 0);
}

void StandaloneRouter::start() { link_->start(); }

void StandaloneRouter::stop(std::function<void()> done) { link_->stop(std::move(done)); }

bool StandaloneRouter::ready() const {
  return link_->counters().ready.load(std::memory_order_relaxed);
}

void StandaloneRouter::collectCounters(RedisCounters* totals) const {
  addCounters(link_->counters(), totals);
  if (const RedisCounters* bulk = link_->bulkCounters()) addCounters(*bulk, totals);
}

void StandaloneRouter::forEachPrimary(std::function<void(const std::vector<std::string>&)> fn) {
  fn({std::string()});
}

void StandaloneRouter::sendToNode(const std::string& /*address*/, std::span<const RedisArg> args,
                                  RedisCompletion* completion) {
  link_->send(args, completion, RedisConnection::kNoMerge);
}

}  // namespace mcbridge::backend
