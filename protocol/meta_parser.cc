// Meta commands as memcached 1.6.18 parses them (its proto_text.c behaviour, verified against
// the binary; see meta_parser.h). The checks run in memcached's order, because the order decides
// which error a line with several faults gets, and whether an ms data block is swallowed.
#include "protocol/meta_parser.h"

#include "protocol/base64.h"
#include "protocol/parse_util.h"
#include "protocol/reply.h"

namespace mcbridge::protocol {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): the shared parse helpers

constexpr std::string_view kInvalidFlag = "CLIENT_ERROR invalid flag\r\n";
constexpr std::string_view kDuplicateFlag = "CLIENT_ERROR duplicate flag\r\n";
constexpr std::string_view kBadToken = "CLIENT_ERROR bad token in command line format\r\n";
constexpr std::string_view kDecodeError = "CLIENT_ERROR error decoding key\r\n";
constexpr std::string_view kModeLength = "CLIENT_ERROR incorrect length for M token\r\n";
constexpr std::string_view kBadInitial = "CLIENT_ERROR invalid numeric initial value\r\n";
constexpr std::string_view kBadDelta = "CLIENT_ERROR invalid numeric delta value\r\n";
constexpr std::string_view kOpaqueTooLong = "CLIENT_ERROR opaque token too long\r\n";
constexpr std::string_view kGetFlagsTooLong = "CLIENT_ERROR options flags are too long\r\n";
constexpr std::string_view kFlagsTooLong = "CLIENT_ERROR options flags too long\r\n";
constexpr std::string_view kInvalidOrDuplicate = "CLIENT_ERROR invalid or duplicate flag\r\n";
constexpr std::string_view kBadSetMode = "CLIENT_ERROR invalid mode for ms M token\r\n";
constexpr std::string_view kBadArithMode = "CLIENT_ERROR invalid mode for ma M token\r\n";

// The flag tokens words[start..]: their text from the first to the last.
std::string_view flagTokens(const MetaLine& line, size_t start) {
  if (start >= line.words.size()) return {};
  const char* b = line.words[start].data();
  const std::string_view last = line.words.back();
  return {b, static_cast<size_t>(last.data() + last.size() - b)};
}

// memcached's flag pre-parse. A duplicate or unknown flag stops at once; a bad token value only
// records its error and goes on, so a later fault's message wins. `*err` keeps the caller's
// default when the fault has no message of its own (a bad F token).
bool preparse(const MetaLine& line, size_t start, std::string_view key, MetaFlags* f,
              std::string_view* err) {
  bool failed = false;
  for (size_t i = start; i < line.words.size(); ++i) {
    const std::string_view w = line.words[i];
    const auto o = static_cast<unsigned char>(w[0]);
    const uint64_t bit = metaBit(static_cast<char>(o));
    // 1.6.18 reports bytes >= 127 as duplicates (its seen[] table has 127 entries).
    if (o >= 127 || (bit != 0 && (f->seen & bit) != 0)) {
      *err = kDuplicateFlag;
      return false;
    }
    const std::string_view arg = w.substr(1);
    switch (o) {
      case 'b': {
        char buf[kMaxDecodedKey];
        if (base64Decode(key, buf, sizeof buf) == 0) {
          *err = kDecodeError;
          failed = true;
        }
        f->base64 = true;
        break;
      }
      case 'N':
      case 'T':
      case 'R': {
        int64_t v = 0;
        if (!parseExptime(arg, &v)) {
          *err = kBadToken;
          failed = true;
        } else {
          (o == 'N' ? f->vivify_ttl : o == 'T' ? f->ttl : f->recache) = v;
        }
        break;
      }
      case 'l': case 'O': case 'P': case 'L': case 'k': case 's': case 't': case 'c':
      case 'f': case 'v': case 'h': case 'u': case 'q': case 'I':
        break;
      case 'F':
        if (!parseU32(arg, &f->client_flags)) failed = true;
        break;
      case 'C':
        if (!parseU64(arg, &f->compare_cas)) {
          *err = kBadToken;
          failed = true;
        }
        break;
      case 'M':
        if (w.size() != 2) {
          *err = kModeLength;
          failed = true;
        } else {
          f->mode = w[1];
        }
        break;
      case 'J':
        if (!parseU64(arg, &f->initial)) {
          *err = kBadInitial;
          failed = true;
        }
        break;
      case 'D':
        if (!parseU64(arg, &f->delta)) {
          *err = kBadDelta;
          failed = true;
        }
        break;
      default:
        *err = kInvalidFlag;
        return false;
    }
    f->seen |= bit;
  }
  return !failed;
}

