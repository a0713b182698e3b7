#include "protocol/binary_reply.h"

#include <cstring>

#include "protocol/binary.h"
#include "protocol/reply.h"

namespace mcbridge::protocol::binary {
namespace {

void put16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
}
void put32(char* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
void put64(char* p, uint64_t v) {
  put32(p, static_cast<uint32_t>(v >> 32));
  put32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace

void appendHeader(std::string* out, uint8_t opcode, uint16_t status, uint16_t keylen,
                  uint8_t extlen, uint32_t bodylen, uint32_t opaque, uint64_t cas) {
  char h[kHeaderSize];
  h[0] = static_cast<char>(kResponseMagic);
  h[1] = static_cast<char>(opcode);
  put16(h + 2, keylen);
  h[4] = static_cast<char>(extlen);
  h[5] = 0;  // data type: raw bytes
  put16(h + 6, status);
  put32(h + 8, bodylen);
  std::memcpy(h + 12, &opaque, 4);
  put64(h + 16, cas);
  out->append(h, sizeof h);
}

std::string_view statusMessage(uint16_t s) {
  switch (s) {
    case status::kOutOfMemory:
      return "Out of memory";
    case status::kUnknownCommand:
      return "Unknown command";
    case status::kKeyNotFound:
      return "Not found";
    case status::kInvalidArguments:
      return "Invalid arguments";
    case status::kKeyExists:
      return "Data exists for key.";
    case status::kTooLarge:
      return "Too large.";
    case status::kDeltaBadValue:
      return "Non-numeric server-side value for incr or decr";
    case status::kNotStored:
      return "Not stored.";
    case status::kAuthError:
      return "Auth failure.";
    default:
      return {};
  }
}

void appendErrorText(std::string* out, uint8_t opcode, uint16_t status, uint32_t opaque,
                     std::string_view text) {
  appendHeader(out, opcode, status, 0, 0, static_cast<uint32_t>(text.size()), opaque, 0);
  out->append(text);
}

void appendError(std::string* out, uint8_t opcode, uint16_t status, uint32_t opaque) {
  appendErrorText(out, opcode, status, opaque, statusMessage(status));
}

void appendSuccess(std::string* out, uint8_t opcode, uint32_t opaque, uint64_t cas,
                   std::string_view body) {
  appendHeader(out, opcode, status::kSuccess, 0, 0, static_cast<uint32_t>(body.size()), opaque,
               cas);
  out->append(body);
}

void appendItem(std::string* out, uint8_t opcode, uint32_t opaque, uint64_t cas, uint32_t flags,
                std::string_view key, std::string_view value, bool with_value, bool value_follows) {
  const size_t value_size = with_value ? value.size() : 0;
  reserveMore(out, kHeaderSize + 4 + key.size() + (value_follows ? 0 : value_size));
  appendHeader(out, opcode, status::kSuccess, static_cast<uint16_t>(key.size()), 4,
               static_cast<uint32_t>(4 + key.size() + value_size), opaque, cas);
  char f[4];
  put32(f, flags);
  out->append(f, 4);
  out->append(key);
  if (with_value && !value_follows) out->append(value);
}

void appendCounter(std::string* out, uint8_t opcode, uint32_t opaque, uint64_t cas,
                   uint64_t value) {
  appendHeader(out, opcode, status::kSuccess, 0, 0, 8, opaque, cas);
  char v[8];
  put64(v, value);
  out->append(v, 8);
}

void appendStatsFromText(std::string* out, uint8_t opcode, uint32_t opaque, std::string_view text) {
  constexpr std::string_view kPrefix = "STAT ";
  while (!text.empty()) {
    const size_t eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 2);
    if (!line.starts_with(kPrefix)) continue;
    line.remove_prefix(kPrefix.size());
    const size_t space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    const std::string_view value =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    appendHeader(out, opcode, status::kSuccess, static_cast<uint16_t>(name.size()), 0,
                 static_cast<uint32_t>(name.size() + value.size()), opaque, 0);
    out->append(name);
    out->append(value);
  }
  appendHeader(out, opcode, status::kSuccess, 0, 0, 0, opaque, 0);
}

}  // namespace mcbridge::protocol::binary
