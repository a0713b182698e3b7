// Logging set-up: spdlog's level and format (text, or one JSON object per line for Cloud
// Logging). Start-up only.
#pragma once

#include <string>

#include "config/options.h"

namespace mcbridge::proxy {

void setupLogging(const std::string& level, config::LogFormat format);

// The JSON-escaped form of `s` (quotes, backslashes and control characters), without quotes.
std::string jsonEscape(std::string_view s);

}  // namespace mcbridge::proxy
