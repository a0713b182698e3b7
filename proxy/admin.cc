#include "proxy/admin.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "backend/counters.h"
#include "backend/redis_connection.h"
#include "backend/router.h"
#include "config/options.h"
#include "proxy/server.h"
#include "proxy/stats.h"
#include "proxy/worker.h"

namespace mcbridge::proxy {
namespace {

void metric(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP mcbridge_").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE mcbridge_").append(name).append(" ").append(type).append("\n");
}

void sample(std::string* out, std::string_view name, std::string_view labels, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out->append("mcbridge_").append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(buf).append("\n");
}

// Redis Cluster routing (only in cluster mode): redirects, retries, refreshes, per-node state.
void appendClusterMetrics(Server& server, std::string* out) {
  backend::ClusterStats cs;
  for (const auto& w : server.workers()) w->router().collectCluster(&cs);
  if (!cs.cluster) return;
  metric(out, "redis_cluster_redirects_total", "counter",
         "MOVED and ASK replies followed (never shown to clients).");
  sample(out, "redis_cluster_redirects_total", "kind=\"moved\"", static_cast<double>(cs.moved));
  sample(out, "redis_cluster_redirects_total", "kind=\"ask\"", static_cast<double>(cs.ask));
  metric(out, "redis_cluster_retries_total", "counter",
         "TRYAGAIN and CLUSTERDOWN replies retried after a short backoff.");
  sample(out, "redis_cluster_retries_total", "reason=\"tryagain\"",
         static_cast<double>(cs.tryagain));
  sample(out, "redis_cluster_retries_total", "reason=\"clusterdown\"",
         static_cast<double>(cs.clusterdown));
  metric(out, "redis_cluster_refreshes_total", "counter", "Slot maps installed (CLUSTER SLOTS).");
  sample(out, "redis_cluster_refreshes_total", "", static_cast<double>(cs.refreshes));
  metric(out, "redis_cluster_refresh_errors_total", "counter", "CLUSTER SLOTS that failed.");
  sample(out, "redis_cluster_refresh_errors_total", "", static_cast<double>(cs.refresh_errors));
  metric(out, "redis_cluster_slot_map_age_seconds", "gauge",
         "Age of the oldest worker's slot map.");
  sample(out, "redis_cluster_slot_map_age_seconds", "", cs.slot_map_age_s);
  metric(out, "redis_node_up", "gauge", "Fraction of the workers' connections to the node up.");
  metric(out, "redis_node_commands_total", "counter", "Commands written to the node.");
  metric(out, "redis_node_errors_total", "counter", "Error replies and failures from the node.");
  metric(out, "redis_node_latency_seconds_sum", "counter", "Round-trip time to the node, summed.");
  metric(out, "redis_node_latency_seconds_count", "counter", "Round trips to the node.");
  for (const backend::ClusterStats::Node& n : cs.nodes) {
    std::string labels =
        "node=\"" + n.address + "\",role=\"" + (n.primary ? "primary" : "other") + "\"";
    sample(out, "redis_node_up", labels,
           n.links == 0 ? 0.0 : static_cast<double>(n.connected) / static_cast<double>(n.links));
    sample(out, "redis_node_commands_total", labels, static_cast<double>(n.commands));
    sample(out, "redis_node_errors_total", labels, static_cast<double>(n.errors));
    sample(out, "redis_node_latency_seconds_sum", labels,
           static_cast<double>(n.latency_us_sum) / 1e6);
    sample(out, "redis_node_latency_seconds_count", labels, static_cast<double>(n.latency_count));
  }
}

}  // namespace