bool opaqueTooLong(const MetaLine& line, size_t start) {
  for (size_t i = start; i < line.words.size(); ++i) {
    if (line.words[i][0] == 'O' && line.words[i].size() > kMaxOpaqueLength) return true;
  }
  return false;
}

size_t decodedLength(const Request& req) {
  char buf[kMaxDecodedKey];
  return req.meta.base64 ? base64Decode(req.key, buf, sizeof buf) : req.key.size();
}

// mg <key> <flags>*
ParseResult parseGet(const MetaLine& line, Request* out) {
  const size_t n = line.words.size();
  if (n < 2) return errorResult(line.consumed, reply::kError);
  if (line.words[1].size() > kMaxKeyLength) return errorResult(line.consumed, reply::kBadFormat);
  if (n + 1 > kMaxMetaTokens) return errorResult(line.consumed, kGetFlagsTooLong);
  Request req;
  req.command = Command::kMetaGet;
  req.key = line.words[1];
  std::string_view err = reply::kBadFormat;
  if (!preparse(line, 2, req.key, &req.meta, &err)) return errorResult(line.consumed, err);
  if (opaqueTooLong(line, 2)) {
    // memcached finds a too-long opaque while it answers: after N created the item and after
    // T tokens before it touched it. Without N and T nothing happened before the error.
    if (!req.meta.has('N') && !req.meta.has('T')) {
      return errorResult(line.consumed, kOpaqueTooLong);
    }
    req.meta.opaque_too_long = true;
  }
  req.meta.tokens = flagTokens(line, 2);
  req.noreply = req.meta.has('q');
  *out = req;
  return okResult(line.consumed);
}

// ms <key> <datalen> <flags>*\r\n<data>\r\n
// Errors found after <datalen> was read swallow the data block (ParseResult::swallow).
ParseResult parseSet(const MetaLine& line, const ParserLimits& limits, Request* out) {
  const size_t n = line.words.size();
  if (n < 2) return errorResult(line.consumed, reply::kError);
  if (line.words[1].size() > kMaxKeyLength) return errorResult(line.consumed, reply::kBadFormat);
  if (n == 2) return errorResult(line.consumed, reply::kBadFormat);
  if (n + 1 > kMaxMetaTokens) return errorResult(line.consumed, kFlagsTooLong);
  int64_t vlen = 0;
  if (!parseI64(line.words[2], &vlen) || vlen < 0 || vlen > INT_MAX - 2) {
    return errorResult(line.consumed, reply::kBadFormat);
  }
  auto swallowing = [&](std::string_view err) {
    ParseResult r = errorResult(line.consumed, err);
    r.swallow = static_cast<uint64_t>(vlen) + 2;
    return r;
  };
  Request req;
  req.command = Command::kMetaSet;
  req.key = line.words[1];
  std::string_view err = reply::kBadFormat;
  if (!preparse(line, 3, req.key, &req.meta, &err)) return swallowing(err);
  const bool opaque_too_long = opaqueTooLong(line, 3);
  switch (req.meta.mode) {
    case 0: case 'E': case 'A': case 'P': case 'R': case 'S':
      break;
    default:
      return swallowing(kBadSetMode);
  }
  if (opaque_too_long) return swallowing(kOpaqueTooLong);
  req.meta.tokens = flagTokens(line, 3);
  req.noreply = req.meta.has('q');
  req.flags = req.meta.client_flags;
  req.exptime = req.meta.ttl;
  req.value_length = static_cast<uint32_t>(vlen);
  if (!fitsInItem(limits.item_size_max, decodedLength(req), req.flags, req.value_length)) {
    req.too_large = true;
    *out = req;
    ParseResult r = okResult(line.consumed);
    r.swallow = static_cast<uint64_t>(vlen) + 2;
    return r;
  }
  const size_t total = line.consumed + req.value_length + 2;
  if (line.in.size() < total) return needMoreResult(total);
  // Like set: exactly <datalen>+2 bytes, the last two must be "\r\n"; q does not hide the error.
  if (line.in[total - 2] != '\r' || line.in[total - 1] != '\n') {
    return errorResult(total, reply::kBadDataChunk);
  }
  req.data = line.in.substr(line.consumed, req.value_length);
  *out = req;
  return okResult(total);
}

