// mcbridge: memcached protocol in front, Redis behind. Parses the configuration, sets up
// logging, runs the server until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <exception>

#include "config/options.h"
#include "proxy/server.h"

int main(int argc, char** argv) {
  mcbridge::config::ParsedCommandLine parsed;
  try {
    parsed = mcbridge::config::parseCommandLine(argc, argv);
  } catch (const mcbridge::config::ConfigError& e) {
    std::fprintf(stderr, "mcbridge: %s\n", e.what());
    return 2;
  }
  if (parsed.exit_now) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const mcbridge::config::Options& options = parsed.options;
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  if (options.log_format == mcbridge::config::LogFormat::kJson) {
    spdlog::set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","severity":"%^%l%$","logger":"%n","message":"%v"})",
        spdlog::pattern_time_type::utc);
  }
  std::signal(SIGPIPE, SIG_IGN);
  try {
    mcbridge::proxy::Server server(options);
    server.start();
    return server.run();
  } catch (const mcbridge::config::ConfigError& e) {
    std::fprintf(stderr, "mcbridge: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mcbridge: %s\n", e.what());
    return 1;
  }
}
