// memcached's binary protocol (memcached 1.6.18, proto_bin.c): opcodes, status codes, and an
// incremental parser beside the text one (parser.h), with the same contract.
//
// A packet is a fixed 24-byte header (magic 0x80, opcode, key length, extras length, data type,
// vbucket, total body length, opaque, CAS), then extras, key and value. Like memcached, the
// parser reads the header, waits only for the extras and key, checks the lengths and only then
// waits for a value (set/add/replace/append/prepend, SASL data); commands that take no value
// leave any further body bytes in the stream, where memcached reads them as the next packet.
//
// Pure: no I/O, no allocation. Views in the result point into the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/parser.h"
#include "protocol/request.h"

namespace mcbridge::protocol::binary {

inline constexpr size_t kHeaderSize = 24;
inline constexpr uint8_t kRequestMagic = 0x80;
inline constexpr uint8_t kResponseMagic = 0x81;

namespace op {
inline constexpr uint8_t kGet = 0x00;
inline constexpr uint8_t kSet = 0x01;
inline constexpr uint8_t kAdd = 0x02;
inline constexpr uint8_t kReplace = 0x03;
inline constexpr uint8_t kDelete = 0x04;
inline constexpr uint8_t kIncrement = 0x05;
inline constexpr uint8_t kDecrement = 0x06;
inline constexpr uint8_t kQuit = 0x07;
inline constexpr uint8_t kFlush = 0x08;
inline constexpr uint8_t kGetQ = 0x09;
inline constexpr uint8_t kNoop = 0x0a;
inline constexpr uint8_t kVersion = 0x0b;
inline constexpr uint8_t kGetK = 0x0c;
inline constexpr uint8_t kGetKQ = 0x0d;
inline constexpr uint8_t kAppend = 0x0e;
inline constexpr uint8_t kPrepend = 0x0f;
inline constexpr uint8_t kStat = 0x10;
inline constexpr uint8_t kSetQ = 0x11;
inline constexpr uint8_t kAddQ = 0x12;
inline constexpr uint8_t kReplaceQ = 0x13;
inline constexpr uint8_t kDeleteQ = 0x14;
inline constexpr uint8_t kIncrementQ = 0x15;
inline constexpr uint8_t kDecrementQ = 0x16;
inline constexpr uint8_t kQuitQ = 0x17;
inline constexpr uint8_t kFlushQ = 0x18;
inline constexpr uint8_t kAppendQ = 0x19;
inline constexpr uint8_t kPrependQ = 0x1a;
inline constexpr uint8_t kTouch = 0x1c;
inline constexpr uint8_t kGat = 0x1d;
inline constexpr uint8_t kGatQ = 0x1e;
inline constexpr uint8_t kSaslListMechs = 0x20;
inline constexpr uint8_t kSaslAuth = 0x21;
inline constexpr uint8_t kSaslStep = 0x22;
inline constexpr uint8_t kGatK = 0x23;
inline constexpr uint8_t kGatKQ = 0x24;
}  // namespace op

namespace status {
inline constexpr uint16_t kSuccess = 0x00;
inline constexpr uint16_t kKeyNotFound = 0x01;
inline constexpr uint16_t kKeyExists = 0x02;
inline constexpr uint16_t kTooLarge = 0x03;
inline constexpr uint16_t kInvalidArguments = 0x04;
inline constexpr uint16_t kNotStored = 0x05;
inline constexpr uint16_t kDeltaBadValue = 0x06;
inline constexpr uint16_t kAuthError = 0x20;
inline constexpr uint16_t kAuthContinue = 0x21;
inline constexpr uint16_t kUnknownCommand = 0x81;
inline constexpr uint16_t kOutOfMemory = 0x82;
// Not sent by memcached 1.6.18 (its protocol_binary.h stops at 0x82); used by mcbridge for a
// Redis failure, with the reason as the body. 0x86 is "temporary failure" in the protocol's
// later revisions and in libmemcached.
inline constexpr uint16_t kTemporaryFailure = 0x86;
}  // namespace status

// What a parsed packet asks for.
enum class Action : uint8_t {
  kCommand,  // `req` is a key command for the translator (get, set, delete, ...)
  kFlush,    // `req` is flush_all (delay in req.exptime when has_exptime)
  kNoop,
  kVersion,
  kQuit,  // answer unless quiet, then close
  kStat,  // `key` is the group ("" = general)
  kSaslListMechs,
  kSaslAuth,  // `key` is the mechanism, `value` the data
  kSaslStep,
  kError,  // answer `error` (with its standard message); close after it if `close`
};

struct Packet {
  Action action = Action::kCommand;
  uint8_t opcode = 0;   // as sent (quiet variants included)
  uint32_t opaque = 0;  // echoed in every reply packet, as sent (byte order untouched)
  uint64_t cas = 0;     // the header's CAS
  bool quiet = false;
  std::string_view key;
  std::string_view value;
  uint16_t error = 0;  // kError
  bool close = false;  // kError: close the connection after the reply
  Request req;         // kCommand, kFlush
};

// Parses one packet from the start of `in`. kOk: *out holds it; drop `consumed` bytes, then
// discard `swallow` more (a too-large value, an unknown command's body). kNeedMore: nothing
// consumed; call again with at least `needed` bytes. kClose: bad magic, close without a reply
// to it. kError is not used:
// an error reply needs the packet's opaque, so it comes as kOk with Action::kError.
// `authenticated` is false while SASL authentication is required and not done: every opcode
// but VERSION and the SASL ones then answers an auth error and closes, as memcached -S does.
class Parser {
 public:
  explicit Parser(ParserLimits limits = {}) : limits_(limits) {}
  [[nodiscard]] ParseResult parse(std::string_view in, bool sasl_required, bool authenticated,
                                  Packet* out) const;

 private:
  ParserLimits limits_;
};

}  // namespace mcbridge::protocol::binary
