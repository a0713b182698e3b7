// The binary protocol parser (binary.h), emulating memcached 1.6.18's proto_bin.c: the order of
// its checks decides which error a malformed packet gets and whether the connection survives.
#include <cstring>

#include "protocol/binary.h"

namespace mcbridge::protocol::binary {
namespace {

constexpr size_t kMaxSaslMechLength = 32;

uint16_t load16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}
uint32_t load32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
uint64_t load64(const char* p) { return (uint64_t{load32(p)} << 32) | load32(p + 4); }

ParseResult ok(size_t consumed, uint64_t swallow = 0) {
  ParseResult r;
  r.status = ParseStatus::kOk;
  r.consumed = consumed;
  r.swallow = swallow;
  return r;
}

ParseResult needMore(size_t needed) {
  ParseResult r;
  r.status = ParseStatus::kNeedMore;
  r.needed = needed;
  return r;
}

// memcached maps each quiet opcode to its plain one and sets noreply.
uint8_t loudOpcode(uint8_t opcode, bool* quiet) {
  *quiet = true;
  switch (opcode) {
    case op::kSetQ:
      return op::kSet;
    case op::kAddQ:
      return op::kAdd;
    case op::kReplaceQ:
      return op::kReplace;
    case op::kDeleteQ:
      return op::kDelete;
    case op::kIncrementQ:
      return op::kIncrement;
    case op::kDecrementQ:
      return op::kDecrement;
    case op::kQuitQ:
      return op::kQuit;
    case op::kFlushQ:
      return op::kFlush;
    case op::kAppendQ:
      return op::kAppend;
    case op::kPrependQ:
      return op::kPrepend;
    case op::kGetQ:
      return op::kGet;
    case op::kGetKQ:
      return op::kGetK;
    case op::kGatQ:
      return op::kGat;
    case op::kGatKQ:
      return op::kGatK;
    default:
      *quiet = false;
      return opcode;
  }
}

}  // namespace

