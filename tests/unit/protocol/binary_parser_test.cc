// The binary protocol parser: byte literals for every opcode, fed whole and split at every
// point the way a connection feeds it (need-more consumes nothing and names what it needs;
// swallowed bytes may arrive later), as parse_test_util.h does for the text parser.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "protocol/binary.h"
#include "protocol/binary_reply.h"

using namespace mcbridge::protocol;
using namespace mcbridge::protocol::binary;
using namespace std::literals;

namespace {

std::string be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be32(uint32_t v) {
  return be16(static_cast<uint16_t>(v >> 16)) + be16(static_cast<uint16_t>(v));
}
std::string be64(uint64_t v) {
  return be32(static_cast<uint32_t>(v >> 32)) + be32(static_cast<uint32_t>(v));
}

// A request packet; lengths computed unless given.
std::string packet(uint8_t opcode, std::string_view key = {}, std::string_view extras = {},
                   std::string_view value = {}, uint32_t opaque = 0, uint64_t cas = 0,
                   int64_t bodylen = -1, int keylen = -1, int extlen = -1) {
  std::string p;
  p.push_back(static_cast<char>(0x80));
  p.push_back(static_cast<char>(opcode));
  p += be16(static_cast<uint16_t>(keylen < 0 ? key.size() : static_cast<size_t>(keylen)));
  p.push_back(static_cast<char>(extlen < 0 ? extras.size() : static_cast<size_t>(extlen)));
  p.push_back(0);
  p += be16(0);
  p += be32(static_cast<uint32_t>(bodylen < 0 ? key.size() + extras.size() + value.size()
                                              : static_cast<uint64_t>(bodylen)));
  p.append(reinterpret_cast<const char*>(&opaque), 4);
  p += be64(cas);
  p += extras;
  p += key;
  p += value;
  return p;
}

std::string describe(const Packet& p) {
  std::string s;
  switch (p.action) {
    case Action::kCommand:
      s = std::string(commandName(p.req.command));
      break;
    case Action::kFlush:
      s = "flush";
      break;
    case Action::kNoop:
      s = "noop";
      break;
    case Action::kVersion:
      s = "version";
      break;
    case Action::kQuit:
      s = "quit";
      break;
    case Action::kStat:
      s = "stat";
      break;
    case Action::kSaslListMechs:
      s = "sasl_list";
      break;
    case Action::kSaslAuth:
      s = "sasl_auth";
      break;
    case Action::kSaslStep:
      s = "sasl_step";
      break;
    case Action::kError:
      return "ERROR " + std::to_string(p.error) + (p.close ? " close" : "");
  }
  if (p.quiet) s += " quiet";
  if (!p.key.empty()) s += " key=" + std::string(p.key);
  if (!p.value.empty()) s += " value=" + std::string(p.value);
  const Request& r = p.req;
  if (r.flags) s += " flags=" + std::to_string(r.flags);
  if (r.exptime) s += " exptime=" + std::to_string(r.exptime);
  if (r.cas_unique) s += " cas=" + std::to_string(r.cas_unique);
  if (r.delta) s += " delta=" + std::to_string(r.delta);
  if (r.initial) s += " initial=" + std::to_string(r.initial);
  if (r.create) s += " create";
  if (!r.data.empty()) s += " data=" + std::string(r.data);
  if (r.too_large) s += " too_large";
  if (p.opaque) s += " opaque=" + std::to_string(p.opaque);
  return s;
}

std::vector<std::string> feed(std::string_view in, size_t chunk, bool sasl = false,
                              bool authenticated = true, ParserLimits limits = {}) {
  const binary::Parser parser(limits);
  std::vector<std::string> events;
  std::string buf;
  size_t fed = 0;
  uint64_t swallow = 0;
  while (true) {
    const size_t n = std::min(chunk, in.size() - fed);
    buf.append(in.substr(fed, n));
    fed += n;
    const auto drop = static_cast<size_t>(std::min<uint64_t>(swallow, buf.size()));
    buf.erase(0, drop);
    swallow -= drop;
    while (swallow == 0) {
      Packet p;
      const ParseResult r = parser.parse(buf, sasl, authenticated, &p);
      if (r.status == ParseStatus::kNeedMore) {
        REQUIRE(r.consumed == 0);
        REQUIRE(r.needed > buf.size());
        break;
      }
      if (r.status == ParseStatus::kClose) {
        events.push_back("CLOSE");
        return events;
      }
      REQUIRE(r.status == ParseStatus::kOk);
      REQUIRE(r.consumed >= kHeaderSize);
      REQUIRE(r.consumed <= buf.size());
      for (std::string_view v : {p.key, p.value, p.req.key, p.req.data}) {
        if (v.empty()) continue;
        REQUIRE(v.data() >= buf.data());
        REQUIRE(v.data() + v.size() <= buf.data() + r.consumed);
      }
      events.push_back(describe(p));
      if (p.action == Action::kError && p.close) return events;  // nothing more is read
      const auto now = static_cast<size_t>(std::min<uint64_t>(r.swallow, buf.size() - r.consumed));
      buf.erase(0, r.consumed + now);
      swallow = r.swallow - now;
    }
    if (fed == in.size()) break;
  }
  if (!buf.empty() || swallow != 0)
    events.push_back("PENDING " + std::to_string(buf.size() + swallow));
  return events;
}

using V = std::vector<std::string>;

V all(std::string_view in, bool sasl = false, bool authenticated = true, ParserLimits limits = {}) {
  const V whole = feed(in, in.size() + 1, sasl, authenticated, limits);
  if (in.size() <= 300) {
    for (size_t c = 1; c < in.size(); ++c) {
      INFO("chunk " << c);
      CHECK(feed(in, c, sasl, authenticated, limits) == whole);
    }
  } else {
    for (size_t c : {1u, 7u, 100u, 4096u}) CHECK(feed(in, c, sasl, authenticated, limits) == whole);
  }
  return whole;
}

std::string flagsExp(uint32_t f, uint32_t e) { return be32(f) + be32(e); }

}  // namespace

