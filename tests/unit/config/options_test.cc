// config/options: precedence of flags > environment > config file > defaults, every validation
// error, listen address forms, REDISHOST/REDISPORT.
#include "config/options.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using mcbridge::config::ConfigError;
using mcbridge::config::FlushPolicy;
using mcbridge::config::ListenAddress;
using mcbridge::config::LogFormat;
using mcbridge::config::Options;
using mcbridge::config::parseCommandLine;
using mcbridge::config::ParsedCommandLine;
using mcbridge::config::parseListenAddress;

const char* const kEnvVars[] = {
    "MCBRIDGE_LISTEN",
    "MCBRIDGE_REDIS_URL",
    "REDISHOST",
    "REDISPORT",
    "MCBRIDGE_REDIS_PASSWORD_FILE",
    "MCBRIDGE_REDIS_CA_FILE",
    "MCBRIDGE_REDIS_TLS_SERVER_NAME",
    "MCBRIDGE_REDIS_TLS_INSECURE",
    "MCBRIDGE_REQUEST_TIMEOUT",
    "MCBRIDGE_CONNECT_TIMEOUT",
    "MCBRIDGE_THREADS",
    "MCBRIDGE_ITEM_SIZE_MAX",
    "MCBRIDGE_KEY_PREFIX",
    "MCBRIDGE_FLUSH_ALL",
    "MCBRIDGE_MISS_ON_ERROR",
    "MCBRIDGE_MAX_CONNECTIONS",
    "MCBRIDGE_IDLE_TIMEOUT",
    "MCBRIDGE_DRAIN_TIMEOUT",
    "MCBRIDGE_ADMIN",
    "MCBRIDGE_AUTH_FILE",
    "MCBRIDGE_LOG_LEVEL",
    "MCBRIDGE_LOG_FORMAT",
    "MCBRIDGE_CONFIG",
};

// Clears every variable the options read for the test's lifetime, then restores them, so the
// tests neither see the caller's environment nor leak into each other.
class CleanEnv {
 public:
  CleanEnv() {
    for (const char* name : kEnvVars) {
      if (const char* v = std::getenv(name)) saved_[name] = v;
      ::unsetenv(name);
    }
  }
  ~CleanEnv() {
    for (const char* name : kEnvVars) ::unsetenv(name);
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
  }
  CleanEnv(const CleanEnv&) = delete;
  CleanEnv& operator=(const CleanEnv&) = delete;
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

 private:
  std::map<std::string, std::string> saved_;
};

// A file in the temp dir, removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& suffix, const std::string& content) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                       "/mcbridge-options-XXXXXX" + suffix;
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const int fd = ::mkstemps(buf.data(), static_cast<int>(suffix.size()));
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = buf.data();
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ParsedCommandLine parse(std::initializer_list<std::string> args) {
  std::vector<std::string> storage{"mcbridge"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& s : storage) argv.push_back(s.c_str());
  return parseCommandLine(static_cast<int>(argv.size()), argv.data());
}

Options options(std::initializer_list<std::string> args) {
  ParsedCommandLine r = parse(args);
  REQUIRE_FALSE(r.exit_now);
  return r.options;
}

