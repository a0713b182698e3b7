// mcbridge: memcached protocol in front, Redis behind. Parses the configuration, sets up
// logging, runs the server until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <exception>

#include "config/options.h"
#include "proxy/logging.h"
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
  mcbridge::proxy::setupLogging(options.log_level, options.log_format);
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
