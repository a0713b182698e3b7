// The seam between the translator and the Redis connections (DESIGN.md "backend/"): the
// translator says which argument is each command's key (a Route); a Router (backend/router.h)
// picks the connection: the one node in standalone mode, the key's slot owner in a cluster.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "backend/redis_connection.h"

namespace mcbridge::backend {

// Where a command may run, named by the translator for every command it sends.
struct Route {
  enum class Kind : uint8_t {
    kKey,      // one key, at args[first_key]
    kKeys,     // keys at args[first_key, first_key + key_count); the reply is an array with one
               // element per key in that order, so the command may be split per node and the
               // parts' replies joined (MGET, the get-and-touch script)
    kAnyNode,  // no key: any node (PING); flush_all is handled per node by the worker
  };
  Kind kind = Kind::kAnyNode;
  bool read = false;  // reads only: may be served by a replica (--read-from replica)
  uint32_t first_key = 1;
  uint32_t key_count = 1;
  uint32_t numkeys_arg = 0;  // kKeys: index of a numkeys argument to rewrite per part; 0: none
  // A large reply is expected (flow control: a multi-get part or a read of large values): never
  // merge it with other commands, whose replies would then wait for all of it.
  bool bulk = false;
  // kKeys split per node (cluster): a part that fails or answers an error does not fail the
  // whole command; its keys' elements are error replies instead and the other parts' answers
  // are kept (--miss-on-error: the client sees the healthy shards' hits, the rest as misses).
  bool partial = false;

  static constexpr Route key(uint32_t index, bool read = false) {
    return Route{Kind::kKey, read, index, 1, 0};
  }
  static constexpr Route keys(uint32_t first, uint32_t count, bool read, uint32_t numkeys_arg = 0) {
    return Route{Kind::kKeys, read, first, count, numkeys_arg};
  }
  static constexpr Route anyNode() { return Route{}; }
};

class CommandSink {
 public:
  // Queues one command; `completion` is called exactly once, later, on the caller's thread.
  virtual void send(const Route& route, std::span<const RedisArg> args,
                    RedisCompletion* completion) = 0;
  void send(const Route& route, std::initializer_list<RedisArg> args, RedisCompletion* completion) {
    send(route, std::span<const RedisArg>(args.begin(), args.size()), completion);
  }

 protected:
  ~CommandSink() = default;
};

}  // namespace mcbridge::backend