// The ConfigError message for these arguments, or "" when parsing succeeded.
std::string errorOf(std::initializer_list<std::string> args) {
  try {
    parse(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("defaults", "[config]") {
  CleanEnv env;
  const Options o = options({});
  REQUIRE(o.listen.size() == 1);
  CHECK_FALSE(o.listen[0].unix_socket);
  CHECK(o.listen[0].host == "127.0.0.1");
  CHECK(o.listen[0].port == 11211);
  CHECK(o.redis_url == "redis://127.0.0.1:6379");
  CHECK(o.redis_host == "127.0.0.1");
  CHECK(o.redis_port == 6379);
  CHECK(o.request_timeout_ms == 1000);
  CHECK(o.connect_timeout_ms == 1000);
  CHECK(o.threads == 0);
  CHECK(o.item_size_max == 1024 * 1024);
  CHECK(o.key_prefix.empty());
  CHECK(o.flush_all == FlushPolicy::kAllow);
  CHECK_FALSE(o.miss_on_error);
  CHECK_FALSE(o.redis_tls_insecure);
  CHECK(o.max_connections == 4096);
  CHECK(o.idle_timeout_s == 0);
  CHECK(o.drain_timeout_ms == 5000);
  CHECK(o.admin.empty());
  CHECK(o.log_level == "info");
  CHECK(o.log_format == LogFormat::kText);
  CHECK(o.config_file.empty());
}

TEST_CASE("every option from flags", "[config]") {
  CleanEnv env;
  TempFile secret(".txt", "hunter2\n");
  TempFile ca(".pem", "-----BEGIN CERTIFICATE-----\n");
  const Options o = options({"--listen",
                             "0.0.0.0:11311",
                             "--listen",
                             "unix:/run/mc.sock",
                             "--redis",
                             "rediss://:pw@10.1.2.3:6378/2",
                             "--redis-password-file",
                             secret.path(),
                             "--redis-ca-file",
                             ca.path(),
                             "--redis-tls-server-name",
                             "redis.internal",
                             "--redis-tls-insecure",
                             "--request-timeout",
                             "250",
                             "--connect-timeout",
                             "3000",
                             "--threads",
                             "4",
                             "--item-size-max",
                             "2m",
                             "--key-prefix",
                             "app1:",
                             "--flush-all",
                             "deny",
                             "--miss-on-error",
                             "--max-connections",
                             "100",
                             "--idle-timeout",
                             "60",
                             "--drain-timeout",
                             "0",
                             "--admin",
                             "127.0.0.1:9100",
                             "--log-level",
                             "debug",
                             "--log-format",
                             "json"});
  REQUIRE(o.listen.size() == 2);
  CHECK(o.listen[0].host == "0.0.0.0");
  CHECK(o.listen[0].port == 11311);
  CHECK(o.listen[1].unix_socket);
  CHECK(o.listen[1].host == "/run/mc.sock");
  CHECK(o.redis_url == "rediss://:pw@10.1.2.3:6378/2");
  CHECK(o.redis_password_file == secret.path());
  CHECK(o.redis_ca_file == ca.path());
  CHECK(o.redis_tls_server_name == "redis.internal");
  CHECK(o.redis_tls_insecure);
  CHECK(o.request_timeout_ms == 250);
  CHECK(o.connect_timeout_ms == 3000);
  CHECK(o.threads == 4);
  CHECK(o.item_size_max == 2 * 1024 * 1024);
  CHECK(o.key_prefix == "app1:");
  CHECK(o.flush_all == FlushPolicy::kDeny);
  CHECK(o.miss_on_error);
  CHECK(o.max_connections == 100);
  CHECK(o.idle_timeout_s == 60);
  CHECK(o.drain_timeout_ms == 0);
  CHECK(o.admin == "127.0.0.1:9100");
  CHECK(o.log_level == "debug");
  CHECK(o.log_format == LogFormat::kJson);
}

TEST_CASE("flags: --name=value, repeated single values, explicit false", "[config]") {
  CleanEnv env;
  CHECK(options({"--threads=3"}).threads == 3);
  CHECK(options({"--threads", "3", "--threads", "5"}).threads == 5);
  CHECK_FALSE(options({"--miss-on-error=false"}).miss_on_error);
  CHECK(options({"--miss-on-error=true"}).miss_on_error);
}

TEST_CASE("precedence: flags > environment > config file > defaults", "[config]") {
  CleanEnv env;
  TempFile file(".toml",
                "threads = 2\n"
                "request-timeout = 200\n"
                "key_prefix = \"file:\"\n"
                "log-level = \"warn\"\n"
                "listen = [\"127.0.0.1:1001\", \"unix:/tmp/file.sock\"]\n");
  env.set("MCBRIDGE_THREADS", "3");
  env.set("MCBRIDGE_REQUEST_TIMEOUT", "300");
  env.set("MCBRIDGE_LISTEN", "127.0.0.1:2002");

  const Options o = options({"--config", file.path(), "--threads", "4"});
  CHECK(o.config_file == file.path());
  CHECK(o.threads == 4);                // flag beats env and file
  CHECK(o.request_timeout_ms == 300);   // env beats file
  CHECK(o.key_prefix == "file:");       // file beats default (key spelled with '_')
  CHECK(o.log_level == "warn");         // file beats default
  CHECK(o.connect_timeout_ms == 1000);  // default
  REQUIRE(o.listen.size() == 1);        // env list replaces the file's list
  CHECK(o.listen[0].port == 2002);

  // A flag list replaces the lower layers' lists; it does not add to them.
  const Options f = options({"--config", file.path(), "--listen", "127.0.0.1:3003"});
  REQUIRE(f.listen.size() == 1);
  CHECK(f.listen[0].port == 3003);

  // The file's list when nothing above it sets one.
  ::unsetenv("MCBRIDGE_LISTEN");
  const Options g = options({"--config", file.path()});
  REQUIRE(g.listen.size() == 2);
  CHECK(g.listen[0].port == 1001);
  CHECK(g.listen[1].unix_socket);
}

TEST_CASE("config file: MCBRIDGE_CONFIG, INI form, [mcbridge] section, flags", "[config]") {
  CleanEnv env;
  TempFile ini(".ini",
               "; comment\n"
               "[mcbridge]\n"
               "threads = 7\n"
               "miss-on-error = true\n"
               "flush_all = deny\n");
  env.set("MCBRIDGE_CONFIG", ini.path());
  const Options o = options({});
  CHECK(o.config_file == ini.path());
  CHECK(o.threads == 7);
  CHECK(o.miss_on_error);
  CHECK(o.flush_all == FlushPolicy::kDeny);

  // --config on the command line beats MCBRIDGE_CONFIG.
  TempFile toml(".toml", "threads = 9\n");
  const Options p = options({"--config", toml.path()});
  CHECK(p.config_file == toml.path());
  CHECK(p.threads == 9);
  CHECK_FALSE(p.miss_on_error);
}

TEST_CASE("config file errors", "[config]") {
  CleanEnv env;
  TempFile unknown(".toml", "treads = 2\n");
  CHECK(errorOf({"--config", unknown.path()}) ==
        "unknown option 'treads' in config file " + unknown.path() + " (see --help)");
  TempFile bad(".toml", "threads = \"many\"\n");
  CHECK(errorOf({"--config", bad.path()}) ==
        "invalid threads 'many' in config file " + bad.path() + ": expected a number of threads");
  TempFile list(".toml", "threads = [1, 2]\n");
  CHECK(errorOf({"--config", list.path()}).find("takes one value, not a list") !=
        std::string::npos);
  TempFile section(".toml", "[other]\nthreads = 2\n");
  CHECK(errorOf({"--config", section.path()}).find("unknown section or key 'other.threads'") !=
        std::string::npos);
  CHECK(errorOf({"--config", "/nonexistent/mcbridge.toml"}) ==
        "invalid --config '/nonexistent/mcbridge.toml': file not found or not readable");
  env.set("MCBRIDGE_CONFIG", "/nonexistent/env.toml");
  CHECK(errorOf({}) ==
        "invalid MCBRIDGE_CONFIG '/nonexistent/env.toml': file not found or not readable");
}

TEST_CASE("listen address forms", "[config]") {
  const ListenAddress v4 = parseListenAddress("127.0.0.1:11211");
  CHECK_FALSE(v4.unix_socket);
  CHECK(v4.host == "127.0.0.1");
  CHECK(v4.port == 11211);

  const ListenAddress name = parseListenAddress("localhost:1");
  CHECK(name.host == "localhost");
  CHECK(name.port == 1);

  const ListenAddress v6 = parseListenAddress("[::1]:65535");
  CHECK_FALSE(v6.unix_socket);
  CHECK(v6.host == "::1");
  CHECK(v6.port == 65535);

  const ListenAddress any6 = parseListenAddress("[::]:11211");
  CHECK(any6.host == "::");

  const ListenAddress sock = parseListenAddress("unix:/tmp/mcbridge.sock");
  CHECK(sock.unix_socket);
  CHECK(sock.host == "/tmp/mcbridge.sock");

  struct Bad {
    const char* text;
    const char* reason;
  };
  const Bad bad[] = {
      {"", "expected host:port, [v6]:port or unix:/path"},
      {"127.0.0.1", "missing :port (expected host:port)"},
      {":11211", "missing host (expected host:port)"},
      {"127.0.0.1:", "port must be a number between 1 and 65535"},
      {"127.0.0.1:0", "port must be a number between 1 and 65535"},
      {"127.0.0.1:65536", "port must be a number between 1 and 65535"},
      {"127.0.0.1:11x", "port must be a number between 1 and 65535"},
      {"127.0.0.1:-1", "port must be a number between 1 and 65535"},
      {"::1:11211", "IPv6 addresses need brackets, e.g. [::1]:11211"},
      {"[::1:11211", "missing ']' after the IPv6 address"},
      {"[::1]11211", "expected [v6]:port"},
      {"[]:11211", "empty IPv6 address"},
      {"[host]:11211", "not an IPv6 address inside [...]"},
      {"my host:1", "contains spaces or control characters"},
      {"unix:", "missing socket path after unix:"},
  };
  for (const Bad& b : bad) {
    INFO(b.text);
    try {
      parseListenAddress(b.text);
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()) == std::string("invalid --listen '") + b.text + "': " + b.reason);
    }
  }
  CHECK_THROWS_AS(parseListenAddress("unix:/" + std::string(107, 'a')), ConfigError);
  CHECK_NOTHROW(parseListenAddress("unix:/" + std::string(106, 'a')));
}

TEST_CASE("MCBRIDGE_LISTEN takes a comma-separated list", "[config]") {
  CleanEnv env;
  env.set("MCBRIDGE_LISTEN", "127.0.0.1:1, [::1]:2,unix:/tmp/x.sock");
  const Options o = options({});
  REQUIRE(o.listen.size() == 3);
  CHECK(o.listen[0].port == 1);
  CHECK(o.listen[1].host == "::1");
  CHECK(o.listen[2].host == "/tmp/x.sock");
  env.set("MCBRIDGE_LISTEN", "127.0.0.1:1,::1:2");
  CHECK(errorOf({}) ==
        "invalid MCBRIDGE_LISTEN '::1:2': IPv6 addresses need brackets, e.g. "
        "[::1]:11211");
}

TEST_CASE("REDISHOST / REDISPORT", "[config]") {
  CleanEnv env;
  env.set("REDISHOST", "10.0.0.3");
  env.set("REDISPORT", "6378");
  Options o = options({});
  CHECK(o.redis_host == "10.0.0.3");
  CHECK(o.redis_port == 6378);
  CHECK(o.redis_url == "redis://10.0.0.3:6378");

  // A CA file turns TLS on for the REDISHOST address (Memorystore in-transit encryption).
  TempFile ca(".pem", "-----BEGIN CERTIFICATE-----\n");
  o = options({"--redis-ca-file", ca.path()});
  CHECK(o.redis_url == "rediss://10.0.0.3:6378");

  // Flags beat the variables.
  o = options({"--redis-host", "redis.local", "--redis-port", "7000"});
  CHECK(o.redis_url == "redis://redis.local:7000");

  // IPv6 hosts are bracketed in the URL.
  env.set("REDISHOST", "fd00::5");
  o = options({});
  CHECK(o.redis_url == "redis://[fd00::5]:6378");

  // --redis / MCBRIDGE_REDIS_URL win over REDISHOST/REDISPORT.
  env.set("MCBRIDGE_REDIS_URL", "redis://envhost:1234/3");
  CHECK(options({}).redis_url == "redis://envhost:1234/3");
  CHECK(options({"--redis", "redis://flaghost"}).redis_url == "redis://flaghost");

  ::unsetenv("MCBRIDGE_REDIS_URL");
  env.set("REDISPORT", "seventy");
  CHECK(errorOf({}) == "invalid REDISPORT 'seventy': port must be a number between 1 and 65535");
  env.set("REDISPORT", "6379");
  env.set("REDISHOST", "bad host");
  CHECK(errorOf({}) == "invalid REDISHOST 'bad host': expected a host name or address");
}

TEST_CASE("--redis URL validation", "[config]") {
  CleanEnv env;
  for (const char* good : {"redis://127.0.0.1", "redis://h:6379", "redis://:pw@h:1/0",
                           "redis://user:pw@h", "rediss://[::1]:6378", "redis://[fd00::1]"}) {
    INFO(good);
    CHECK(errorOf({"--redis", good}).empty());
  }
  CHECK(errorOf({"--redis", "http://h:1"}) ==
        "invalid --redis 'http://h:1': expected redis://[:password@]host[:port][/db] or "
        "rediss://...");
  CHECK(errorOf({"--redis", "redis://"}) == "invalid --redis 'redis://': missing host");
  CHECK(errorOf({"--redis", "redis://h:0"}) ==
        "invalid --redis 'redis://h:0': port must be a number between 1 and 65535");
  CHECK(errorOf({"--redis", "redis://h:1/x"}) ==
        "invalid --redis 'redis://h:1/x': database must be a number");
  env.set("MCBRIDGE_REDIS_URL", "redis//h");
  CHECK(errorOf({}).rfind("invalid MCBRIDGE_REDIS_URL 'redis//h': ", 0) == 0);
  ::unsetenv("MCBRIDGE_REDIS_URL");

  TempFile ca(".pem", "x");
  CHECK(errorOf({"--redis", "redis://h", "--redis-ca-file", ca.path()})
            .find("need a rediss:// URL") != std::string::npos);
  CHECK(errorOf({"--redis", "redis://h", "--redis-tls-insecure"}).find("need a rediss:// URL") !=
        std::string::npos);
  CHECK(errorOf({"--redis", "rediss://h", "--redis-ca-file", ca.path()}).empty());
}

TEST_CASE("--item-size-max takes memcached -I forms", "[config]") {
  CleanEnv env;
  CHECK(options({"--item-size-max", "1m"}).item_size_max == 1048576);
  CHECK(options({"--item-size-max", "1M"}).item_size_max == 1048576);
  CHECK(options({"--item-size-max", "512k"}).item_size_max == 524288);
  CHECK(options({"--item-size-max", "1048576"}).item_size_max == 1048576);
  CHECK(options({"--item-size-max", "1024"}).item_size_max == 1024);
  CHECK(options({"--item-size-max", "128m"}).item_size_max == 128u * 1024 * 1024);
  const std::string range = "must be between 1k (1024) and 128m (134217728)";
  CHECK(errorOf({"--item-size-max", "1023"}) == "invalid --item-size-max '1023': " + range);
  CHECK(errorOf({"--item-size-max", "129m"}) == "invalid --item-size-max '129m': " + range);
  CHECK(errorOf({"--item-size-max", "0k"}) == "invalid --item-size-max '0k': " + range);
  CHECK(errorOf({"--item-size-max", "99999999999999999999"}) ==
        "invalid --item-size-max '99999999999999999999': " + range);
  CHECK(errorOf({"--item-size-max", "1g"}) ==
        "invalid --item-size-max '1g': expected a size such as 1m, 512k or 1048576");
  CHECK(errorOf({"--item-size-max", "m"}) ==
        "invalid --item-size-max 'm': expected a size such as 1m, 512k or 1048576");
  env.set("MCBRIDGE_ITEM_SIZE_MAX", "2mb");
  CHECK(errorOf({}) ==
        "invalid MCBRIDGE_ITEM_SIZE_MAX '2mb': expected a size such as 1m, 512k or 1048576");
}

TEST_CASE("flow-control budgets take byte sizes", "[config][flow]") {
  CleanEnv env;
  const Options d = options({});
  CHECK(d.client_reply_budget == 4u << 20);
  CHECK(d.reply_budget == 256u << 20);
  CHECK(d.redis_reply_budget == 2u << 20);
  CHECK(d.multiget_part_keys == 100);
  CHECK(d.multiget_part_size == 1u << 20);
  const Options o =
      options({"--client-reply-budget", "512k", "--reply-budget", "2g", "--redis-reply-budget",
               "16M", "--multiget-part-keys", "32", "--multiget-part-size", "65536"});
  CHECK(o.client_reply_budget == 512u << 10);
  CHECK(o.reply_budget == uint64_t{2} << 30);
  CHECK(o.redis_reply_budget == 16u << 20);
  CHECK(o.multiget_part_keys == 32);
  CHECK(o.multiget_part_size == 65536);
  CHECK(errorOf({"--client-reply-budget", "1k"}) ==
        "invalid --client-reply-budget '1k': must be between 65536 and 1073741824 bytes");
  CHECK(errorOf({"--reply-budget", "99999999999g"}) ==
        "invalid --reply-budget '99999999999g': must be between 1048576 and 68719476736 bytes");
  CHECK(errorOf({"--multiget-part-size", "lots"}) ==
        "invalid --multiget-part-size 'lots': expected a size such as 4m, 512k or 1048576");
  CHECK(errorOf({"--multiget-part-keys", "0"}) ==
        "invalid --multiget-part-keys '0': must be between 1 and 100000");
  env.set("MCBRIDGE_REDIS_REPLY_BUDGET", "32m");
  CHECK(options({}).redis_reply_budget == 32u << 20);
}

TEST_CASE("validation errors name the option and the value", "[config]") {
  CleanEnv env;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--request-timeout", "0"}, "invalid --request-timeout '0': must be between 1 and 600000"},
      {{"--request-timeout", "1s"}, "invalid --request-timeout '1s': expected milliseconds"},
      {{"--connect-timeout", "-5"}, "invalid --connect-timeout '-5': expected milliseconds"},
      {{"--threads", "257"}, "invalid --threads '257': must be between 0 and 256"},
      {{"--threads", "two"}, "invalid --threads 'two': expected a number of threads"},
      {{"--max-connections", "0"}, "invalid --max-connections '0': must be between 1 and 1000000"},
      {{"--idle-timeout", "x"}, "invalid --idle-timeout 'x': expected seconds"},
      {{"--drain-timeout", "600001"},
       "invalid --drain-timeout '600001': must be between 0 and 600000"},
      {{"--flush-all", "yes"}, "invalid --flush-all 'yes': expected allow or deny"},
      {{"--log-level", "verbose"},
       "invalid --log-level 'verbose': expected trace, debug, info, warn, error or off"},
      {{"--log-format", "xml"}, "invalid --log-format 'xml': expected text or json"},
      {{"--key-prefix", "a b"},
       "invalid --key-prefix 'a b': contains spaces or control characters"},
      {{"--admin", "9100"}, "invalid --admin '9100': missing :port (expected host:port)"},
      {{"--redis-password-file", "/nonexistent/pw"},
       "invalid --redis-password-file '/nonexistent/pw': file not found or not readable"},
      {{"--auth-file", "/nonexistent/auth"},
       "invalid --auth-file '/nonexistent/auth': file not found or not readable"},
      {{"--redis-ca-file", "/nonexistent/ca.pem"},
       "invalid --redis-ca-file '/nonexistent/ca.pem': file not found or not readable"},
      {{"--miss-on-error=maybe"}, "invalid --miss-on-error 'maybe': expected true or false"},
  };
  for (const Case& c : cases) {
    INFO(c.args[0]);
    std::vector<const char*> argv{"mcbridge"};
    for (const auto& a : c.args) argv.push_back(a.c_str());
    try {
      parseCommandLine(static_cast<int>(argv.size()), argv.data());
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()) == c.message);
    }
  }
  CHECK(errorOf({"--key-prefix", std::string(129, 'p')}).find("longer than 128 bytes") !=
        std::string::npos);
  CHECK(errorOf({"--threads"}).find("--threads") != std::string::npos);
  CHECK(errorOf({"--no-such-option"}).find("--no-such-option") != std::string::npos);
}

