// Composition of meta-command replies (VA/HD/EN/NF/NS/EX/ME), byte for byte as memcached 1.6.18
// writes them: return flags in the order the client sent its flag tokens, then Z, X, W.
// Pure: appends to a caller's buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mcbridge::protocol {

// What a meta reply reports about the item (as it was before the command changed it).
struct MetaItem {
  uint32_t flags = 0;
  uint64_t cas = 0;
  size_t size = 0;            // data bytes
  int64_t ttl = -1;           // remaining seconds before the command, -1 = never expires
  int64_t ttl_touch = -1;     // remaining seconds once a T token was applied
  int64_t ttl_vivify = -1;    // remaining seconds once an N token created the item
  bool created = false;       // N created it now
  bool fetched = false;       // h
  int64_t idle = 0;           // l: seconds since last access
  bool win_sent = false;      // Z
  bool stale = false;         // X
  bool won = false;           // W
  bool key_binary = false;    // the item was stored with a base64 key: k returns it encoded
};

// mg hit: "VA <size> <flags>*\r\n" (data and "\r\n" follow, the caller's) or "HD <flags>*\r\n".
void appendMetaGetHit(std::string* out, std::string_view tokens, std::string_view key,
                      bool with_value, const MetaItem& item);
// A status line with only the O and k return flags: mg miss (EN), md, ms and ma failures.
// `c_value` non-null: a c token prints it (ms: the CAS, 0 when not stored).
void appendMetaStatus(std::string* out, std::string_view code, std::string_view tokens,
                      std::string_view key, bool key_binary, const uint64_t* c_value = nullptr);
// ma success: "VA <len> <flags>*\r\n<number>\r\n" or "HD <flags>*\r\n".
void appendMetaArithmetic(std::string* out, std::string_view tokens, std::string_view key,
                          bool key_binary, bool with_value, std::string_view number,
                          const MetaItem& item);

}  // namespace mcbridge::protocol
