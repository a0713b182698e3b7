// SHA-1 (FIPS 180-4), for the two places the storage format needs it: the CAS of a value
// without mcbridge's header (the same digest the Lua scripts compute with redis.sha1hex) and
// the EVALSHA names of the scripts. Not for security.
//
// Our own rather than OpenSSL's EVP: the first EVP digest loads OpenSSL 3's providers and
// configuration, ~3 MB of resident memory in every process, TLS to Redis or not.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mcbridge::backend {

using Sha1Digest = std::array<uint8_t, 20>;

Sha1Digest sha1(std::string_view data);
// Lowercase hex, as Redis prints script SHAs.
std::string sha1Hex(std::string_view data);

}  // namespace mcbridge::backend
