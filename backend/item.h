// The Redis storage format of one memcache item (DESIGN.md, a public contract).
//
// value = 0xFB | 0x01 | flags (u32 BE) | CAS (u64 BE) | data
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

struct ItemView {
  uint32_t flags = 0;
  uint64_t cas = 0;
  std::string_view data;  // a view into the raw value passed to decodeItem
  bool foreign = false;
};

// Writes the 14-byte header into out.
void encodeHeader(uint32_t flags, uint64_t cas, char* out);

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
