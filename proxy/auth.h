// Client authentication (--auth-file, memcached's -Y file): one `user:password` per line.
// Text connections authenticate with memcached's ASCII auth, binary ones with SASL PLAIN; both
// check against the same credentials.
//
// Thread-safe: every worker checks credentials while the main thread may reload the file
// (SIGHUP). Passwords are never logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mcbridge::proxy {

struct Credential {
  std::string user;
  std::string password;
};

// Parses the file's text: lines `user:password` (the first ':' splits, so a password may hold
// ':'; a '\r' before the '\n' is dropped). Blank lines are skipped. Returns false and sets
// *error (which never quotes a password) on a line without ':' or with an empty user.
[[nodiscard]] bool parseCredentials(std::string_view text, std::vector<Credential>* out,
                                    std::string* error);

// True when some credential matches. Takes the same time whichever entry matches, and whether
// or not one does, for credentials of a given length: every byte of every entry is compared.
[[nodiscard]] bool credentialsMatch(const std::vector<Credential>& creds, std::string_view user,
                                    std::string_view password);

// A SASL PLAIN message: [authzid] NUL authcid NUL password. libmemcached sends user\0user\0pass,
// Dalli and memjs \0user\0pass. An authorization identity other than the user is refused (no
// proxy authorization), as is a message of another shape.
[[nodiscard]] bool parseSaslPlain(std::string_view message, std::string_view* user,
                                  std::string_view* password);

class AuthStore {
 public:
  // Disabled (no --auth-file): every connection is authenticated from the start.
  AuthStore() = default;
  // Reads `path` now; throws config::ConfigError when it cannot be read or parsed.
  explicit AuthStore(std::string path);

  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  // Re-reads the file (SIGHUP). On failure keeps the credentials in use and returns false with
  // *error set.
  [[nodiscard]] bool reload(std::string* error);
  [[nodiscard]] bool check(std::string_view user, std::string_view password) const;

  // A failed attempt: logged at most once every 10 seconds per process, with the count of
  // failures since the previous line (a client can trigger it at will).
  void noteFailure(uint64_t connection_id, std::string_view protocol);

 private:
  [[nodiscard]] bool load(std::string* error);

  std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<Credential>> creds_;
  std::atomic<uint64_t> failures_unlogged_{0};
  std::atomic<int64_t> last_log_ms_{0};
};

}  // namespace mcbridge::proxy
