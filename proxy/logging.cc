#include "proxy/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

namespace mcbridge::proxy {
namespace {

// %j: the message, escaped for a JSON string (a message may quote client or Redis text).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        jsonEscape(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %Q: the level as Cloud Logging's LogSeverity names it.
class SeverityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view s = "DEFAULT";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: s = "DEBUG"; break;
      case spdlog::level::info: s = "INFO"; break;
      case spdlog::level::warn: s = "WARNING"; break;
      case spdlog::level::err: s = "ERROR"; break;
      case spdlog::level::critical: s = "CRITICAL"; break;
      default: break;
    }
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SeverityFlag>();
  }
};

}  // namespace

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

void setupLogging(const std::string& level, config::LogFormat format) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("mcbridge"));
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == config::LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('j');
    formatter->add_flag<SeverityFlag>('Q');
    formatter->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","severity":"%Q","logger":"%n",)"
                           R"("message":"%j"})");
    spdlog::set_formatter(std::move(formatter));
  }
}

}  // namespace mcbridge::proxy
