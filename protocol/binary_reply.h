// Composition of binary-protocol reply packets (memcached 1.6.18). Pure: appends bytes to a
// caller's buffer. `opaque` is echoed as the request carried it (byte order untouched).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mcbridge::protocol::binary {

// The 24-byte response header.
void appendHeader(std::string* out, uint8_t opcode, uint16_t status, uint16_t keylen,
                  uint8_t extlen, uint32_t bodylen, uint32_t opaque, uint64_t cas);

// memcached's text for a status ("Not found", "Data exists for key.", ...); empty if none.
std::string_view statusMessage(uint16_t status);

// An error packet whose body is statusMessage(status) (memcached's write_bin_error).
void appendError(std::string* out, uint8_t opcode, uint16_t status, uint32_t opaque);
// An error packet with its own body text.
void appendErrorText(std::string* out, uint8_t opcode, uint16_t status, uint32_t opaque,
                     std::string_view text);

// A success packet with an optional body and no extras or key.
void appendSuccess(std::string* out, uint8_t opcode, uint32_t opaque, uint64_t cas,
                   std::string_view body = {});

// GET/GETK/GAT/GATK/TOUCH hit: extras = flags, then the key when `key` is non-empty, then the
// value unless `with_value` is false (TOUCH). With `value_follows`, the value's bytes are
// counted in the header but not appended: the caller writes them right after.
void appendItem(std::string* out, uint8_t opcode, uint32_t opaque, uint64_t cas, uint32_t flags,
                std::string_view key, std::string_view value, bool with_value = true,
                bool value_follows = false);

// incr/decr success: an 8-byte big-endian value.
void appendCounter(std::string* out, uint8_t opcode, uint32_t opaque, uint64_t cas, uint64_t value);

// Turns a text `stats` reply ("STAT <name> <value>\r\n"... "END\r\n") into one STAT packet per
// stat and the empty terminating packet, as memcached sends them over binary.
void appendStatsFromText(std::string* out, uint8_t opcode, uint32_t opaque, std::string_view text);

}  // namespace mcbridge::protocol::binary