std::string renderMetrics(Server& server) {
  Totals t;
  collectTotals(server, &t);
  const backend::Counters& total = t.counters;
  std::string out;
  metric(&out, "requests_total", "counter", "Requests received, by command.");
  for (size_t i = 0; i < protocol::kCommandCount; ++i) {
    std::string labels = "command=\"";
    labels.append(protocol::commandName(static_cast<protocol::Command>(i))).append("\"");
    sample(&out, "requests_total", labels, static_cast<double>(total.requests[i].get()));
  }
  metric(&out, "server_errors_total", "counter",
         "Requests answered with SERVER_ERROR because Redis failed, by command.");
  for (size_t i = 0; i < protocol::kCommandCount; ++i) {
    std::string labels = "command=\"";
    labels.append(protocol::commandName(static_cast<protocol::Command>(i))).append("\"");
    sample(&out, "server_errors_total", labels, static_cast<double>(total.server_errors[i].get()));
  }
#define MCBRIDGE_EXPORT_COUNTER(name)                                            \
  metric(&out, #name "_total", "counter", "memcached stats counter " #name "."); \
  sample(&out, #name "_total", "", static_cast<double>(total.name.get()));
  MCBRIDGE_COUNTERS(MCBRIDGE_EXPORT_COUNTER)
#undef MCBRIDGE_EXPORT_COUNTER
  metric(&out, "curr_connections", "gauge", "Open client connections.");
  sample(&out, "curr_connections", "", static_cast<double>(t.curr_connections));
  metric(&out, "backend_up", "gauge",
         "1 when every worker's Redis connection is up and answered its last PING.");
  sample(&out, "backend_up", "", t.ready_workers == server.workers().size() ? 1.0 : 0.0);
  metric(&out, "reply_bytes_expected", "gauge",
         "Reply bytes expected from the commands at Redis (flow control).");
  sample(&out, "reply_bytes_expected", "",
         static_cast<double>(total.reply_bytes_expected.load(std::memory_order_relaxed)));
  metric(&out, "reply_bytes_buffered", "gauge",
         "Reply bytes buffered for clients that have not read them yet (flow control).");
  sample(&out, "reply_bytes_buffered", "",
         static_cast<double>(total.reply_bytes_buffered.load(std::memory_order_relaxed)));
  metric(&out, "flow_holds_total", "counter",
         "Times a client's request or multi-get part waited for a flow-control budget.");
  sample(&out, "flow_holds_total", "", static_cast<double>(total.flow_holds.get()));
  metric(&out, "multiget_parts_total", "counter",
         "Multi-get parts sent to Redis after a multi-get's first one.");
  sample(&out, "multiget_parts_total", "", static_cast<double>(total.multiget_parts.get()));
  metric(&out, "redis_commands_total", "counter", "Commands written to Redis.");
  sample(&out, "redis_commands_total", "", static_cast<double>(t.redis.commands.get()));
  metric(&out, "redis_errors_total", "counter", "Redis error replies and failed commands.");
  sample(&out, "redis_errors_total", "", static_cast<double>(t.redis.errors.get()));
  metric(&out, "redis_reconnects_total", "counter", "Reconnections to Redis.");
  sample(&out, "redis_reconnects_total", "", static_cast<double>(t.redis.reconnects.get()));
  metric(&out, "redis_latency_seconds", "histogram", "Redis round-trip latency.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < backend::kLatencyBucketCount; ++i) {
    cumulative += t.redis.latency_buckets[i].get();
    char le[32];
    if (i < std::size(backend::kLatencyBucketsUs)) {
      std::snprintf(le, sizeof le, "le=\"%g\"", backend::kLatencyBucketsUs[i] / 1e6);
    } else {
      std::snprintf(le, sizeof le, "le=\"+Inf\"");
    }
    sample(&out, "redis_latency_seconds_bucket", le, static_cast<double>(cumulative));
  }
  sample(&out, "redis_latency_seconds_sum", "",
         static_cast<double>(t.redis.latency_us_sum.get()) / 1e6);
  sample(&out, "redis_latency_seconds_count", "", static_cast<double>(t.redis.latency_count.get()));
  appendClusterMetrics(server, &out);
  return out;
}

AdminServer::AdminServer(Server* server) : server_(server) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    throw config::ConfigError("invalid --admin '" + address + "': expected HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    throw config::ConfigError("invalid --admin '" + address + "': bad port");
  }
  Server* server = server_;
  http_ = std::make_unique<HttpServer>([server](std::string_view path) -> HttpResponse {
    if (path == "/healthz") return {200, "text/plain", "ok\n"};
    if (path == "/readyz") {
      for (const auto& w : server->workers()) {
        if (!w->ready()) return {503, "text/plain", "redis not ready\n"};
      }
      return {200, "text/plain", "ready\n"};
    }
    if (path == "/metrics") return {200, "text/plain; version=0.0.4", renderMetrics(*server)};
    return {404, "text/plain", "not found\n"};
  });
  if (std::string error = http_->start(host, port); !error.empty()) {
    http_.reset();
    throw config::ConfigError("cannot listen on --admin " + address + ": " + error);
  }
  spdlog::info("admin endpoint on http://{}/ (metrics, healthz, readyz)", address);
}

void AdminServer::stop() {
  if (http_) http_->stop();
}

}  // namespace mcbridge::proxy
