#include "backend/hash_slot.h"

#include <array>

namespace mcbridge::backend {
namespace {

constexpr std::array<uint16_t, 256> makeTable() {
  std::array<uint16_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i << 8;
    for (int b = 0; b < 8; ++b) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    t[i] = static_cast<uint16_t>(crc);
  }
  return t;
}
constexpr std::array<uint16_t, 256> kTable = makeTable();

uint16_t crcUpdate(uint16_t crc, std::string_view data) {
  for (unsigned char c : data) {
    crc = static_cast<uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

}  // namespace

uint16_t crc16(std::string_view data) { return crcUpdate(0, data); }

uint16_t keySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16(key) & (kSlotCount - 1);
}

uint16_t keySlot(const RedisArg& key) {
  const std::string_view a = key.first;
  const std::string_view b = key.second;
  if (b.empty()) return keySlot(a);
  if (a.empty()) return keySlot(b);
  // Find the tag across the two pieces without joining them: positions index the whole key.
  const size_t n = a.size() + b.size();
  auto at = [&](size_t i) { return i < a.size() ? a[i] : b[i - a.size()]; };
  size_t open = n;
  for (size_t i = 0; i < n; ++i) {
    if (at(i) == '{') {
      open = i;
      break;
    }
  }
  size_t begin = 0;
  size_t end = n;
  if (open < n) {
    for (size_t i = open + 1; i < n; ++i) {
      if (at(i) == '}') {
        if (i > open + 1) {
          begin = open + 1;
          end = i;
        }
        break;
      }
    }
  }
  // CRC of [begin, end) over the two pieces.
  uint16_t crc = 0;
  if (begin < a.size()) crc = crcUpdate(crc, a.substr(begin, std::min(end, a.size()) - begin));
  if (end > a.size()) {
    const size_t from = begin > a.size() ? begin - a.size() : 0;
    crc = crcUpdate(crc, b.substr(from, end - a.size() - from));
  }
  return crc & (kSlotCount - 1);
}

}  // namespace mcbridge::backend
