// Parser of memcached's meta commands (mg, ms, md, ma, mn, me) as memcached 1.6.18 answers them,
// called by the text parser (parser.cc) for two-letter verbs starting with 'm'.
//
// Pure, no allocation. The Request's views point into the input; a base64 key (`b`) stays
// encoded in Request::key (the parser checked that it decodes) and MetaFlags::base64 is set.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "protocol/parser.h"
#include "protocol/request.h"

namespace mcbridge::protocol {

struct MetaLine {
  std::string_view in;    // the whole input: ms reads its data block after the line
  std::string_view text;  // the line without "\r\n", cut at a NUL
  std::span<const std::string_view> words;  // its first words (memcached keeps 23)
  size_t consumed = 0;    // bytes of the line including its '\n'
};

// memcached's limit on a meta command's tokens (MFLAG_MAX_OPT_LENGTH, counting the terminator).
inline constexpr size_t kMaxMetaTokens = 20;
// The longest opaque token, 'O' included (MFLAG_MAX_OPAQUE_LENGTH).
inline constexpr size_t kMaxOpaqueLength = 32;
// The longest decoded base64 key: 250 base64 characters.
inline constexpr size_t kMaxDecodedKey = kMaxKeyLength / 4 * 3;

// words[0] is a two-byte verb starting with 'm'.
[[nodiscard]] ParseResult parseMetaCommand(const MetaLine& line, const ParserLimits& limits,
                                           Request* out);

// The key a meta request names: Request::key itself, or its base64 decoding written to `buf`
// (kMaxDecodedKey bytes). The parser has checked that it decodes.
std::string_view metaKey(const Request& req, char* buf);

}  // namespace mcbridge::protocol
