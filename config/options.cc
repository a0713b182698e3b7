// The options table and its three sources (flags, environment, config file).
//
// Why the precedence is implemented here and not left to CLI11: CLI11 2.1 reads the config file
// before the environment and each of them only fills options that are still empty
// (App::_process: _process_config_file() then _process_env()), so with ->envname() a value in
// the config file would beat the environment variable — the opposite of DESIGN.md. So CLI11
// parses the command line and reads the config file (set_config, TOML or INI), but our Config
// formatter takes the file's items for itself instead of handing them to CLI11, and the layers
// are applied here in order: defaults, config file, environment, flags. Every value, whatever
// its source, goes through the same parse function of its table row, and an error names the
// source: "invalid --threads 'x': ...", "invalid MCBRIDGE_THREADS 'x': ...",
// "invalid threads 'x' in config file /etc/mcbridge.toml: ...".
#include "config/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <istream>
#include <map>
#include <memory>
#include <sstream>
#include <string_view>
#include <utility>

#ifndef MCBRIDGE_VERSION
#define MCBRIDGE_VERSION "unknown"
#endif

namespace mcbridge::config {
namespace {

// Thrown by a row's parse function; the caller adds the source to make the one-line message.
struct BadValue {
  std::string value;
  std::string reason;
};

enum class Kind : uint8_t {
  kValue,  // takes one value; repeated on the command line, the last one wins
  kList,   // repeatable; env var: comma-separated; config file: array or single value
  kFlag,   // boolean; "--flag" or "--flag=false"; env/config: true/false/1/0/yes/no/on/off
};

struct Row {
  const char* name;  // long flag without "--"; also the config file key
  const char* env;
  const char* value_name;
  const char* default_text;  // for --help and the README
  const char* help;
  Kind kind;
  void (*apply)(Options& o, const std::vector<std::string>& values);
};

// ---- value parsers: each throws BadValue with the offending value and a reason ----

uint64_t parseUnsigned(const std::string& s, uint64_t min, uint64_t max, const char* what) {
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec == std::errc::invalid_argument || ptr != end) {
    throw BadValue{s, std::string("expected ") + what};
  }
  if (ec == std::errc::result_out_of_range || v < min || v > max) {
    throw BadValue{s, "must be between " + std::to_string(min) + " and " + std::to_string(max)};
  }
  return v;
}

uint32_t parseU32(const std::string& s, uint32_t min, uint32_t max, const char* what) {
  return static_cast<uint32_t>(parseUnsigned(s, min, max, what));
}

uint16_t parsePort(const std::string& full, const std::string& s) {
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end || v < 1 || v > 65535) {
    throw BadValue{full, "port must be a number between 1 and 65535"};
  }
  return static_cast<uint16_t>(v);
}

bool parseBool(const std::string& s) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off" || l == "-1") return false;
  throw BadValue{s, "expected true or false"};
}

bool hasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
}

// Host part of host:port. Hostnames and IPv4 literals as they are; IPv6 literals in brackets.
ListenAddress parseHostPort(const std::string& text) {
  ListenAddress a;
  if (text.empty()) throw BadValue{text, "expected host:port, [v6]:port or unix:/path"};
  if (hasSpaceOrControl(text)) throw BadValue{text, "contains spaces or control characters"};
  std::string port;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos) throw BadValue{text, "missing ']' after the IPv6 address"};
    a.host = text.substr(1, close - 1);
    if (a.host.empty()) throw BadValue{text, "empty IPv6 address"};
    if (a.host.find_first_not_of("0123456789abcdefABCDEF:.%") != std::string::npos ||
        a.host.find(':') == std::string::npos) {
      throw BadValue{text, "not an IPv6 address inside [...]"};
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      throw BadValue{text, "expected [v6]:port"};
    }
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) throw BadValue{text, "missing :port (expected host:port)"};
    a.host = text.substr(0, colon);
    if (a.host.empty()) throw BadValue{text, "missing host (expected host:port)"};
    if (a.host.find(':') != std::string::npos) {
      throw BadValue{text, "IPv6 addresses need brackets, e.g. [::1]:11211"};
    }
    port = text.substr(colon + 1);
  }
  a.port = parsePort(text, port);
  return a;
}

