// Incremental parser for the memcached classic text protocol (PROTOCOL.md §1-§6).
//
// Pure: bytes in, a Request out. No I/O, no allocation. Thread-compatible (a Parser is immutable
// after construction and may be shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/request.h"

namespace mcbridge::protocol {

enum class ParseStatus : uint8_t {
  kOk,        // *out holds a request; drop `consumed` bytes (then `swallow` more, if any)
  kNeedMore,  // nothing consumed; call again when the input holds at least `needed` bytes
  kError,     // drop `consumed` bytes and send `error_reply` unless `suppress_reply`
  kClose,     // close the connection without a reply (line too long, HTTP probe); consumed 0
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;
  // kNeedMore: the total input size at which parsing can make progress (0 = unknown, any more
  // data). For a storage command this is line + value + 2, so a 1 MiB value is not re-scanned.
  size_t needed = 0;
  // kOk with Request::too_large, or kError of an ms line: bytes of value to discard after
  // `consumed`, possibly arriving later.
  uint64_t swallow = 0;
  // kError: the exact reply bytes memcached sends, e.g. "ERROR\r\n" (static storage).
  std::string_view error_reply;
  // kError under noreply: memcached suppresses the reply of a command that asked for noreply.
  bool suppress_reply = false;
};

struct ParserLimits {
  uint32_t item_size_max = 1024 * 1024;  // memcached -I
  // A line (bytes before its '\n', complete or not) longer than this closes the connection
  // (memcached: 2048), except lines starting with "get " / "gets " after at most 100 spaces, which
  // may be up to max_get_line bytes. Deterministic: the answer does not depend on read sizes.
  size_t max_line = 2048;
  size_t max_get_line = 4 * 1024 * 1024;
};

// Largest value memcached 1.6 accepts for a key of `key_length` bytes and these flags, given
// its item_size_max (PROTOCOL.md §5.5).
uint64_t maxValueBytes(uint32_t item_size_max, size_t key_length, uint32_t flags);

class Parser {
 public:
  explicit Parser(ParserLimits limits = {}) : limits_(limits) {}

  // Parses one request from the start of `in`. On kOk, *out is overwritten and its views point
  // into `in` (within the first `consumed` bytes); on any other status *out is left untouched.
  // Never reads outside `in`, never allocates. kNeedMore consumes nothing, so the caller may
  // retry after every read, or wait until it holds `needed` bytes when that is non-zero.
  // Meta commands (mg/ms/md/ma/mn/me) are parsed by parseMetaCommand (meta_parser.h). A kError
  // with a non-zero `swallow` (an ms error after its <datalen>) also discards that many bytes.
  [[nodiscard]] ParseResult parse(std::string_view in, Request* out) const;

  const ParserLimits& limits() const { return limits_; }

 private:
  ParserLimits limits_;
};

}  // namespace mcbridge::protocol
