#include "proxy/stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "protocol/parse_util.h"
#include "protocol/reply.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace mcbridge::proxy {
namespace {

using protocol::appendStat;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string formatTimeval(const timeval& tv) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
  return buf;
}

void appendGeneral(Server& server, std::string* out) {
  Totals t;
  collectTotals(server, &t);
  const backend::Counters& total = t.counters;
  const int64_t curr = t.curr_connections;
  const config::Options& o = server.options();
  const int64_t now = ::time(nullptr);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  appendStat(out, "pid", static_cast<uint64_t>(::getpid()));
  appendStat(out, "uptime", static_cast<uint64_t>(now - server.startTime()));
  appendStat(out, "time", static_cast<uint64_t>(now));
  appendStat(out, "version", MCBRIDGE_MEMCACHED_VERSION);
  appendStat(out, "mcbridge_version", MCBRIDGE_VERSION);
  appendStat(out, "pointer_size", static_cast<uint64_t>(sizeof(void*) * 8));
  appendStat(out, "rusage_user", formatTimeval(ru.ru_utime));
  appendStat(out, "rusage_system", formatTimeval(ru.ru_stime));
  appendStat(out, "max_connections", o.max_connections);
  appendStat(out, "curr_connections", static_cast<uint64_t>(curr < 0 ? 0 : curr));
  appendStat(out, "total_connections", total.total_connections.get());
  appendStat(out, "rejected_connections", total.rejected_connections.get());
  appendStat(out, "connection_structures", static_cast<uint64_t>(curr < 0 ? 0 : curr));
  appendStat(out, "cmd_get", total.cmd_get.get());
  appendStat(out, "cmd_set", total.cmd_set.get());
  appendStat(out, "cmd_flush", total.cmd_flush.get());
  appendStat(out, "cmd_touch", total.cmd_touch.get());
  appendStat(out, "cmd_meta", 0);
  appendStat(out, "get_hits", total.get_hits.get());
  appendStat(out, "get_misses", total.get_misses.get());
  appendStat(out, "get_expired", total.get_expired.get());
  appendStat(out, "get_flushed", total.get_flushed.get());
  appendStat(out, "delete_misses", total.delete_misses.get());
  appendStat(out, "delete_hits", total.delete_hits.get());
  appendStat(out, "incr_misses", total.incr_misses.get());
  appendStat(out, "incr_hits", total.incr_hits.get());
  appendStat(out, "decr_misses", total.decr_misses.get());
  appendStat(out, "decr_hits", total.decr_hits.get());
  appendStat(out, "cas_misses", total.cas_misses.get());
  appendStat(out, "cas_hits", total.cas_hits.get());
  appendStat(out, "cas_badval", total.cas_badval.get());
  appendStat(out, "touch_hits", total.touch_hits.get());
  appendStat(out, "touch_misses", total.touch_misses.get());
  appendStat(out, "store_too_large", total.store_too_large.get());
  appendStat(out, "store_no_memory", total.store_no_memory.get());
  appendStat(out, "auth_cmds", total.auth_cmds.get());
  appendStat(out, "auth_errors", total.auth_errors.get());
  appendStat(out, "bytes_read", total.bytes_read.get());
  appendStat(out, "bytes_written", total.bytes_written.get());
  appendStat(out, "limit_maxbytes", 0);
  appendStat(out, "accepting_conns", 1);
  appendStat(out, "listen_disabled_num", 0);
  appendStat(out, "threads", static_cast<uint64_t>(server.workers().size()));
  appendStat(out, "conn_yields", 0);
  appendStat(out, "bytes", 0);
  appendStat(out, "curr_items", 0);
  appendStat(out, "total_items", total.cmd_set.get());
  appendStat(out, "expired_unfetched", 0);
  appendStat(out, "evicted_unfetched", 0);
  appendStat(out, "evictions", 0);
  appendStat(out, "reclaimed", 0);
  const uint64_t latency_count = t.redis.latency_count.get();
  appendStat(out, "redis_commands", t.redis.commands.get());
  appendStat(out, "redis_errors", t.redis.errors.get());
  appendStat(out, "redis_failures", total.backend_failures.get());
  appendStat(out, "redis_reconnects", t.redis.reconnects.get());
  appendStat(out, "redis_latency_us",
             latency_count ? t.redis.latency_us_sum.get() / latency_count : 0);
  // Flow control (backend/flow_control.h).
  appendStat(out, "reply_bytes_expected",
             static_cast<uint64_t>(total.reply_bytes_expected.load(std::memory_order_relaxed)));
  appendStat(out, "reply_bytes_buffered",
             static_cast<uint64_t>(total.reply_bytes_buffered.load(std::memory_order_relaxed)));
  appendStat(out, "flow_holds", total.flow_holds.get());
  appendStat(out, "multiget_parts", total.multiget_parts.get());
  out->append(protocol::reply::kEnd);
}

