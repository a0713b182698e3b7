// `stats` and its subcommands, from the counters of every worker (PROTOCOL.md §6.12).
#pragma once

#include <string>
#include <string_view>

// The memcached version mcbridge answers to `version` and in `stats`: clients (libmemcached)
// parse it as <major>.<minor>.<micro>, so it must look like memcached's own.
#define MCBRIDGE_MEMCACHED_VERSION "1.6.18"

namespace mcbridge::proxy {

class Server;
class Worker;

// Appends the reply to `stats <args>` (ERROR for an unknown subcommand). Called on `worker`'s
// thread; reads other workers' counters (relaxed atomics).
void appendStats(Server& server, Worker& worker, std::string_view args, std::string* out);

}  // namespace mcbridge::proxy
