// Named spdlog loggers, one per module ("redis", "proxy", ...), as STYLE.md asks.
//
// Thread-safe. Callers keep the returned shared_ptr (e.g. as a member) instead of calling this
// for every message: the registry lookup takes a lock.
#pragma once

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>

namespace mcbridge {

// Returns the logger registered under `name`, creating a colored stderr logger the first time.
// A logger registered elsewhere (e.g. by main with its own sinks and format) is returned as is.
inline std::shared_ptr<spdlog::logger> namedLogger(const std::string& name) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = spdlog::get(name)) return existing;
  try {
    return spdlog::stderr_color_mt(name);
  } catch (const spdlog::spdlog_ex&) {
    // Registered concurrently by code that did not go through this helper.
    return spdlog::get(name);
  }
}

}  // namespace mcbridge
