#include "backend/node_link.h"

#include <atomic>
#include <memory>
#include <utility>

#include "backend/slot_map.h"

namespace mcbridge::backend {
namespace {

class RedisNodeLink final : public NodeLink {
 public:
  RedisNodeLink(uv_loop_t* loop, RedisOptions options)
      : loop_(loop), options_(std::move(options)), conn_(loop_, options_) {}
  void start() override {
    started_ = true;
    conn_.start();
    if (bulk_) bulk_->start();
  }
  void stop(std::function<void()> done) override {
    stopping_ = true;
    if (!bulk_) return conn_.stop(std::move(done));
    auto left = std::make_shared<int>(2);
    auto one_done = [left, done = std::move(done)] {
      if (--*left == 0 && done) done();
    };
    conn_.stop(one_done);
    bulk_->stop(one_done);
  }
  void send(std::span<const RedisArg> args, RedisCompletion* completion,
            uint32_t merge_group) override {
    conn_.send(args, completion, merge_group);
  }
  void sendBulk(std::span<const RedisArg> args, RedisCompletion* completion) override {
    if (stopping_) return conn_.send(args, completion, RedisConnection::kNoMerge);  // kShutdown
    if (!bulk_) {
      bulk_ = std::make_unique<RedisConnection>(loop_, options_);
      bulk_published_.store(bulk_.get(), std::memory_order_release);
      if (started_) bulk_->start();
    }
    bulk_->send(args, completion, RedisConnection::kNoMerge);
  }
  bool connected() const override { return conn_.connected(); }
  const RedisCounters& counters() const override { return conn_.counters(); }
  // Read by the stats and metrics threads: the bulk connection appears while they run.
  const RedisCounters* bulkCounters() const override {
    const RedisConnection* bulk = bulk_published_.load(std::memory_order_acquire);
    return bulk != nullptr ? &bulk->counters() : nullptr;
  }

 private:
  uv_loop_t* loop_;
  RedisOptions options_;
  RedisConnection conn_;
  std::unique_ptr<RedisConnection> bulk_;
  std::atomic<const RedisConnection*> bulk_published_{nullptr};
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace

std::unique_ptr<NodeLink> makeRedisNodeLink(uv_loop_t* loop, RedisOptions options) {
  return std::make_unique<RedisNodeLink>(loop, std::move(options));
}

NodeLinkFactory redisNodeLinks(uv_loop_t* loop, RedisOptions base) {
  return [loop, base = std::move(base)](const std::string& address) -> std::unique_ptr<NodeLink> {
    RedisOptions o = base;
    std::string host;
    uint16_t port = 0;
    if (splitAddress(address, &host, &port)) {
      o.endpoint.host = host;
      o.endpoint.port = port;
    }
    return makeRedisNodeLink(loop, std::move(o));
  };
}

}  // namespace mcbridge::backend