TEST_CASE("binary: get family") {
  CHECK(all(packet(op::kGet, "k", {}, {}, 7)) == V{"get key=k opaque=7"});
  CHECK(all(packet(op::kGetQ, "k")) == V{"get quiet key=k"});
  CHECK(all(packet(op::kGetK, "k") + packet(op::kGetKQ, "k2")) ==
        V{"get key=k", "get quiet key=k2"});
  CHECK(all(packet(op::kGet, "k").substr(0, 23)) == V{"PENDING 23"});
}

TEST_CASE("binary: storage") {
  CHECK(all(packet(op::kSet, "k", flagsExp(5, 100), "hello", 1)) ==
        V{"set key=k flags=5 exptime=100 data=hello opaque=1"});
  CHECK(all(packet(op::kAddQ, "k", flagsExp(0, 0), "v")) == V{"add quiet key=k data=v"});
  CHECK(all(packet(op::kReplace, "k", flagsExp(0, 0), "")) == V{"replace key=k"});
  // A header CAS turns set, add and replace into a compare-and-swap.
  CHECK(all(packet(op::kAdd, "k", flagsExp(0, 0), "v", 0, 42)) == V{"cas key=k cas=42 data=v"});
  CHECK(all(packet(op::kSetQ, "k", flagsExp(0, 0xffffffff), "v", 0, 9)) ==
        V{"cas quiet key=k exptime=4294967295 cas=9 data=v"});
  CHECK(all(packet(op::kAppend, "k", {}, "tail")) == V{"append key=k data=tail"});
  CHECK(all(packet(op::kPrependQ, "k", {}, "head", 0, 3)) ==
        V{"prepend quiet key=k cas=3 data=head"});
  // The value is awaited only after the header, extras and key are checked.
  CHECK(all(packet(op::kSet, "k", flagsExp(0, 0), "hello").substr(0, 35)) == V{"PENDING 35"});
}

TEST_CASE("binary: a too-large value is swallowed, not awaited") {
  ParserLimits small;
  small.item_size_max = 1024;
  const std::string big(2000, 'x');
  CHECK(all(packet(op::kSet, "k", flagsExp(0, 0), big) + packet(op::kNoop), false, true, small) ==
        V{"set key=k too_large", "noop"});
  CHECK(all(packet(op::kAppendQ, "k", {}, big) + packet(op::kNoop), false, true, small) ==
        V{"append quiet key=k too_large", "noop"});
  // 1024 - 48 - (1 + 1) - 2 - 8 = 964 bytes fit with flags 0; 960 with flags.
  CHECK(
      all(packet(op::kSet, "k", flagsExp(0, 0), std::string(964, 'x')), false, true, small)[0].find(
          "too_large") == std::string::npos);
  CHECK(all(packet(op::kSet, "k", flagsExp(1, 0), std::string(964, 'x')), false, true, small) ==
        V{"set key=k flags=1 too_large"});
}

TEST_CASE("binary: delete, counters, touch, flush, misc") {
  CHECK(all(packet(op::kDeleteQ, "k", {}, {}, 0, 5)) == V{"delete quiet key=k cas=5"});
  CHECK(all(packet(op::kIncrement, "n", be64(3) + be64(10) + be32(0))) ==
        V{"incr key=n delta=3 initial=10 create"});
  CHECK(all(packet(op::kDecrementQ, "n", be64(1) + be64(0) + be32(0xffffffff))) ==
        V{"decr quiet key=n exptime=4294967295 delta=1"});
  CHECK(all(packet(op::kTouch, "k", be32(60))) == V{"touch key=k exptime=60"});
  CHECK(all(packet(op::kGatKQ, "k", be32(0))) == V{"gat quiet key=k"});
  CHECK(all(packet(op::kFlush)) == V{"flush"});
  CHECK(all(packet(op::kFlushQ, {}, be32(10))) == V{"flush quiet exptime=10"});
  CHECK(all(packet(op::kNoop) + packet(op::kVersion) + packet(op::kQuitQ)) ==
        V{"noop", "version", "quit quiet"});
  CHECK(all(packet(op::kStat, "settings")) == V{"stat key=settings"});
  // Body bytes after the key of a command that takes no value are the next packet.
  CHECK(all(packet(op::kStat, "", {}, {}, 0, 0, 24) + packet(op::kNoop)) == V{"stat", "noop"});
}

