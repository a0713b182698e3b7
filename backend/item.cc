#include "backend/item.h"

#include <openssl/evp.h>

#include <random>

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

ItemView decodeItem(std::string_view raw) {
  ItemView item;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  if (raw.size() >= kHeaderSize && p[0] == kMarker && p[1] == kFormatVersion) {
    item.flags = (uint32_t{p[2]} << 24) | (uint32_t{p[3]} << 16) | (uint32_t{p[4]} << 8) | p[5];
    uint64_t cas = 0;
    for (int i = 6; i < 14; ++i) cas = (cas << 8) | p[i];
    item.cas = cas;
    item.data = raw.substr(kHeaderSize);
    return item;
  }
  item.foreign = true;
  item.data = raw;
  item.cas = foreignCas(raw);
  return item;
}

uint64_t foreignCas(std::string_view raw) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(raw.data(), raw.size(), md, &len, EVP_sha1(), nullptr);
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
