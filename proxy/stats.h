// `stats` and its subcommands, from the counters of every worker (PROTOCOL.md §6.12).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/counters.h"
#include "backend/redis_connection.h"

// The memcached version mcbridge answers to `version` and in `stats`: clients (libmemcached)
// parse it as <major>.<minor>.<micro>, so it must look like memcached's own.
#define MCBRIDGE_MEMCACHED_VERSION "1.6.18"

namespace mcbridge::proxy {

class Server;
class Worker;

// Every worker's counters added up (a snapshot of relaxed reads: counts move while summed).
struct Totals {
  backend::Counters counters;
  backend::RedisCounters redis;
  int64_t curr_connections = 0;
  size_t ready_workers = 0;
};
void collectTotals(Server& server, Totals* totals);

// Appends the reply to `stats <args>` (ERROR for an unknown subcommand). Called on `worker`'s
// thread; reads other workers' counters (relaxed atomics).
void appendStats(Server& server, Worker& worker, std::string_view args, std::string* out);

// Appends the reply to `stats cachedump <class> <limit>` (`args`: the words after "cachedump"):
// memcached 1.6.18's errors for missing or bad numbers and a class >= 64, else an empty dump
// (END): mcbridge has no slab classes (`stats items` and `stats slabs` are empty too), and
// libmemcached's memcached_dump (PHP Memcached::getAllKeys) fails on an ERROR.
void appendCachedump(std::string_view args, std::string* out);

}  // namespace mcbridge::proxy
