#include "protocol/reply.h"

#include <charconv>

namespace mcbridge::protocol {

namespace {

// 20 digits hold any uint64 (18446744073709551615).
constexpr size_t kMaxDigits = 20;

void appendUnsigned(std::string* out, uint64_t n) {
  char buf[kMaxDigits];
  const auto res = std::to_chars(buf, buf + sizeof(buf), n);
  out->append(buf, static_cast<size_t>(res.ptr - buf));
}

}  // namespace

void appendValueHeader(std::string* out, std::string_view key, uint32_t flags, size_t bytes,
                       const uint64_t* cas) {
  out->append("VALUE ");
  out->append(key);
  out->push_back(' ');
  appendUnsigned(out, flags);
  out->push_back(' ');
  appendUnsigned(out, bytes);
  if (cas != nullptr) {
    out->push_back(' ');
    appendUnsigned(out, *cas);
  }
  out->append("\r\n");
}

// Room for the header line's fixed text and numbers, the data's "\r\n" and a following "END\r\n".
constexpr size_t kValueOverhead = 80;

void appendValue(std::string* out, std::string_view key, uint32_t flags, std::string_view data) {
  reserveMore(out, key.size() + data.size() + kValueOverhead);
  appendValueHeader(out, key, flags, data.size(), nullptr);
  out->append(data);
  out->append("\r\n");
}

void appendValueCas(std::string* out, std::string_view key, uint32_t flags, std::string_view data,
                    uint64_t cas) {
  reserveMore(out, key.size() + data.size() + kValueOverhead);
  appendValueHeader(out, key, flags, data.size(), &cas);
  out->append(data);
  out->append("\r\n");
}

void appendNumber(std::string* out, uint64_t n) {
  appendUnsigned(out, n);
  out->append("\r\n");
}

void appendStat(std::string* out, std::string_view name, std::string_view value) {
  out->append("STAT ");
  out->append(name);
  out->push_back(' ');
  out->append(value);
  out->append("\r\n");
}

void appendStat(std::string* out, std::string_view name, uint64_t value) {
  out->append("STAT ");
  out->append(name);
  out->push_back(' ');
  appendUnsigned(out, value);
  out->append("\r\n");
}

}  // namespace mcbridge::protocol
