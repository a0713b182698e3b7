#include "protocol/base64.h"

#include <array>
#include <cstdint>

namespace mcbridge::protocol {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0x80;

constexpr std::array<uint8_t, 256> makeTable() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = i;
  t['='] = 0;
  return t;
}
constexpr std::array<uint8_t, 256> kTable = makeTable();

}  // namespace

bool base64Decode(std::string_view in, std::string* out) {
  out->resize(in.size());
  const size_t n = base64Decode(in, out->data(), out->size());
  out->resize(n);
  return n != 0;
}

size_t base64Decode(std::string_view in, char* out, size_t cap) {
  size_t len = 0;
  size_t count = 0;
  for (unsigned char c : in) count += kTable[c] != kInvalid;
  if (count == 0 || count % 4 != 0 || count / 4 * 3 > cap) return 0;
  uint8_t group[4];
  size_t n = 0;
  int pad = 0;
  for (unsigned char c : in) {
    const uint8_t v = kTable[c];
    if (v == kInvalid) continue;
    if (c == '=') ++pad;
    group[n++] = v;
    if (n < 4) continue;
    n = 0;
    const char bytes[3] = {static_cast<char>((group[0] << 2) | (group[1] >> 4)),
                           static_cast<char>((group[1] << 4) | (group[2] >> 2)),
                           static_cast<char>((group[2] << 6) | group[3])};
    if (pad > 2) return 0;
    const size_t keep = static_cast<size_t>(3 - pad);
    for (size_t k = 0; k < keep; ++k) out[len++] = bytes[k];
    if (pad != 0) break;
  }
  return len;
}

void base64Encode(std::string_view in, std::string* out) {
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(in[k]); };
  for (; i + 3 <= in.size(); i += 3) {
    out->push_back(kAlphabet[byte(i) >> 2]);
    out->push_back(kAlphabet[((byte(i) & 3) << 4) | (byte(i + 1) >> 4)]);
    out->push_back(kAlphabet[((byte(i + 1) & 15) << 2) | (byte(i + 2) >> 6)]);
    out->push_back(kAlphabet[byte(i + 2) & 63]);
  }
  if (i == in.size()) return;
  out->push_back(kAlphabet[byte(i) >> 2]);
  if (i + 1 == in.size()) {
    out->push_back(kAlphabet[(byte(i) & 3) << 4]);
    out->push_back('=');
  } else {
    out->push_back(kAlphabet[((byte(i) & 3) << 4) | (byte(i + 1) >> 4)]);
    out->push_back(kAlphabet[(byte(i + 1) & 15) << 2]);
  }
  out->push_back('=');
}

}  // namespace mcbridge::protocol