void appendSettings(Server& server, std::string* out) {
  const config::Options& o = server.options();
  appendStat(out, "maxconns", o.max_connections);
  appendStat(out, "tcpport", o.listen.empty() || o.listen[0].unix_socket ? 0 : o.listen[0].port);
  appendStat(out, "udpport", 0);
  appendStat(out, "verbosity", 0);
  appendStat(out, "evictions", "on");
  appendStat(out, "num_threads", static_cast<uint64_t>(server.workers().size()));
  appendStat(out, "cas_enabled", "yes");
  appendStat(out, "flush_enabled", o.flush_all == config::FlushPolicy::kAllow ? "yes" : "no");
  appendStat(out, "item_size_max", o.item_size_max);
  appendStat(out, "binding_protocol", "auto-negotiate");
  appendStat(out, "auth_enabled_sasl", server.auth().enabled() ? "yes" : "no");
  appendStat(out, "auth_enabled_ascii",
             server.auth().enabled() ? std::string_view(server.auth().path()) : "no");
  appendStat(out, "key_prefix", o.key_prefix.empty() ? std::string("NULL") : o.key_prefix);
  appendStat(out, "request_timeout_ms", o.request_timeout_ms);
  appendStat(out, "miss_on_error", o.miss_on_error ? "yes" : "no");
  appendStat(out, "client_reply_budget", o.client_reply_budget);
  appendStat(out, "reply_budget", o.reply_budget);
  appendStat(out, "redis_reply_budget", o.redis_reply_budget);
  appendStat(out, "multiget_part_keys", o.multiget_part_keys);
  appendStat(out, "multiget_part_size", o.multiget_part_size);
  out->append(protocol::reply::kEnd);
}

}  // namespace

void collectTotals(Server& server, Totals* t) {
  for (const auto& w : server.workers()) {
    const backend::Counters& c = w->counters();
#define MCBRIDGE_SUM_COUNTER(name) t->counters.name.add(c.name.get());
    MCBRIDGE_COUNTERS(MCBRIDGE_SUM_COUNTER)
#undef MCBRIDGE_SUM_COUNTER
    for (size_t i = 0; i < protocol::kCommandCount; ++i) {
      t->counters.requests[i].add(c.requests[i].get());
      t->counters.server_errors[i].add(c.server_errors[i].get());
    }
    t->curr_connections += c.curr_connections.load(std::memory_order_relaxed);
    w->router().collectCounters(&t->redis);
    t->counters.flow_holds.add(c.flow_holds.get());
    t->counters.multiget_parts.add(c.multiget_parts.get());
    t->counters.reply_bytes_expected.fetch_add(
        c.reply_bytes_expected.load(std::memory_order_relaxed), std::memory_order_relaxed);
    t->counters.reply_bytes_buffered.fetch_add(
        c.reply_bytes_buffered.load(std::memory_order_relaxed), std::memory_order_relaxed);
    if (w->ready()) ++t->ready_workers;
  }
  if (t->curr_connections < 0) t->curr_connections = 0;
}

void appendCachedump(std::string_view args, std::string* out) {
  // memcached splits the line on single spaces and skips empty words; it needs two numbers.
  std::string_view words[2];
  size_t n = 0;
  while (n < 2) {
    args = trim(args);
    if (args.empty()) break;
    const size_t end = std::min(args.find(' '), args.size());
    words[n++] = args.substr(0, end);
    args.remove_prefix(end);
  }
  if (n < 2) {
    out->append("CLIENT_ERROR bad command line\r\n");
    return;
  }
  uint32_t slab_class = 0;
  uint32_t limit = 0;
  if (!protocol::internal::parseU32(words[0], &slab_class) ||
      !protocol::internal::parseU32(words[1], &limit)) {
    out->append("CLIENT_ERROR bad command line format\r\n");
    return;
  }
  constexpr uint32_t kSlabClasses = 64;  // memcached's MAX_NUMBER_OF_SLAB_CLASSES
  if (slab_class >= kSlabClasses) {
    out->append("CLIENT_ERROR Illegal slab id\r\n");
    return;
  }
  out->append(protocol::reply::kEnd);
}

void appendStats(Server& server, Worker& /*worker*/, std::string_view args, std::string* out) {
  args = trim(args);
  const std::string_view sub = args.substr(0, args.find(' '));
  if (sub.empty()) return appendGeneral(server, out);
  if (sub == "settings") return appendSettings(server, out);
  if (sub == "reset") {
    server.resetStats();
    out->append(protocol::reply::kReset);
    return;
  }
  if (sub == "cachedump") return appendCachedump(args.substr(sub.size()), out);
  if (sub == "items" || sub == "slabs" || sub == "conns" || sub == "extstore") {
    out->append(protocol::reply::kEnd);
    return;
  }
  if (sub == "sizes") {
    out->append("STAT sizes_status disabled\r\nEND\r\n");
    return;
  }
  if (sub == "detail") {
    const std::string_view arg = trim(args.substr(sub.size()));
    if (arg == "on" || arg == "off") {
      out->append(protocol::reply::kOk);
    } else if (arg == "dump") {
      out->append(protocol::reply::kEnd);
    } else {
      out->append("CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    }
    return;
  }
  out->append(protocol::reply::kError);
}

}  // namespace mcbridge::proxy
