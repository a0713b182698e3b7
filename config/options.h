// mcbridge's configuration: one options table (config/options.cc) read from flags, MCBRIDGE_*
// environment variables (plus REDISHOST/REDISPORT), and an optional config file.
// Precedence: flags > environment > config file > defaults. Start-up only; not thread-aware.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mcbridge::config {

enum class FlushPolicy : uint8_t { kAllow, kDeny };
enum class LogFormat : uint8_t { kText, kJson };
enum class RedisMode : uint8_t { kAuto, kStandalone, kCluster };

struct ListenAddress {
  bool unix_socket = false;
  std::string host = "127.0.0.1";  // or the socket path when unix_socket
  uint16_t port = 11211;
};

struct Options {
  std::vector<ListenAddress> listen{ListenAddress{}};
  std::string redis_url;       // after parseCommandLine: always set (from --redis, or built
                               // from redis_host/redis_port, rediss:// if a TLS option is set)
  std::string redis_host;      // REDISHOST
  uint16_t redis_port = 6379;  // REDISPORT
  std::string redis_password;  // MCBRIDGE_REDIS_PASSWORD; "user:password" for an ACL user
  std::string redis_password_file;
  std::string redis_ca_file;
  std::string redis_tls_server_name;
  bool redis_tls_insecure = false;
  RedisMode redis_mode = RedisMode::kAuto;
  bool read_from_replica = false;
  std::string redis_read_url;  // standalone read replicas (Memorystore's read endpoint)
  uint32_t request_timeout_ms = 1000;
  uint32_t connect_timeout_ms = 1000;
  uint32_t threads = 0;  // 0 = number of cores
  uint32_t item_size_max = 1024 * 1024;
  std::string key_prefix;
  FlushPolicy flush_all = FlushPolicy::kAllow;
  bool miss_on_error = false;
  uint32_t max_connections = 4096;
  uint32_t idle_timeout_s = 0;  // 0 = never
  uint32_t drain_timeout_ms = 5000;
  std::string auth_file;  // memcached -Y file: user:password lines; empty = no client auth
  // Flow control (backend/flow_control.h), in reply bytes.
  uint64_t client_reply_budget = uint64_t{4} << 20;
  uint64_t reply_budget = uint64_t{256} << 20;
  uint64_t redis_reply_budget = uint64_t{2} << 20;
  uint32_t multiget_part_keys = 100;
  uint64_t multiget_part_size = uint64_t{1} << 20;
  std::string admin;  // host:port of the admin HTTP endpoint; empty = off
  std::string log_level = "info";
  LogFormat log_format = LogFormat::kText;
  std::string config_file;
};

// Thrown for any configuration problem; what() is one clear line for the user.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Result of parsing the command line: either options to run with, or an early exit (--help,
// --version) whose text has to be printed and whose exit code returned.
struct ParsedCommandLine {
  Options options;
  bool exit_now = false;
  int exit_code = 0;
  std::string output;  // text for stdout when exit_now (help, version)
};

// Parses argv and the process environment. Throws ConfigError on invalid input.
ParsedCommandLine parseCommandLine(int argc, const char* const* argv);

// Parses "host:port", "[v6]:port" or "unix:/path". Throws ConfigError.
ListenAddress parseListenAddress(const std::string& text);

}  // namespace mcbridge::config
