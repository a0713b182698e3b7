// memcached's ASCII authentication handshake (memcached -Y, 1.6.18): until a connection has
// authenticated, each request line is either `set <key> <flags> <exptime> <bytes>[ ...]` whose
// data block is `<user> <password>`, or answered CLIENT_ERROR unauthenticated.
//
// Pure: bytes in, a verdict out. No I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mcbridge::protocol {

namespace auth_reply {
inline constexpr std::string_view kUnauthenticated = "CLIENT_ERROR unauthenticated\r\n";
inline constexpr std::string_view kBadTermination = "CLIENT_ERROR bad command line termination\r\n";
inline constexpr std::string_view kBadTokenFormat =
    "CLIENT_ERROR bad authentication token format\r\n";
inline constexpr std::string_view kFailure = "CLIENT_ERROR authentication failure\r\n";
inline constexpr std::string_view kStored = "STORED\r\n";
}  // namespace auth_reply

enum class AsciiAuthStatus : uint8_t {
  kNeedMore,     // nothing consumed; call again with at least `needed` bytes (0: any more)
  kClose,        // close the connection without a reply
  kReply,        // drop `consumed` bytes and send `reply`
  kCredentials,  // drop `consumed` bytes; check user/password and answer STORED or kFailure
};

struct AsciiAuthResult {
  AsciiAuthStatus status = AsciiAuthStatus::kNeedMore;
  size_t consumed = 0;
  size_t needed = 0;
  std::string_view reply;  // kReply (static storage)
  std::string_view user;   // kCredentials: views into the input
  std::string_view password;
};

// Parses the first request of an unauthenticated text connection. A line without '\n' after
// more than 2048 bytes closes the connection, as memcached does. `max_data` bounds the declared
// data size (memcached has no bound and misbehaves past 4 GiB): larger closes the connection.
[[nodiscard]] AsciiAuthResult parseAsciiAuth(std::string_view in, size_t max_data);

}  // namespace mcbridge::protocol
