// parseRedisUrl, readPasswordFile and applySecret (declared in backend/redis_connection.h).
//
// Grammar: redis[s]://[[user]:password@]host[:port][/db]
// The user-info rule follows redis-cli: "user:pass@" sets both, "pass@" (no colon) is a password
// for the default user, and both parts are percent-decoded so passwords may contain ':' or '@'.

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <charconv>
#include <climits>
#include <string>
#include <string_view>

#include "backend/redis_connection.h"

namespace mcbridge::backend {
namespace {

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hexValue(in[i + 1]);
    int lo = hexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Digits only: std::from_chars alone would accept a leading '-' and stop at trailing junk.
bool parseDecimal(std::string_view s, long long max, long long* out) {
  if (s.empty() || s.size() > 10) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  long long v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

// The URL for error messages, without its user info: passwords must not reach logs.
std::string redactedUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url.substr(0, 64));
  size_t start = scheme_end + 3;
  size_t end = url.find('/', start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? end : end - start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return fmt::format("{}***@{}", url.substr(0, start), url.substr(start + at + 1));
}

}  // namespace

bool parseRedisUrl(std::string_view url, RedisEndpoint* out, std::string* error) {
  auto fail = [&](const std::string& message) {
    *error = fmt::format("invalid Redis URL '{}': {}", redactedUrl(url), message);
    return false;
  };
  // Parsed into a copy so *out is untouched on error; the tls_* options that a URL cannot carry
  // (CA file, server name, verify) keep whatever the caller set.
  RedisEndpoint ep = *out;
  std::string_view rest;
  if (startsWithNoCase(url, "rediss://")) {
    ep.tls = true;
    rest = url.substr(9);
  } else if (startsWithNoCase(url, "redis://")) {
    ep.tls = false;
    rest = url.substr(8);
  } else {
    return fail("the scheme must be redis:// or rediss://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail("query strings and fragments are not supported");
  }

  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

  // The last '@' ends the user info: an unencoded '@' in a password still parses.
  ep.username.clear();
  ep.password.clear();
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string_view user;
    std::string_view pass = userinfo;
    if (colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      pass = userinfo.substr(colon + 1);
    }
    if (!percentDecode(user, &ep.username)) return fail("bad percent-encoding in the user name");
    if (!percentDecode(pass, &ep.password)) return fail("bad percent-encoding in the password");
  }

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected characters after ']'");
      port = after.substr(1);
      has_port = true;
    }
    in6_addr unused;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &unused) != 1) {
      return fail(fmt::format("'{}' is not an IPv6 address", host));
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return fail("IPv6 addresses must be written in brackets, e.g. redis://[::1]:6379");
    }
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) return fail("missing host");
  ep.host = std::string(host);

  ep.port = 6379;
  if (has_port) {
    long long p = 0;
    if (!parseDecimal(port, 65535, &p) || p == 0) {
      return fail(fmt::format("port '{}' is not a number in 1..65535", port));
    }
    ep.port = static_cast<uint16_t>(p);
  }

  ep.db = 0;
  if (!path.empty()) {
    long long db = 0;
    if (!parseDecimal(path, INT_MAX, &db)) {
      return fail(fmt::format("database '{}' is not a non-negative number", path));
    }
    ep.db = static_cast<int>(db);
  }
  *out = std::move(ep);
  return true;
}

bool readPasswordFile(const std::string& path, std::string* secret, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read the password file '" + path + "'";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  *secret = std::move(s);
  return true;
}

void applySecret(std::string_view secret, RedisEndpoint* ep) {
  const size_t colon = secret.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    ep->username = std::string(secret.substr(0, colon));
    ep->password = std::string(secret.substr(colon + 1));
  } else {
    ep->password = std::string(secret);
  }
}

}  // namespace mcbridge::backend