ListenAddress parseListenImpl(const std::string& text) {
  constexpr std::string_view kUnix = "unix:";
  if (text.compare(0, kUnix.size(), kUnix) == 0) {
    ListenAddress a;
    a.unix_socket = true;
    a.host = text.substr(kUnix.size());
    a.port = 0;
    if (a.host.empty()) throw BadValue{text, "missing socket path after unix:"};
    // sockaddr_un::sun_path is 108 bytes on Linux, NUL included.
    if (a.host.size() > 107) throw BadValue{text, "socket path longer than 107 bytes"};
    if (a.host.find('\0') != std::string::npos) throw BadValue{text, "NUL in socket path"};
    return a;
  }
  return parseHostPort(text);
}

// memcached -I: a byte count with an optional k or m suffix (1m, 512k, 1048576).
uint32_t parseItemSize(const std::string& s) {
  constexpr uint64_t kMin = 1024;
  constexpr uint64_t kMax = 128ull * 1024 * 1024;
  if (s.empty()) throw BadValue{s, "expected a size such as 1m, 512k or 1048576"};
  uint64_t mult = 1;
  std::string digits = s;
  const char last = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
  if (last == 'k' || last == 'm') {
    mult = last == 'k' ? 1024 : 1024 * 1024;
    digits.pop_back();
  }
  uint64_t v = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, v);
  if (digits.empty() || ec == std::errc::invalid_argument || ptr != end) {
    throw BadValue{s, "expected a size such as 1m, 512k or 1048576"};
  }
  if (ec == std::errc::result_out_of_range || v > kMax || v * mult < kMin || v * mult > kMax) {
    throw BadValue{s, "must be between 1k (1024) and 128m (134217728)"};
  }
  return static_cast<uint32_t>(v * mult);
}

// A byte count: bytes, or with a k/m/g suffix (powers of 1024).
uint64_t parseBytes(const std::string& s, uint64_t min, uint64_t max) {
  const std::string expected = "expected a size such as 4m, 512k or 1048576";
  if (s.empty()) throw BadValue{s, expected};
  uint64_t mult = 1;
  std::string digits = s;
  const char last = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
  if (last == 'k' || last == 'm' || last == 'g') {
    mult = last == 'k' ? 1024 : last == 'm' ? 1024 * 1024 : 1024 * 1024 * 1024;
    digits.pop_back();
  }
  uint64_t v = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, v);
  if (digits.empty() || ec == std::errc::invalid_argument || ptr != end)
    throw BadValue{s, expected};
  if (ec == std::errc::result_out_of_range || v > max / mult || v * mult < min) {
    throw BadValue{
        s, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes"};
  }
  return v * mult;
}

// redis://[[user]:password@]host[:port][/db] or rediss://... Only the shape is checked here
// (config/ sits below backend/ and cannot use its parser); the backend parses it for real.
void checkRedisUrlShape(const std::string& url) {
  std::string_view rest = url;
  if (rest.starts_with("rediss://")) {
    rest.remove_prefix(9);
  } else if (rest.starts_with("redis://")) {
    rest.remove_prefix(8);
  } else {
    throw BadValue{url, "expected redis://[:password@]host[:port][/db] or rediss://..."};
  }
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  std::string_view db;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (rest.empty()) throw BadValue{url, "missing host"};
  if (hasSpaceOrControl(rest)) throw BadValue{url, "host contains spaces or control characters"};
  std::string host_port(rest);
  if (host_port.front() == '[' ? host_port.find("]:") != std::string::npos
                               : host_port.find(':') != std::string::npos) {
    parseHostPort(host_port);  // validates the port (and the brackets)
  } else if (host_port.front() == '[' && host_port.back() != ']') {
    throw BadValue{url, "missing ']' after the IPv6 address"};
  }
  if (!db.empty() && (db.find_first_not_of("0123456789") != std::string::npos || db.size() > 5)) {
    throw BadValue{url, "database must be a number"};
  }
}

