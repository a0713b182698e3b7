#include "backend/node_link.h"

#include <utility>

#include "backend/slot_map.h"

namespace mcbridge::backend {
namespace {

class RedisNodeLink final : public NodeLink {
 public:
  RedisNodeLink(uv_loop_t* loop, RedisOptions options) : conn_(loop, std::move(options)) {}
  void start() override { conn_.start(); }
  void stop(std::function<void()> done) override { conn_.stop(std::move(done)); }
  void send(std::span<const RedisArg> args, RedisCompletion* completion,
            uint32_t merge_group) override {
    conn_.send(args, completion, merge_group);
  }
  bool connected() const override { return conn_.connected(); }
  const RedisCounters& counters() const override { return conn_.counters(); }

 private:
  RedisConnection conn_;
};

}  // namespace

NodeLinkFactory redisNodeLinks(uv_loop_t* loop, RedisOptions base) {
  return [loop, base = std::move(base)](const std::string& address) -> std::unique_ptr<NodeLink> {
    RedisOptions o = base;
    std::string host;
    uint16_t port = 0;
    if (splitAddress(address, &host, &port)) {
      o.endpoint.host = host;
      o.endpoint.port = port;
    }
    return std::make_unique<RedisNodeLink>(loop, std::move(o));
  };
}

}  // namespace mcbridge::backend