TEST_CASE("binary: SASL") {
  CHECK(all(packet(op::kSaslListMechs), true, false) == V{"sasl_list"});
  CHECK(all(packet(op::kSaslAuth, "PLAIN", {}, "\0u\0p"sv), true, false) ==
        V{"sasl_auth key=PLAIN value=\0u\0p"s});
  CHECK(all(packet(op::kSaslStep, "PLAIN", {}, "x"), true, false) ==
        V{"sasl_step key=PLAIN value=x"});
  // Without --auth-file: unknown command, the data swallowed, the connection kept.
  CHECK(all(packet(op::kSaslAuth, "PLAIN", {}, "abc") + packet(op::kNoop)) ==
        V{"ERROR 129", "noop"});
  CHECK(all(packet(op::kSaslListMechs)) == V{"ERROR 129"});
  // Unauthenticated: everything but VERSION and SASL is an auth error that closes.
  CHECK(all(packet(op::kGet, "k"), true, false) == V{"ERROR 32 close"});
  CHECK(all(packet(op::kVersion), true, false) == V{"version"});
  CHECK(all(packet(op::kGet, "k"), true, true) == V{"get key=k"});
  // The data must fit an unchunked item: 524288 - (48 + 5 + 1 + 2 + 8) bytes with "PLAIN".
  CHECK(all(packet(op::kSaslAuth, "PLAIN", {}, std::string(524225, 'x')) +
                packet(op::kVersion),
            true, false) == V{"ERROR 130", "version"});
  CHECK(feed(packet(op::kSaslAuth, "PLAIN", {}, std::string(524224, 'x')), 1 << 20, true,
             false)[0].starts_with("sasl_auth key=PLAIN"));
  CHECK(all(packet(op::kSaslAuth, std::string(33, 'M'), {}, "xy") + packet(op::kNoop), true,
            false) == V{"ERROR 4", "ERROR 32 close"});
}

TEST_CASE("binary: malformed packets") {
  CHECK(all("\x81"s + std::string(23, '\0')) == V{"CLOSE"});
  CHECK(all(packet(op::kGet, "k") + "\x00"s + std::string(23, '\0')) == V{"get key=k", "CLOSE"});
  // Key or extras longer than the body: unknown command, then close.
  CHECK(all(packet(op::kGet, "abc", {}, {}, 0, 0, 1)) == V{"ERROR 129 close"});
  CHECK(all(packet(op::kSet, "k", flagsExp(0, 0), {}, 0, 0, 5)) == V{"ERROR 129 close"});
  // Wrong lengths for the opcode: invalid arguments, then close, without awaiting the body.
  CHECK(all(packet(op::kGet, "k", {}, {}, 0, 0, 10)) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kGet, "k", be32(0))) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kGet)) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kSet, "k", {}, "v")) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kIncrement, "k", be64(1))) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kFlush, {}, "\0\0"s)) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kVersion, {}, {}, "x")) == V{"ERROR 4 close"});
  CHECK(all(packet(op::kGet, std::string(251, 'k'))) == V{"ERROR 4 close"});
  // Unknown opcodes: answered, and the whole body length swallowed after the key.
  CHECK(all(packet(0x50, {}, {}, "xyz") + packet(op::kNoop)) == V{"ERROR 129", "noop"});
  CHECK(all(packet(0x50, "ab") + packet(op::kNoop)) == V{"ERROR 129", "PENDING 22"});
  CHECK(all(packet(0x50, "ab") + packet(op::kNoop) + packet(op::kNoop)) == V{"ERROR 129", "CLOSE"});
}

TEST_CASE("binary replies") {
  std::string out;
  appendError(&out, op::kGet, status::kKeyNotFound, 0x01020304);
  CHECK(out == "\x81\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09\x04\x03\x02\x01"s +
                   std::string(8, '\0') + "Not found");
  out.clear();
  appendItem(&out, op::kGetK, 0, 7, 0xdeadbeef, "k", "v");
  CHECK(out == "\x81\x0c\x00\x01\x04\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00"s + be64(7) +
                   "\xde\xad\xbe\xef" + "kv");
  out.clear();
  appendStatsFromText(&out, op::kStat, 0, "STAT pid 12\r\nSTAT a b c\r\nEND\r\n");
  CHECK(out.size() == 3 * 24 + 5 + 4);
  CHECK(out.substr(24, 5) == "pid12");
  CHECK(out.substr(24 + 5 + 24, 4) == "ab c");
}