// The URL as shown in error messages: a password in it is masked, since errors end up in logs.
std::string maskedUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

void checkRedisUrl(const std::string& url) {
  try {
    checkRedisUrlShape(url);
  } catch (const BadValue& bad) {
    throw BadValue{maskedUrl(url), bad.reason};
  }
}

void checkReadableFile(const std::string& path) {
  if (path.empty()) return;  // empty = not set
  if (::access(path.c_str(), R_OK) != 0) throw BadValue{path, "file not found or not readable"};
}

const std::string& single(const std::vector<std::string>& v) { return v.back(); }

// ---- the options table ----

const Row kRows[] = {
    {"listen", "MCBRIDGE_LISTEN", "ADDR", "127.0.0.1:11211",
     "Address to serve memcache clients on: host:port, [v6]:port or unix:/path. Repeatable; "
     "the environment variable takes a comma-separated list. In a container use 0.0.0.0:11211.",
     Kind::kList,
     [](Options& o, const std::vector<std::string>& v) {
       o.listen.clear();
       for (const auto& item : v) o.listen.push_back(parseListenImpl(item));
     }},
    {"redis", "MCBRIDGE_REDIS_URL", "URL", "redis://127.0.0.1:6379",
     "Redis to store items in: redis://[[user]:password@]host[:port][/db], rediss:// for TLS. "
     "When not given, REDISHOST/REDISPORT are used.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       checkRedisUrl(single(v));
       o.redis_url = single(v);
     }},
    {"redis-host", "REDISHOST", "HOST", "127.0.0.1",
     "Redis host when --redis is not given (REDISHOST is the name Memorystore's guides use).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       const std::string& h = single(v);
       if (h.empty() || hasSpaceOrControl(h)) throw BadValue{h, "expected a host name or address"};
       o.redis_host = (h.size() > 2 && h.front() == '[' && h.back() == ']')
                          ? h.substr(1, h.size() - 2)
                          : h;
     }},
    {"redis-port", "REDISPORT", "PORT", "6379", "Redis port when --redis is not given.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.redis_port = parsePort(single(v), single(v));
     }},
    {"redis-password-file", "MCBRIDGE_REDIS_PASSWORD_FILE", "FILE", "",
     "File holding the Redis AUTH password, e.g. Memorystore's AUTH string (a trailing newline "
     "is ignored; user:password selects an ACL user). Overrides a password in the URL. Read "
     "again on every reconnect, so a refreshed IAM access token is picked up.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       checkReadableFile(single(v));
       o.redis_password_file = single(v);
     }},
    {"redis-password", "MCBRIDGE_REDIS_PASSWORD", "SECRET", "",
     "Redis AUTH password (user:password selects an ACL user). Prefer the environment "
     "variable or --redis-password-file: a flag shows in process listings. Overrides a "
     "password in the URL; --redis-password-file overrides it.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) { o.redis_password = single(v); }},
    {"redis-ca-file", "MCBRIDGE_REDIS_CA_FILE", "FILE", "",
     "PEM CA certificate(s) to verify the Redis TLS server (Memorystore's server CA). "
     "Turns TLS on when the address comes from REDISHOST/--redis-host.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       checkReadableFile(single(v));
       o.redis_ca_file = single(v);
     }},
    {"redis-tls-server-name", "MCBRIDGE_REDIS_TLS_SERVER_NAME", "NAME", "the Redis host",
     "Name sent as SNI and checked against the Redis server certificate.", Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       if (hasSpaceOrControl(single(v))) {
         throw BadValue{single(v), "contains spaces or control characters"};
       }
       o.redis_tls_server_name = single(v);
     }},
    {"redis-tls-insecure", "MCBRIDGE_REDIS_TLS_INSECURE", "", "false",
     "Do not verify the Redis TLS certificate (testing only).", Kind::kFlag,
     [](Options& o, const std::vector<std::string>& v) {
       o.redis_tls_insecure = parseBool(single(v));
     }},
    {"redis-mode", "MCBRIDGE_REDIS_MODE", "auto|standalone|cluster", "auto",
     "Whether --redis names one Redis or a node of a Redis Cluster (Memorystore for Redis "
     "Cluster / Valkey: its discovery endpoint). auto asks the node (CLUSTER SLOTS).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       if (single(v) == "auto") {
         o.redis_mode = RedisMode::kAuto;
       } else if (single(v) == "standalone") {
         o.redis_mode = RedisMode::kStandalone;
       } else if (single(v) == "cluster") {
         o.redis_mode = RedisMode::kCluster;
       } else {
         throw BadValue{single(v), "expected auto, standalone or cluster"};
       }
     }},
    {"read-from", "MCBRIDGE_READ_FROM", "primary|replica", "primary",
     "Where get/gets go: replica sends them to a replica of the key's shard (cluster) or to "
     "--redis-read-url (standalone), falling back to the primary. A read right after a write "
     "may then see the old value for the replication lag.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       if (single(v) == "primary") {
         o.read_from_replica = false;
       } else if (single(v) == "replica") {
         o.read_from_replica = true;
       } else {
         throw BadValue{single(v), "expected primary or replica"};
       }
     }},
    {"redis-read-url", "MCBRIDGE_REDIS_READ_URL", "URL", "",
     "A standalone Redis's read replica endpoint (Memorystore's read endpoint) that serves "
     "get/gets under --read-from replica; same credentials and TLS settings as --redis.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       checkRedisUrl(single(v));
       o.redis_read_url = single(v);
     }},
    {"request-timeout", "MCBRIDGE_REQUEST_TIMEOUT", "MS", "1000",
     "Milliseconds to wait for Redis before answering SERVER_ERROR (or a miss with "
     "--miss-on-error).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.request_timeout_ms = parseU32(single(v), 1, 600000, "milliseconds");
     }},
    {"connect-timeout", "MCBRIDGE_CONNECT_TIMEOUT", "MS", "1000",
     "Milliseconds allowed for connecting (TCP, TLS, AUTH) to Redis.", Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.connect_timeout_ms = parseU32(single(v), 1, 600000, "milliseconds");
     }},
    {"threads", "MCBRIDGE_THREADS", "N", "0",
     "Worker threads; 0 = one per CPU the process may use (affinity, capped by a cgroup CPU "
     "limit).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.threads = parseU32(single(v), 0, 256, "a number of threads");
     }},
    {"item-size-max", "MCBRIDGE_ITEM_SIZE_MAX", "SIZE", "1m",
     "Largest item accepted, as memcached -I: 1m, 512k or bytes (1k to 128m).", Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.item_size_max = parseItemSize(single(v));
     }},
    {"key-prefix", "MCBRIDGE_KEY_PREFIX", "PREFIX", "",
     "Namespace prepended to every Redis key (e.g. 'app1:'); flush_all then deletes only "
     "these keys.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       const std::string& p = single(v);
       if (hasSpaceOrControl(p)) throw BadValue{p, "contains spaces or control characters"};
       if (p.size() > 128) throw BadValue{p, "longer than 128 bytes"};
       o.key_prefix = p;
     }},
    {"flush-all", "MCBRIDGE_FLUSH_ALL", "allow|deny", "allow",
     "Whether flush_all is executed (FLUSHDB, or only the prefix's keys with --key-prefix).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       if (single(v) == "allow") {
         o.flush_all = FlushPolicy::kAllow;
       } else if (single(v) == "deny") {
         o.flush_all = FlushPolicy::kDeny;
       } else {
         throw BadValue{single(v), "expected allow or deny"};
       }
     }},
    {"miss-on-error", "MCBRIDGE_MISS_ON_ERROR", "", "false",
     "Answer failed reads as misses instead of SERVER_ERROR (App Engine Memcache behaviour).",
     Kind::kFlag,
     [](Options& o, const std::vector<std::string>& v) {
       o.miss_on_error = parseBool(single(v));
     }},
    {"max-connections", "MCBRIDGE_MAX_CONNECTIONS", "N", "4096",
     "Most client connections open at once; further ones are closed on accept.", Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.max_connections = parseU32(single(v), 1, 1000000, "a number of connections");
     }},
    {"idle-timeout", "MCBRIDGE_IDLE_TIMEOUT", "SECONDS", "0",
     "Close client connections idle this many seconds; 0 = never.", Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.idle_timeout_s = parseU32(single(v), 0, 2592000, "seconds");
     }},
    {"drain-timeout", "MCBRIDGE_DRAIN_TIMEOUT", "MS", "5000",
     "On SIGTERM/SIGINT, milliseconds to let in-flight requests finish before exiting.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.drain_timeout_ms = parseU32(single(v), 0, 600000, "milliseconds");
     }},
    {"auth-file", "MCBRIDGE_AUTH_FILE", "FILE", "",
     "Require clients to authenticate, as memcached -Y: the file holds one user:password per "
     "line; text clients use memcached's ASCII auth, binary clients SASL PLAIN. Re-read on "
     "SIGHUP.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       checkReadableFile(single(v));
       o.auth_file = single(v);
     }},
    {"client-reply-budget", "MCBRIDGE_CLIENT_REPLY_BUDGET", "SIZE", "4m",
     "Reply bytes one client connection may have pending (buffered for it, or expected from "
     "Redis) before its next request or multi-get part waits for it to read (64k to 1g).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.client_reply_budget = parseBytes(single(v), 64 * 1024, uint64_t{1} << 30);
     }},
    {"reply-budget", "MCBRIDGE_REPLY_BUDGET", "SIZE", "256m",
     "The same, summed over all clients of the process; past it, each client has one request "
     "at a time (1m to 64g).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.reply_budget = parseBytes(single(v), uint64_t{1} << 20, uint64_t{64} << 30);
     }},
    {"redis-reply-budget", "MCBRIDGE_REDIS_REPLY_BUDGET", "SIZE", "2m",
     "Reply bytes of large reads (64 KB or more expected) a worker may have outstanding at "
     "Redis: bounds Redis's output buffer for mcbridge and what a small request may wait "
     "behind (64k to 1g).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.redis_reply_budget = parseBytes(single(v), 64 * 1024, uint64_t{1} << 30);
     }},
    {"multiget-part-keys", "MCBRIDGE_MULTIGET_PART_KEYS", "N", "100",
     "Most keys per MGET a multi-get is sent to Redis in; larger ones go in parts.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.multiget_part_keys = parseU32(single(v), 1, 100000, "a number of keys");
     }},
    {"multiget-part-size", "MCBRIDGE_MULTIGET_PART_SIZE", "SIZE", "1m",
     "Reply bytes a multi-get part is expected to bring (from the value sizes seen lately); "
     "the next part leaves when the client has read (4k to 1g).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       o.multiget_part_size = parseBytes(single(v), 4096, uint64_t{1} << 30);
     }},
    {"admin", "MCBRIDGE_ADMIN", "ADDR", "off",
     "host:port of the admin HTTP endpoint (health, Prometheus metrics); empty = off.",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       if (single(v).empty()) {
         o.admin.clear();
         return;
       }
       parseHostPort(single(v));
       o.admin = single(v);
     }},
    {"log-level", "MCBRIDGE_LOG_LEVEL", "LEVEL", "info",
     "trace, debug, info, warn, error or off (trace/debug are compiled out of release builds).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
       if (std::find(std::begin(kLevels), std::end(kLevels), single(v)) == std::end(kLevels)) {
         throw BadValue{single(v), "expected trace, debug, info, warn, error or off"};
       }
       o.log_level = single(v);
     }},
    {"log-format", "MCBRIDGE_LOG_FORMAT", "text|json", "text",
     "Log line format on stderr: text, or json (one object per line, for Cloud Logging).",
     Kind::kValue,
     [](Options& o, const std::vector<std::string>& v) {
       if (single(v) == "text") {
         o.log_format = LogFormat::kText;
       } else if (single(v) == "json") {
         o.log_format = LogFormat::kJson;
       } else {
         throw BadValue{single(v), "expected text or json"};
       }
     }},
};

