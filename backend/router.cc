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
    : conn_(loop, std::move(options)) {}

void StandaloneRouter::send(const Route& route, std::span<const RedisArg> args,
                            RedisCompletion* completion) {
  // A bulk command (a large reply expected) never merges: the merged gets would wait for it.
  conn_.send(args, completion, route.bulk ? RedisConnection::kNoMerge : 0);
}

void StandaloneRouter::start() { conn_.start(); }

void StandaloneRouter::stop(std::function<void()> done) { conn_.stop(std::move(done)); }

bool StandaloneRouter::ready() const {
  return conn_.counters().ready.load(std::memory_order_relaxed);
}

void StandaloneRouter::collectCounters(RedisCounters* totals) const {
  addCounters(conn_.counters(), totals);
}

void StandaloneRouter::forEachPrimary(
    std::function<void(const std::vector<std::string>&)> fn) {
  fn({std::string()});
}

void StandaloneRouter::sendToNode(const std::string& /*address*/, std::span<const RedisArg> args,
                                  RedisCompletion* completion) {
  conn_.send(args, completion);
}

}  // namespace mcbridge::backend
