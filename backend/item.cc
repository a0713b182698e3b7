#include "backend/item.h"

#include <random>

#include "backend/sha1.h"

namespace mcbridge::backend {

void storeBigEndian64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

void encodeHeader(uint32_t flags, uint64_t cas, char* out) {
  out[0] = static_cast<char>(kMarker);
  out[1] = static_cast<char>(kFormatVersion);
  out[2] = static_cast<char>(flags >> 24);
  out[3] = static_cast<char>(flags >> 16);
  out[4] = static_cast<char>(flags >> 8);
  out[5] = static_cast<char>(flags);
  storeBigEndian64(cas, out + 6);
}

void encodeHeaderV2(uint32_t flags, uint64_t cas, uint8_t state, uint32_t last_access,
                    char* out) {
  encodeHeader(flags, cas, out);
  out[1] = static_cast<char>(kFormatVersion2);
  out[14] = static_cast<char>(state);
  out[15] = static_cast<char>(last_access >> 24);
  out[16] = static_cast<char>(last_access >> 16);
  out[17] = static_cast<char>(last_access >> 8);
  out[18] = static_cast<char>(last_access);
}

ItemView decodeItem(std::string_view raw) {
  ItemView item;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const bool v1 = raw.size() >= kHeaderSize && p[0] == kMarker && p[1] == kFormatVersion;
  const bool v2 = raw.size() >= kHeaderSizeV2 && p[0] == kMarker && p[1] == kFormatVersion2;
  if (v1 || v2) {
    item.flags = (uint32_t{p[2]} << 24) | (uint32_t{p[3]} << 16) | (uint32_t{p[4]} << 8) | p[5];
    uint64_t cas = 0;
    for (int i = 6; i < 14; ++i) cas = (cas << 8) | p[i];
    item.cas = cas;
    item.version = p[1];
    if (v2) {
      item.state = p[14];
      item.last_access =
          (uint32_t{p[15]} << 24) | (uint32_t{p[16]} << 16) | (uint32_t{p[17]} << 8) | p[18];
    }
    item.data = raw.substr(v2 ? kHeaderSizeV2 : kHeaderSize);
    return item;
  }
  item.foreign = true;
  item.data = raw;
  item.cas = foreignCas(raw);
  return item;
}

uint64_t foreignCas(std::string_view raw) {
  const Sha1Digest md = sha1(raw);
  uint64_t cas = 0;
  for (int i = 0; i < 8; ++i) cas = (cas << 8) | md[i];
  return cas | (uint64_t{1} << 63);
}

CasGenerator::CasGenerator() {
  std::random_device rd;
  uint64_t base = (uint64_t{rd()} << 32) ^ rd();
  // Leave room below 2^63 so a long-running process never reaches the foreign-CAS space
  // (top bit set) by counting, and never wraps to 0.
  next_.store((base >> 2) | 1, std::memory_order_relaxed);
}

}  // namespace mcbridge::backend