ParseResult Parser::parse(std::string_view in, bool sasl_required, bool authenticated,
                          Packet* out) const {
  if (in.size() < kHeaderSize) return needMore(kHeaderSize);
  const char* h = in.data();
  if (static_cast<uint8_t>(h[0]) != kRequestMagic) {
    ParseResult r;
    r.status = ParseStatus::kClose;
    return r;
  }
  const auto opcode = static_cast<uint8_t>(h[1]);
  const uint16_t keylen = load16(h + 2);
  const auto extlen = static_cast<uint8_t>(h[4]);
  const uint32_t bodylen = load32(h + 8);
  const size_t head = kHeaderSize + extlen + keylen;  // what memcached reads before dispatch
  if (in.size() < head) return needMore(head);

  Packet p;
  p.opcode = opcode;
  std::memcpy(&p.opaque, h + 12, 4);
  p.cas = load64(h + 16);
  const std::string_view extras = in.substr(kHeaderSize, extlen);
  p.key = in.substr(kHeaderSize + extlen, keylen);
  auto fail = [&](uint16_t error, bool close, uint64_t swallow = 0) {
    p.action = Action::kError;
    p.error = error;
    p.close = close;
    p.key = {};
    *out = p;
    return ok(head, swallow);
  };

  if (keylen > bodylen || size_t{keylen} + extlen > bodylen) {
    return fail(status::kUnknownCommand, true);
  }
  if (sasl_required && !authenticated && opcode != op::kSaslListMechs && opcode != op::kSaslAuth &&
      opcode != op::kSaslStep && opcode != op::kVersion) {
    return fail(status::kAuthError, true);
  }
  if (keylen > kMaxKeyLength) return fail(status::kInvalidArguments, true);

  const uint8_t cmd = loudOpcode(opcode, &p.quiet);
  Request& req = p.req;
  req.binary = true;
  req.opcode = opcode;
  req.opaque = p.opaque;
  req.noreply = p.quiet;
  req.key = p.key;
  const uint64_t value_length = uint64_t{bodylen} - keylen - extlen;

  switch (cmd) {
    // VERSION, NOOP, QUIT, SASL_LIST_MECHS: no extras, key or value.
    case op::kVersion:
    case op::kNoop:
    case op::kQuit:
    case op::kSaslListMechs:
      if (extlen != 0 || keylen != 0 || bodylen != 0) break;
      p.action = cmd == op::kVersion ? Action::kVersion
                 : cmd == op::kNoop  ? Action::kNoop
                 : cmd == op::kQuit  ? Action::kQuit
                                     : Action::kSaslListMechs;
      if (p.action == Action::kSaslListMechs && !sasl_required) {
        return fail(status::kUnknownCommand, false);
      }
      *out = p;
      return ok(head);
    // FLUSH: optional 4-byte extras, the delay.
    case op::kFlush:
      if (keylen != 0 || bodylen != extlen || (extlen != 0 && extlen != 4)) break;
      p.action = Action::kFlush;
      req.command = Command::kFlushAll;
      if (extlen == 4) {
        // memcached reads it as a signed time_t from a uint32: 0xffffffff is a huge delay.
        req.exptime = load32(extras.data());
        req.has_exptime = true;
      }
      *out = p;
      return ok(head);
    // SET/ADD/REPLACE: extras flags + expiration, a key, a value. A header CAS makes any of them
    // a compare-and-swap (memcached turns them all into NREAD_CAS).
    case op::kSet:
    case op::kAdd:
    case op::kReplace: {
      if (extlen != 8 || keylen == 0 || bodylen < size_t{keylen} + 8) break;
      req.command = p.cas != 0        ? Command::kCas
                    : cmd == op::kSet ? Command::kSet
                    : cmd == op::kAdd ? Command::kAdd
                                      : Command::kReplace;
      req.cas_unique = p.cas;
      req.flags = load32(extras.data());
      // Binary expirations are unsigned (memcached widens the uint32 to a time_t).
      req.exptime = load32(extras.data() + 4);
      if (value_length > maxValueBytes(limits_.item_size_max, keylen, req.flags)) {
        // memcached answers at once and swallows the value; for SET it also drops the old item.
        req.command = cmd == op::kSet ? Command::kSet : req.command;
        req.too_large = true;
        req.value_length =
            static_cast<uint32_t>(value_length > UINT32_MAX ? UINT32_MAX : value_length);
        *out = p;
        return ok(head, value_length);
      }
      const size_t total = head + value_length;
      if (in.size() < total) return needMore(total);
      req.value_length = static_cast<uint32_t>(value_length);
      req.data = in.substr(head, value_length);
      *out = p;
      return ok(total);
    }
    // APPEND/PREPEND: a key and a value, no extras.
    case op::kAppend:
    case op::kPrepend: {
      if (keylen == 0 || extlen != 0) break;
      req.command = cmd == op::kAppend ? Command::kAppend : Command::kPrepend;
      req.cas_unique = p.cas;
      if (value_length > maxValueBytes(limits_.item_size_max, keylen, 0)) {
        req.too_large = true;
        req.value_length =
            static_cast<uint32_t>(value_length > UINT32_MAX ? UINT32_MAX : value_length);
        *out = p;
        return ok(head, value_length);
      }
      const size_t total = head + value_length;
      if (in.size() < total) return needMore(total);
      req.value_length = static_cast<uint32_t>(value_length);
      req.data = in.substr(head, value_length);
      *out = p;
      return ok(total);
    }
    // GET/GETK(Q): a key only.
    case op::kGet:
    case op::kGetK:
      if (extlen != 0 || bodylen != keylen || keylen == 0) break;
      req.command = Command::kGet;
      req.key_count = 1;
      *out = p;
      return ok(head);
    // DELETE(Q): a key only; a header CAS must match.
    case op::kDelete:
      if (keylen == 0 || extlen != 0 || bodylen != keylen) break;
      req.command = Command::kDelete;
      req.cas_unique = p.cas;
      *out = p;
      return ok(head);
    // INCR/DECR(Q): extras delta (8), initial (8), expiration (4); 0xffffffff = do not create.
    case op::kIncrement:
    case op::kDecrement: {
      if (keylen == 0 || extlen != 20 || bodylen != size_t{keylen} + extlen) break;
      req.command = cmd == op::kIncrement ? Command::kIncr : Command::kDecr;
      req.cas_unique = p.cas;
      req.delta = load64(extras.data());
      req.initial = load64(extras.data() + 8);
      const uint32_t expiration = load32(extras.data() + 16);
      req.create = expiration != 0xffffffffu;
      req.exptime = expiration;
      *out = p;
      return ok(head);
    }
    // STAT: the key is the group; any value bytes are left in the stream.
    case op::kStat:
      if (extlen != 0) break;
      p.action = Action::kStat;
      *out = p;
      return ok(head);
    // TOUCH, GAT/GATK(Q): extras expiration, a key; any value bytes are left in the stream.
    case op::kTouch:
    case op::kGat:
    case op::kGatK:
      if (extlen != 4 || keylen == 0) break;
      req.command = cmd == op::kTouch ? Command::kTouch : Command::kGat;
      req.exptime = load32(extras.data());
      req.key_count = 1;
      *out = p;
      return ok(head);
    // SASL_AUTH/STEP: the key is the mechanism, the value its data.
    case op::kSaslAuth:
    case op::kSaslStep: {
      if (extlen != 0 || keylen == 0) break;
      if (!sasl_required) return fail(status::kUnknownCommand, false, uint64_t{bodylen} - keylen);
      if (keylen > kMaxSaslMechLength) return fail(status::kInvalidArguments, false, value_length);
      // memcached reads the data into an item that may not be chunked: one of at most half a
      // slab page (512 KiB with the default 1 MiB item size), else "Out of memory".
      const uint32_t chunk_max =
          limits_.item_size_max >= 1024 * 1024 ? 512 * 1024 : limits_.item_size_max / 2;
      if (value_length > maxValueBytes(chunk_max, keylen, 0)) {
        return fail(status::kOutOfMemory, false, value_length);
      }
      const size_t total = head + value_length;
      if (in.size() < total) return needMore(total);
      p.action = cmd == op::kSaslAuth ? Action::kSaslAuth : Action::kSaslStep;
      p.value = in.substr(head, value_length);
      *out = p;
      return ok(total);
    }
    default:
      // memcached swallows the whole body length after the extras and key it has already read.
      return fail(status::kUnknownCommand, false, bodylen);
  }
  return fail(status::kInvalidArguments, true);
}

}  // namespace mcbridge::protocol::binary
