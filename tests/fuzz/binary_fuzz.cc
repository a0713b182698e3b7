// libFuzzer target for the binary protocol parser and the ASCII auth handshake (memcached -Y).
//
// Input: one mode byte, then the bytes a client sends. The mode picks the limits (default, or a
// 1 KiB item limit so the too-large paths are reachable), whether SASL is required and done,
// and a read size. Each parser runs the input like a connection twice, in one read and in reads
// of that size, checks its contract on every call, and aborts if the two runs disagree. Parsed
// packets are also fed to the binary reply writers.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ascii_auth.h"
#include "protocol/binary.h"
#include "protocol/binary_reply.h"

namespace {

namespace bin = mcbridge::protocol::binary;
using mcbridge::protocol::AsciiAuthResult;
using mcbridge::protocol::AsciiAuthStatus;
using mcbridge::protocol::ParseResult;
using mcbridge::protocol::ParserLimits;
using mcbridge::protocol::ParseStatus;
using mcbridge::protocol::parseAsciiAuth;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "contract violated: %s\n", what);
    std::abort();
  }
}

bool within(std::string_view v, std::string_view in, size_t consumed) {
  return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + consumed);
}

std::string signature(const ParseResult& r, const bin::Packet& p) {
  std::string s = std::to_string(static_cast<int>(r.status));
  if (r.status != ParseStatus::kOk) return s;
  const auto& q = p.req;
  s += ' ' + std::to_string(static_cast<int>(p.action)) + ' ' + std::to_string(p.opcode) + ' ' +
       std::to_string(p.opaque) + ' ' + std::to_string(p.cas) + ' ' + std::to_string(p.quiet) +
       std::string(p.key) + '|' + std::string(p.value) + '|' + std::to_string(p.error) +
       std::to_string(p.close) + '|' + std::to_string(static_cast<int>(q.command)) +
       std::string(q.key) + '|' + std::to_string(q.flags) + '|' + std::to_string(q.exptime) +
       '|' + std::to_string(q.cas_unique) + '|' + std::to_string(q.delta) + '|' +
       std::to_string(q.initial) + std::to_string(q.create) + '|' + std::string(q.data) + '|' +
       std::to_string(q.too_large) + '|' + std::to_string(r.consumed) + '|' +
       std::to_string(r.swallow);
  return s;
}

// Exercises the reply writers with what a packet carries; checks the lengths they declare.
void writeReplies(const bin::Packet& p) {
  std::string out;
  bin::appendError(&out, p.opcode, p.error, p.opaque);
  bin::appendItem(&out, p.opcode, p.opaque, p.cas, p.req.flags, p.key.substr(0, 250),
                  p.req.data);
  bin::appendCounter(&out, p.opcode, p.opaque, p.cas, p.req.delta);
  size_t pos = 0;
  int packets = 0;
  while (pos + bin::kHeaderSize <= out.size()) {
    const auto* h = reinterpret_cast<const unsigned char*>(out.data() + pos);
    check(h[0] == bin::kResponseMagic, "reply magic");
    const uint32_t body = (uint32_t{h[8]} << 24) | (uint32_t{h[9]} << 16) |
                          (uint32_t{h[10]} << 8) | h[11];
    pos += bin::kHeaderSize + body;
    ++packets;
  }
  check(pos == out.size() && packets == 3, "reply lengths add up");
}

std::vector<std::string> runBinary(std::string_view in, size_t read_size,
                                   const ParserLimits& limits, bool sasl, bool authenticated) {
  const bin::Parser parser(limits);
  std::vector<std::string> events;
  std::string buf;
  size_t fed = 0;
  uint64_t swallow = 0;
  while (true) {
    const size_t n = read_size < in.size() - fed ? read_size : in.size() - fed;
    buf.append(in.substr(fed, n));
    fed += n;
    const size_t drop = swallow < buf.size() ? static_cast<size_t>(swallow) : buf.size();
    buf.erase(0, drop);
    swallow -= drop;
    while (swallow == 0) {
      bin::Packet p;
      const ParseResult r = parser.parse(buf, sasl, authenticated, &p);
      if (r.status == ParseStatus::kNeedMore) {
        check(r.consumed == 0, "need-more consumes nothing");
        check(r.needed > buf.size(), "need-more asks for more than it has");
        break;
      }
      events.push_back(signature(r, p));
      if (r.status == ParseStatus::kClose) return events;
      check(r.status == ParseStatus::kOk, "ok, need-more or close only");
      check(r.consumed >= bin::kHeaderSize && r.consumed <= buf.size(), "consumed in range");
      for (std::string_view v : {p.key, p.value, p.req.key, p.req.data}) {
        check(within(v, buf, r.consumed), "views point into the consumed bytes");
      }
      writeReplies(p);
      if (p.action == bin::Action::kError && p.close) return events;
      const size_t now = r.swallow < buf.size() - r.consumed ? static_cast<size_t>(r.swallow)
                                                             : buf.size() - r.consumed;
      buf.erase(0, r.consumed + now);
      swallow = r.swallow - now;
    }
    if (fed == in.size()) break;
  }
  events.push_back("PENDING " + std::to_string(buf.size() + swallow));
  return events;
}

std::vector<std::string> runAsciiAuth(std::string_view in, size_t read_size, size_t max_data) {
  std::vector<std::string> events;
  std::string buf;
  size_t fed = 0;
  while (true) {
    const size_t n = read_size < in.size() - fed ? read_size : in.size() - fed;
    buf.append(in.substr(fed, n));
    fed += n;
    while (true) {
      const AsciiAuthResult r = parseAsciiAuth(buf, max_data);
      if (r.status == AsciiAuthStatus::kNeedMore) {
        check(r.consumed == 0, "auth need-more consumes nothing");
        check(r.needed == 0 || r.needed > buf.size(), "auth need-more asks for more");
        break;
      }
      if (r.status == AsciiAuthStatus::kClose) {
        events.emplace_back("CLOSE");
        return events;
      }
      check(r.consumed > 0 && r.consumed <= buf.size(), "auth consumed in range");
      check(within(r.user, buf, r.consumed) && within(r.password, buf, r.consumed),
            "auth views point into the consumed bytes");
      events.push_back(std::string(r.reply) + '|' + std::string(r.user) + '|' +
                       std::string(r.password) + '|' + std::to_string(r.consumed));
      buf.erase(0, r.consumed);
    }
    if (fed == in.size()) break;
  }
  events.push_back("PENDING " + std::to_string(buf.size()));
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  ParserLimits limits;
  if (mode & 1) limits.item_size_max = 1024;
  const bool sasl = (mode & 2) != 0;
  const bool authenticated = (mode & 4) != 0;
  const size_t read_size = 1 + (mode >> 3);
  const size_t whole = in.size() + 1;
  check(runBinary(in, whole, limits, sasl, authenticated) ==
            runBinary(in, read_size, limits, sasl, authenticated),
        "binary outcome depends on read sizes");
  check(runAsciiAuth(in, whole, limits.item_size_max) ==
            runAsciiAuth(in, read_size, limits.item_size_max),
        "ascii auth outcome depends on read sizes");
  return 0;
}