TEST_CASE("invalid environment values name the variable", "[config]") {
  CleanEnv env;
  const std::map<std::string, std::string> cases = {
      {"MCBRIDGE_THREADS", "invalid MCBRIDGE_THREADS 'x': expected a number of threads"},
      {"MCBRIDGE_REQUEST_TIMEOUT", "invalid MCBRIDGE_REQUEST_TIMEOUT 'x': expected milliseconds"},
      {"MCBRIDGE_FLUSH_ALL", "invalid MCBRIDGE_FLUSH_ALL 'x': expected allow or deny"},
      {"MCBRIDGE_MISS_ON_ERROR", "invalid MCBRIDGE_MISS_ON_ERROR 'x': expected true or false"},
      {"MCBRIDGE_LOG_FORMAT", "invalid MCBRIDGE_LOG_FORMAT 'x': expected text or json"},
      {"MCBRIDGE_LISTEN", "invalid MCBRIDGE_LISTEN 'x': missing :port (expected host:port)"},
  };
  for (const auto& [name, message] : cases) {
    INFO(name);
    env.set(name.c_str(), "x");
    CHECK(errorOf({}) == message);
    ::unsetenv(name.c_str());
  }
  // Boolean variables take the usual spellings; empty counts as unset.
  env.set("MCBRIDGE_MISS_ON_ERROR", "yes");
  CHECK(options({}).miss_on_error);
  env.set("MCBRIDGE_MISS_ON_ERROR", "0");
  CHECK_FALSE(options({}).miss_on_error);
  env.set("MCBRIDGE_THREADS", "");
  CHECK(options({}).threads == 0);
  // A flag hides an invalid variable for the same option (only the winning layer is used).
  env.set("MCBRIDGE_THREADS", "x");
  CHECK(options({"--threads", "2"}).threads == 2);
}

