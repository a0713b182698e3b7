#include "proxy/auth.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "config/options.h"

namespace mcbridge::proxy {
namespace {

constexpr int64_t kLogIntervalMs = 10'000;

// Compares without a data-dependent branch or early exit; the length difference is folded in
// rather than returned early.
bool constantTimeEqual(std::string_view a, std::string_view b) {
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool parseCredentials(std::string_view text, std::vector<Credential>* out, std::string* error) {
  out->clear();
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "line " + std::to_string(line_no) + " is not user:password";
      return false;
    }
    out->push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  return true;
}

bool credentialsMatch(const std::vector<Credential>& creds, std::string_view user,
                      std::string_view password) {
  bool found = false;
  for (const Credential& c : creds) {
    // Both compared, always: no short-circuit on the user name.
    const bool u = constantTimeEqual(c.user, user);
    const bool p = constantTimeEqual(c.password, password);
    found |= u & p;
  }
  return found;
}

bool parseSaslPlain(std::string_view message, std::string_view* user, std::string_view* password) {
  const size_t first = message.find('\0');
  if (first == std::string_view::npos) return false;
  const size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return false;
  const std::string_view authzid = message.substr(0, first);
  const std::string_view authcid = message.substr(first + 1, second - first - 1);
  const std::string_view pass = message.substr(second + 1);
  if (authcid.empty() || pass.find('\0') != std::string_view::npos) return false;
  if (!authzid.empty() && authzid != authcid) return false;
  *user = authcid;
  *password = pass;
  return true;
}

AuthStore::AuthStore(std::string path) : path_(std::move(path)) {
  std::string error;
  if (!load(&error)) throw config::ConfigError("invalid --auth-file '" + path_ + "': " + error);
}

bool AuthStore::load(std::string* error) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    *error = "file not found or not readable";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto creds = std::make_shared<std::vector<Credential>>();
  if (!parseCredentials(ss.str(), creds.get(), error)) return false;
  if (creds->empty()) {
    *error = "no user:password line";
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  creds_ = std::move(creds);
  return true;
}

bool AuthStore::reload(std::string* error) { return load(error); }

bool AuthStore::check(std::string_view user, std::string_view password) const {
  std::shared_ptr<const std::vector<Credential>> creds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    creds = creds_;
  }
  return creds != nullptr && credentialsMatch(*creds, user, password);
}

void AuthStore::noteFailure(uint64_t connection_id, std::string_view protocol) {
  const uint64_t pending = failures_unlogged_.fetch_add(1) + 1;
  const int64_t now = nowMs();
  int64_t last = last_log_ms_.load();
  if (last != 0 && now - last < kLogIntervalMs) return;
  if (!last_log_ms_.compare_exchange_strong(last, now)) return;
  const uint64_t count = failures_unlogged_.exchange(0);
  spdlog::warn("client {}: {} authentication failed ({} failed attempt{} since the last report)",
               connection_id, protocol, count ? count : pending, count == 1 ? "" : "s");
}

}  // namespace mcbridge::proxy