constexpr const char* kConfigEnv = "MCBRIDGE_CONFIG";

const Row* findRow(std::string name) {
  // Config files may spell keys with underscores (redis_url style) or dashes.
  std::replace(name.begin(), name.end(), '_', '-');
  for (const Row& r : kRows) {
    if (name == r.name) return &r;
  }
  return nullptr;
}

const char* getEnv(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;  // empty = unset, as CLI11 does
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    const size_t b = item.find_first_not_of(" \t");
    const size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

// Reads the config file through CLI11's TOML/INI reader but keeps the items for itself, so that
// they can be applied below the environment (see the comment at the top of this file).
class CollectingConfig : public CLI::ConfigTOML {
 public:
  explicit CollectingConfig(std::map<const Row*, std::vector<std::string>>* collected,
                            std::string* file_name)
      : items_(collected), file_name_(file_name) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    for (const CLI::ConfigItem& item : CLI::ConfigTOML::from_config(input)) {
      if (item.name == "++" || item.name == "--") continue;  // section open/close markers
      // Keys may sit at the top level or in a [mcbridge] section.
      if (!item.parents.empty() && !(item.parents.size() == 1 && item.parents[0] == "mcbridge")) {
        throw ConfigError("unknown section or key '" + item.fullname() + "' in config file " +
                          *file_name_);
      }
      const Row* row = findRow(item.name);
      if (row == nullptr) {
        throw ConfigError("unknown option '" + item.name + "' in config file " + *file_name_ +
                          " (see --help)");
      }
      std::vector<std::string> inputs = item.inputs;
      if (inputs.empty()) inputs.emplace_back(row->kind == Kind::kFlag ? "true" : "");
      if (row->kind != Kind::kList && inputs.size() > 1) {
        throw ConfigError("invalid " + item.name + " in config file " + *file_name_ +
                          ": takes one value, not a list");
      }
      (*items_)[row] = std::move(inputs);
    }
    return {};  // nothing for CLI11 to apply itself
  }

 private:
  std::map<const Row*, std::vector<std::string>>* items_;
  std::string* file_name_;
};

