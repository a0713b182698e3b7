// Base64 for the meta commands' `b` flag (binary keys), with memcached 1.6.18's decoding rules.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mcbridge::protocol {

// Decodes `in` into *out (replacing its contents). Like memcached: characters outside the base64
// alphabet are skipped; the alphabet characters (with '=') must number a non-zero multiple of 4;
// decoding stops after the first padded group; more than two '=' in a group is an error. Returns
// false (and an unspecified *out) when memcached's decoder would return 0.
bool base64Decode(std::string_view in, std::string* out);
// The same into a caller's buffer of `cap` bytes (in.size() * 3 / 4 always suffices): returns the
// decoded length, 0 on failure. Never allocates.
size_t base64Decode(std::string_view in, char* out, size_t cap);

// Standard base64 with '=' padding, appended to *out.
void base64Encode(std::string_view in, std::string* out);

}  // namespace mcbridge::protocol