TEST_CASE("--help and --version exit early", "[config]") {
  CleanEnv env;
  ParsedCommandLine v = parse({"--version"});
  CHECK(v.exit_now);
  CHECK(v.exit_code == 0);
  CHECK(v.output == std::string("mcbridge ") + MCBRIDGE_VERSION + "\n");

  // Even with a broken environment: the user asking for help must get it.
  env.set("MCBRIDGE_THREADS", "x");
  ParsedCommandLine h = parse({"--help"});
  CHECK(h.exit_now);
  CHECK(h.exit_code == 0);
  for (const char* word : {"--listen",
                           "MCBRIDGE_LISTEN",
                           "--redis ",
                           "MCBRIDGE_REDIS_URL",
                           "--redis-host",
                           "REDISHOST",
                           "--redis-port",
                           "REDISPORT",
                           "--redis-password-file",
                           "--redis-ca-file",
                           "--redis-tls-server-name",
                           "--redis-tls-insecure",
                           "--request-timeout",
                           "--connect-timeout",
                           "--threads",
                           "--item-size-max",
                           "--key-prefix",
                           "--flush-all",
                           "--miss-on-error",
                           "--max-connections",
                           "--idle-timeout",
                           "--drain-timeout",
                           "--admin",
                           "--log-level",
                           "--log-format",
                           "--config",
                           "MCBRIDGE_CONFIG",
                           "--version",
                           "--help"}) {
    INFO(word);
    CHECK(h.output.find(word) != std::string::npos);
  }
  CHECK(parse({"-h"}).exit_now);
}

TEST_CASE("errors about the Redis URL do not show its password", "[config]") {
  CleanEnv env;
  const std::string e = errorOf({"--redis", "redis://user:s3cret@h:0"});
  CHECK(e.find("s3cret") == std::string::npos);
  CHECK(e == "invalid --redis 'redis://user:***@h:0': port must be a number between 1 and 65535");
}

TEST_CASE("--auth-file and MCBRIDGE_AUTH_FILE", "[config]") {
  CleanEnv env;
  {
    const char* argv[] = {"mcbridge"};
    CHECK(parseCommandLine(1, argv).options.auth_file.empty());
  }
  ::setenv("MCBRIDGE_AUTH_FILE", "/dev/null", 1);
  {
    const char* argv[] = {"mcbridge"};
    CHECK(parseCommandLine(1, argv).options.auth_file == "/dev/null");
  }
  ::unsetenv("MCBRIDGE_AUTH_FILE");
}
