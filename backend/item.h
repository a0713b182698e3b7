// The Redis storage format of one memcache item (DESIGN.md, a public contract).
//
// version 1: value = 0xFB | 0x01 | flags (u32 BE) | CAS (u64 BE) | data
// version 2: value = 0xFB | 0x02 | flags (u32 BE) | CAS (u64 BE) | meta state (u8) |
//            last access (u32 BE unix seconds, 0 = unknown) | data
// Version 2 is written only once a meta command gives the item state (stale, win token sent,
// fetched, binary key); every reader accepts both.
// A value without the marker was written by another Redis client ("foreign"): it reads as
// flags 0, its whole bytes are the data, and its CAS is derived from its content the same way
// here and in the Lua scripts (scripts.cc), so gets/cas work on it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mcbridge::backend {

inline constexpr size_t kHeaderSize = 14;
inline constexpr unsigned char kMarker = 0xFB;
inline constexpr unsigned char kFormatVersion = 0x01;
inline constexpr unsigned char kFormatVersion2 = 0x02;
inline constexpr size_t kHeaderSizeV2 = 19;

// Bits of the version-2 meta state byte.
enum MetaState : uint8_t {
  kStateStale = 1,      // md I / ms I: the value is stale (mg answers X)
  kStateWinSent = 2,    // a W (win token) was handed out (mg answers Z)
  kStateFetched = 4,    // read by a tracking mg before (h1)
  kStateKeyBinary = 8,  // stored by ms with b: k returns the key base64-encoded
};

struct ItemView {
  uint32_t flags = 0;
  uint64_t cas = 0;
  std::string_view data;  // a view into the raw value passed to decodeItem
  bool foreign = false;
  uint8_t version = 0;       // 1 or 2; 0 for a foreign value
  uint8_t state = 0;         // MetaState bits (version 2)
  uint32_t last_access = 0;  // unix seconds (version 2), 0 = unknown
};

// Writes the 14-byte header into out.
void encodeHeader(uint32_t flags, uint64_t cas, char* out);
// Writes the 19-byte version-2 header into out.
void encodeHeaderV2(uint32_t flags, uint64_t cas, uint8_t state, uint32_t last_access, char* out);

// Splits a raw Redis value into flags, CAS and data. Never fails: anything without a valid
// header is a foreign value.
ItemView decodeItem(std::string_view raw);

// CAS of a foreign value: the first 8 bytes of SHA-1(raw), big-endian, with the top bit set so it
// is never 0 (and never equal to a cas the client could get by chance from a count).
uint64_t foreignCas(std::string_view raw);

void storeBigEndian64(uint64_t v, char* out);

// Generates CAS tokens: a random 64-bit base per process plus a counter, so tokens are unique
// across the many mcbridge instances sharing one Redis. Thread-safe (one relaxed atomic add).
class CasGenerator {
 public:
  CasGenerator();
  explicit CasGenerator(uint64_t base) : next_(base) {}
  uint64_t next() {
    uint64_t v = next_.fetch_add(1, std::memory_order_relaxed);
    return v != 0 ? v : next_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> next_;
};

}  // namespace mcbridge::backend