void applyLayer(Options& o, const Row& row, const std::vector<std::string>& values,
                const std::string& source_prefix, const std::string& source_suffix) {
  try {
    row.apply(o, values);
  } catch (const BadValue& bad) {
    throw ConfigError("invalid " + source_prefix + " '" + bad.value + "'" + source_suffix + ": " +
                      bad.reason);
  }
}

std::string describe(const Row& row) {
  std::string text = row.help;
  text += " [env: ";
  text += row.env;
  text += "]";
  if (*row.default_text != '\0') {
    text += " [default: ";
    text += row.default_text;
    text += "]";
  }
  return text;
}

// The effective Redis address always ends up in redis_url, so the rest of the program reads one
// field (redis_host/redis_port are only the inputs used when no URL is given).
void finishRedis(Options& o) {
  const bool tls_hint =
      !o.redis_ca_file.empty() || o.redis_tls_insecure || !o.redis_tls_server_name.empty();
  if (o.redis_url.empty()) {
    if (o.redis_host.empty()) o.redis_host = "127.0.0.1";
    const bool v6 = o.redis_host.find(':') != std::string::npos;
    o.redis_url = std::string(tls_hint ? "rediss://" : "redis://") +
                  (v6 ? "[" + o.redis_host + "]" : o.redis_host) + ":" +
                  std::to_string(o.redis_port);
    return;
  }
  if (tls_hint && !o.redis_url.starts_with("rediss://")) {
    throw ConfigError(
        "--redis-ca-file, --redis-tls-server-name and --redis-tls-insecure need a rediss:// URL "
        "(got " +
        o.redis_url.substr(0, o.redis_url.find("://") + 3) + "...)");
  }
}

}  // namespace