// md <key> <flags>*    ma <key> <flags>*
ParseResult parseDeleteOrArithmetic(const MetaLine& line, Command command, Request* out) {
  const size_t n = line.words.size();
  if (n < 2) return errorResult(line.consumed, reply::kError);
  if (line.words[1].size() > kMaxKeyLength) return errorResult(line.consumed, reply::kBadFormat);
  if (n + 1 > kMaxMetaTokens) return errorResult(line.consumed, kFlagsTooLong);
  Request req;
  req.command = command;
  req.key = line.words[1];
  std::string_view err;
  if (!preparse(line, 2, req.key, &req.meta, &err)) {
    return errorResult(line.consumed, kInvalidOrDuplicate);
  }
  if (command == Command::kMetaArithmetic) {
    switch (req.meta.mode) {
      case 0: case 'I': case '+': case 'D': case '-':
        break;
      default:
        return errorResult(line.consumed, kBadArithMode);
    }
  }
  if (opaqueTooLong(line, 2)) {
    if (command == Command::kMetaDelete) return errorResult(line.consumed, kOpaqueTooLong);
    req.meta.opaque_too_long = true;
  }
  req.meta.tokens = flagTokens(line, 2);
  req.noreply = req.meta.has('q');
  *out = req;
  return okResult(line.consumed);
}

// me <key> [b]    (other words ignored; b only as the third word)
ParseResult parseDebug(const MetaLine& line, Request* out) {
  const size_t n = line.words.size();
  if (n < 2 || line.words[1].size() > kMaxKeyLength) {
    return errorResult(line.consumed, reply::kBadFormat);
  }
  Request req;
  req.command = Command::kMetaDebug;
  req.key = line.words[1];
  if (n >= 3 && line.words[2] == "b") {
    char buf[kMaxDecodedKey];
    if (base64Decode(req.key, buf, sizeof buf) == 0) {
      return errorResult(line.consumed, reply::kBadFormat);
    }
    req.meta.base64 = true;
  }
  *out = req;
  return okResult(line.consumed);
}

}  // namespace

ParseResult parseMetaCommand(const MetaLine& line, const ParserLimits& limits, Request* out) {
  switch (line.words[0][1]) {
    case 'n': {  // mn [anything]
      Request req;
      req.command = Command::kMetaNoop;
      *out = req;
      return okResult(line.consumed);
    }
    case 'g':
      return parseGet(line, out);
    case 's':
      return parseSet(line, limits, out);
    case 'd':
      return parseDeleteOrArithmetic(line, Command::kMetaDelete, out);
    case 'a':
      return parseDeleteOrArithmetic(line, Command::kMetaArithmetic, out);
    case 'e':
      return parseDebug(line, out);
    default:
      return errorResult(line.consumed, reply::kError);
  }
}

std::string_view metaKey(const Request& req, char* buf) {
  if (!req.meta.base64) return req.key;
  return {buf, base64Decode(req.key, buf, kMaxDecodedKey)};
}

}  // namespace mcbridge::protocol