ListenAddress parseListenAddress(const std::string& text) {
  try {
    return parseListenImpl(text);
  } catch (const BadValue& bad) {
    throw ConfigError("invalid --listen '" + bad.value + "': " + bad.reason);
  }
}

ParsedCommandLine parseCommandLine(int argc, const char* const* argv) {
  ParsedCommandLine result;
  Options& o = result.options;

  CLI::App app{
      "mcbridge: a memcached-protocol server that stores items in Redis "
      "(Google Cloud Memorystore).\nPrecedence: flags > environment > config file > "
      "defaults.",
      "mcbridge"};
  app.set_help_flag("-h,--help", "Print this help and exit.");
  app.add_flag("--version")->description("Print the version and exit.");
  app.get_formatter()->column_width(36);

  std::map<const Row*, CLI::Option*> cli_options;
  for (const Row& row : kRows) {
    const std::string flag = std::string("--") + row.name;
    CLI::Option* opt = nullptr;
    if (row.kind == Kind::kFlag) {
      opt = app.add_flag(flag)->description(describe(row));
    } else {
      opt = app.add_option(flag)->description(describe(row))->type_name(row.value_name);
      opt->allow_extra_args(false);
      opt->multi_option_policy(row.kind == Kind::kList ? CLI::MultiOptionPolicy::TakeAll
                                                       : CLI::MultiOptionPolicy::TakeLast);
    }
    cli_options[&row] = opt;
  }

  std::map<const Row*, std::vector<std::string>> file_items;
  std::string file_name;
  const char* config_env = getEnv(kConfigEnv);
  CLI::Option* config_opt = app.set_config(
      "--config", config_env != nullptr ? config_env : "",
      "TOML or INI file with options as key = value (keys are the long flag names; lists as "
      "[\"a\", \"b\"]). [env: MCBRIDGE_CONFIG]",
      false);
  config_opt->type_name("FILE");
  app.config_formatter(std::make_shared<CollectingConfig>(&file_items, &file_name));

  // --help and --version answer before anything else is checked (a broken config file or
  // environment must not hide them).
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--version") {
      result.exit_now = true;
      result.output = std::string("mcbridge ") + MCBRIDGE_VERSION + "\n";
      return result;
    }
    if (arg == "--help" || arg == "-h") {
      result.exit_now = true;
      result.output = app.help();
      return result;
    }
  }

  try {
    // CLI11 reads the file inside parse(); the name is taken from argv first so that errors
    // about the file's contents can name it.
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--config" && i + 1 < argc) file_name = argv[i + 1];
      if (a.starts_with("--config=")) file_name = a.substr(9);
      args.push_back(a);
    }
    std::reverse(args.begin(), args.end());  // CLI11's parse(vector) takes argv reversed
    if (file_name.empty() && config_env != nullptr) {
      file_name = config_env;
      if (::access(config_env, R_OK) != 0) {
        throw ConfigError("invalid MCBRIDGE_CONFIG '" + file_name +
                          "': file not found or not readable");
      }
    }
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    result.exit_now = true;
    result.output = app.help();
    return result;
  } catch (const CLI::FileError&) {
    throw ConfigError("invalid --config '" + file_name + "': file not found or not readable");
  } catch (const CLI::ExtrasError& e) {
    throw ConfigError(std::string(e.what()) + " (see --help)");
  } catch (const CLI::ParseError& e) {
    throw ConfigError(std::string(e.what()) + " (see --help)");
  }
  if (config_opt->count() > 0 || config_env != nullptr) o.config_file = file_name;

  for (const Row& row : kRows) {
    // Only the winning layer is applied (and validated): a flag hides a bad variable for the
    // same option, as one would expect from "flags override the environment".
    CLI::Option* opt = cli_options[&row];
    if (opt->count() > 0) {
      std::vector<std::string> values = opt->results();
      if (row.kind == Kind::kFlag && values.empty()) values.emplace_back("true");
      applyLayer(o, row, values, std::string("--") + row.name, "");
    } else if (const char* env = getEnv(row.env)) {
      std::vector<std::string> values =
          row.kind == Kind::kList ? splitList(env) : std::vector<std::string>{env};
      if (values.empty()) values.emplace_back("");
      applyLayer(o, row, values, row.env, "");
    } else if (auto it = file_items.find(&row); it != file_items.end()) {
      applyLayer(o, row, it->second, row.name, " in config file " + file_name);
    }
  }
  finishRedis(o);
  return result;
}

}  // namespace mcbridge::config
