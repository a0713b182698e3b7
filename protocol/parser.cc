// Incremental parser for the memcached classic text protocol, emulating memcached 1.6.18
// (PROTOCOL.md §1-§6). See parser.h for the contract.
//
// Shape: find the line, cut it at a NUL (1.6.18 handles the line as a C string), split it into at
// most kMaxWords space-separated words, dispatch on the verb. Every branch checks its word count
// first, exactly like memcached's WANT_TOKENS macros, because the count decides between ERROR
// (wrong count, noreply ignored) and the command's own errors (noreply honoured).
#include "protocol/parser.h"

#include <array>
#include <climits>
#include <cstring>

#include "protocol/parse_util.h"
#include "protocol/meta_parser.h"
#include "protocol/reply.h"

namespace mcbridge::protocol {

namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): the shared parse helpers

// memcached's tokenizer keeps 23 words per pass (MAX_TOKENS 24 minus the terminator); words after
// the 23rd only matter to the get family, which rescans the raw key list.
constexpr size_t kMaxWords = 23;
// memcached tolerates this many leading spaces before "get "/"gets " on an over-long line.
constexpr size_t kMaxLeadingSpaces = 100;
constexpr std::string_view kNoreply = "noreply";

struct Words {
  std::array<std::string_view, kMaxWords> w;
  size_t n = 0;  // words stored; kMaxWords also when the line holds more
};

Words splitWords(std::string_view line) {
  Words words;
  size_t i = 0;
  while (i < line.size() && words.n < kMaxWords) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    words.w[words.n++] = line.substr(i, j - i);
    i = j;
  }
  return words;
}

// The text of `line` after `word` (a view into it), without leading and trailing spaces.
std::string_view restAfter(std::string_view line, std::string_view word) {
  size_t pos = static_cast<size_t>(word.data() - line.data()) + word.size();
  std::string_view rest = line.substr(pos);
  size_t b = rest.find_first_not_of(' ');
  if (b == std::string_view::npos) return {};
  size_t e = rest.find_last_not_of(' ');
  return rest.substr(b, e - b + 1);
}

// memcached lets an unterminated line grow past 2048 bytes only if, after at most 100 spaces, it
// starts with "get " or "gets " (gat, bget and tabs do not qualify). kUndecided: the bytes so far
// are spaces or a beginning of "get "/"gets ", so only more bytes can tell (reachable only with a
// line limit under ~106 bytes, but the answer must not depend on how the bytes were split).
enum class Multiget : uint8_t { kYes, kNo, kUndecided };
Multiget startsLikeMultiget(std::string_view in) {
  size_t i = 0;
  while (i < in.size() && in[i] == ' ') ++i;
  if (i > kMaxLeadingSpaces) return Multiget::kNo;
  const std::string_view rest = in.substr(i);
  if (rest.starts_with("get ") || rest.starts_with("gets ")) return Multiget::kYes;
  if (std::string_view("get ").starts_with(rest) || std::string_view("gets ").starts_with(rest)) {
    return Multiget::kUndecided;
  }
  return Multiget::kNo;
}

bool isNoreply(const Words& words) { return words.w[words.n - 1] == kNoreply; }

// Everything one command branch needs: the whole input (storage reads its data block from it),
// the line and its words, and how many bytes the line takes including its '\n'.
struct Line {
  std::string_view in;
  std::string_view text;  // without "\r\n", cut at the first NUL
  Words words;
  size_t consumed = 0;
};

// get <key>+ | gets <key>+ | bget <key>+ | gat <exptime> <key>*  | gats <exptime> <key>*
ParseResult parseRetrieval(const Line& line, Command command, Request* out) {
  const Words& words = line.words;
  // WANT_TOKENS_MIN: `get` and `get ` are ERROR, while `gat 10` is a valid request for no keys.
  if (words.n < 2) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = command;
  std::string_view last_fixed = words.w[0];
  if (command == Command::kGat || command == Command::kGats) {
    if (!parseExptime(words.w[1], &req.exptime)) {
      return errorResult(line.consumed, reply::kInvalidExptime);
    }
    last_fixed = words.w[1];
  }
  // The key list can be far longer than the word array; walk it in place. One key over the limit
  // fails the whole request (memcached sends neither VALUE lines nor END).
  req.keys = restAfter(line.text, last_fixed);
  KeyIterator it(req.keys);
  std::string_view key;
  while (it.next(&key)) {
    if (key.size() > kMaxKeyLength) return errorResult(line.consumed, reply::kBadFormat);
    if (req.key_count == 0) req.key = key;
    ++req.key_count;
  }
  *out = req;
  return okResult(line.consumed);
}

// set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n
// cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]\r\n<data>\r\n
ParseResult parseStorage(const Line& line, Command command, const ParserLimits& limits,
                         Request* out) {
  const Words& words = line.words;
  const bool is_cas = command == Command::kCas;
  const size_t base = is_cas ? 6 : 5;
  // A wrong count is ERROR even with noreply, and the data block is not swallowed: the caller
  // parses it as the next command (`cas c 9 0 1\r\nz\r\n` -> ERROR ERROR).
  if (words.n != base && words.n != base + 1) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = command;
  // The last word decides noreply even when it is the <bytes> word: `set a 0 0 noreply` is a
  // silent CLIENT_ERROR. An optional word other than "noreply" is ignored.
  req.noreply = isNoreply(words);
  req.key = words.w[1];
  // From here on errors reject only the line; the data block is not swallowed (1.6.18).
  if (req.key.size() > kMaxKeyLength) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  int64_t bytes = 0;
  if (!parseU32(words.w[2], &req.flags) || !parseExptime(words.w[3], &req.exptime) ||
      !parseI64(words.w[4], &bytes)) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  if (is_cas && !parseU64(words.w[5], &req.cas_unique)) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  // memcached rejects negative and > INT_MAX-2 lengths; 1.6.18 would truncate text beyond int32
  // (`4294967297` -> 1 byte), which we reject instead (PROTOCOL.md §3 recommendation).
  if (bytes < 0 || bytes > INT_MAX - 2) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  req.value_length = static_cast<uint32_t>(bytes);
  if (!fitsInItem(limits.item_size_max, req.key.size(), req.flags, req.value_length)) {
    // memcached swallows the value and only then answers, so the reply keeps its place in the
    // pipeline; the caller dispatches after the swallow.
    req.too_large = true;
    *out = req;
    ParseResult r = okResult(line.consumed);
    r.swallow = static_cast<uint64_t>(req.value_length) + 2;
    return r;
  }
  const size_t total = line.consumed + req.value_length + 2;
  if (line.in.size() < total) return needMoreResult(total);
  // memcached reads exactly <bytes>+2 and then checks the last two; the bytes after them are the
  // next command whatever they are.
  if (line.in[total - 2] != '\r' || line.in[total - 1] != '\n') {
    return errorResult(total, reply::kBadDataChunk, req.noreply);
  }
  req.data = line.in.substr(line.consumed, req.value_length);
  *out = req;
  return okResult(total);
}

// incr|decr <key> <delta> [noreply]
ParseResult parseArithmetic(const Line& line, Command command, Request* out) {
  const Words& words = line.words;
  if (words.n != 3 && words.n != 4) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = command;
  req.noreply = isNoreply(words);
  req.key = words.w[1];
  if (req.key.size() > kMaxKeyLength) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  if (!parseU64(words.w[2], &req.delta)) {
    return errorResult(line.consumed, reply::kInvalidDelta, req.noreply);
  }
  *out = req;
  return okResult(line.consumed);
}

// delete <key> [0] [noreply]
ParseResult parseDelete(const Line& line, Request* out) {
  const Words& words = line.words;
  if (words.n < 2 || words.n > 4) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = Command::kDelete;
  if (words.n > 2) {
    // The legacy hold time may only be "0"; memcached checks this before the key length.
    const bool hold_is_zero = words.w[2] == "0";
    req.noreply = isNoreply(words);
    const bool valid = (words.n == 3 && (hold_is_zero || req.noreply)) ||
                       (words.n == 4 && hold_is_zero && req.noreply);
    if (!valid) return errorResult(line.consumed, reply::kDeleteUsage, req.noreply);
  }
  req.key = words.w[1];
  if (req.key.size() > kMaxKeyLength) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  *out = req;
  return okResult(line.consumed);
}

// touch <key> <exptime> [noreply]
ParseResult parseTouch(const Line& line, Request* out) {
  const Words& words = line.words;
  if (words.n != 3 && words.n != 4) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = Command::kTouch;
  req.noreply = isNoreply(words);
  req.key = words.w[1];
  if (req.key.size() > kMaxKeyLength) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  if (!parseExptime(words.w[2], &req.exptime)) {
    return errorResult(line.consumed, reply::kInvalidExptime, req.noreply);
  }
  *out = req;
  return okResult(line.consumed);
}

// flush_all [delay] [noreply]
ParseResult parseFlushAll(const Line& line, Request* out) {
  const Words& words = line.words;
  if (words.n > 3) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = Command::kFlushAll;
  req.noreply = words.n > 1 && isNoreply(words);
  // memcached parses the 2nd word as the delay unless the line is exactly `flush_all [noreply]`:
  // so `flush_all noreply noreply` is a (silent) bad delay and `flush_all 1 2` has delay 1.
  if (words.n != (req.noreply ? 2u : 1u)) {
    if (!parseExptime(words.w[1], &req.exptime)) {
      return errorResult(line.consumed, reply::kInvalidExptime, req.noreply);
    }
    req.has_exptime = true;
  }
  *out = req;
  return okResult(line.consumed);
}

// verbosity <level> [noreply]    (a 3rd word that is not noreply is ignored)
ParseResult parseVerbosity(const Line& line, Request* out) {
  const Words& words = line.words;
  if (words.n != 2 && words.n != 3) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = Command::kVerbosity;
  req.noreply = isNoreply(words);
  uint32_t level = 0;
  if (!parseU32(words.w[1], &level)) {
    return errorResult(line.consumed, reply::kBadFormat, req.noreply);
  }
  req.number = level;
  *out = req;
  return okResult(line.consumed);
}

// cache_memlimit <megabytes> [noreply]
ParseResult parseCacheMemlimit(const Line& line, Request* out) {
  const Words& words = line.words;
  if (words.n != 2 && words.n != 3) return errorResult(line.consumed, reply::kError);
  Request req;
  req.command = Command::kCacheMemlimit;
  req.noreply = isNoreply(words);
  uint32_t megabytes = 0;
  // memcached answers a non-numeric limit with a plain ERROR, and noreply silences it too.
  if (!parseU32(words.w[1], &megabytes)) {
    return errorResult(line.consumed, reply::kError, req.noreply);
  }
  if (megabytes < 8) return errorResult(line.consumed, reply::kMemlimitTooSmall, req.noreply);
  if (megabytes > 1000000000) {
    return errorResult(line.consumed, reply::kMemlimitAdjustFailed, req.noreply);
  }
  req.number = megabytes;
  *out = req;
  return okResult(line.consumed);
}

// Commands without arguments to check: version, quit, shutdown [...] (extra words ignored), and
// stats [args] (the caller interprets args).
ParseResult parseSimple(const Line& line, Command command, Request* out) {
  Request req;
  req.command = command;
  if (command == Command::kStats) req.args = restAfter(line.text, line.words.w[0]);
  *out = req;
  return okResult(line.consumed);
}

// An unknown verb. memcached closes the connection if the last word (the 23rd on a longer line)
// starts with "HTTP/", but only for verbs that fall through its whole dispatch: verbs starting
// with one of "gsacidt" are answered ERROR inside their first-letter branch, as are a few admin
// verbs we do not implement (all verified on 1.6.18).
ParseResult parseUnknown(const Line& line) {
  const Words& words = line.words;
  const std::string_view verb = words.w[0];
  constexpr std::string_view kBranchLetters = "gsacidt";
  const bool in_letter_branch = kBranchLetters.find(verb[0]) != std::string_view::npos;
  const bool known_admin = verb == "lru" || verb == "lru_crawler" || verb == "watch" ||
                           verb == "extstore" || verb == "refresh_certs";
  if (!in_letter_branch && !known_admin && words.w[words.n - 1].starts_with("HTTP/")) {
    return closeResult();
  }
  return errorResult(line.consumed, reply::kError);
}

struct VerbEntry {
  std::string_view verb;
  Command command;
};

}  // namespace

uint64_t maxValueBytes(uint32_t item_size_max, size_t key_length, uint32_t flags) {
  const uint64_t overhead = itemOverhead(key_length, flags);
  return item_size_max > overhead ? item_size_max - overhead : 0;
}

ParseResult Parser::parse(std::string_view in, Request* out) const {
  const void* nl = std::memchr(in.data(), '\n', in.size());
  // Bytes of the line before its '\n' (or all we have): the length rule must give the same answer
  // however the line is split across reads.
  const size_t line_length =
      nl ? static_cast<size_t>(static_cast<const char*>(nl) - in.data()) : in.size();
  if (line_length > limits_.max_line) {
    const Multiget multiget = startsLikeMultiget(in.substr(0, line_length));
    if (multiget == Multiget::kUndecided && nl == nullptr && line_length <= limits_.max_get_line) {
      return needMoreResult(0);
    }
    if (multiget != Multiget::kYes || line_length > limits_.max_get_line) return closeResult();
  }
  if (!nl) return needMoreResult(0);

  Line line;
  line.in = in;
  line.consumed = line_length + 1;
  line.text = in.substr(0, line_length);
  if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
  // 1.6.18 processes the line as a C string: everything after a NUL is invisible.
  if (const void* nul = std::memchr(line.text.data(), '\0', line.text.size())) {
    line.text = line.text.substr(0, static_cast<const char*>(nul) - line.text.data());
  }
  line.words = splitWords(line.text);

  // memcached: no verb, or a verb shorter than 2 bytes, is ERROR (before the HTTP/ probe check).
  if (line.words.n == 0 || line.words.w[0].size() < 2) {
    return errorResult(line.consumed, reply::kError);
  }
  const std::string_view verb = line.words.w[0];
  if (verb.size() == 2 && verb[0] == 'm') {
    const MetaLine meta{in, line.text,
                        std::span<const std::string_view>(line.words.w.data(), line.words.n),
                        line.consumed};
    return parseMetaCommand(meta, limits_, out);
  }

  static constexpr std::array<VerbEntry, 22> kVerbs = {{
      {"get", Command::kGet},
      {"gets", Command::kGets},
      {"gat", Command::kGat},
      {"gats", Command::kGats},
      {"bget", Command::kGet},
      {"set", Command::kSet},
      {"add", Command::kAdd},
      {"replace", Command::kReplace},
      {"append", Command::kAppend},
      {"prepend", Command::kPrepend},
      {"cas", Command::kCas},
      {"incr", Command::kIncr},
      {"decr", Command::kDecr},
      {"delete", Command::kDelete},
      {"touch", Command::kTouch},
      {"flush_all", Command::kFlushAll},
      {"stats", Command::kStats},
      {"version", Command::kVersion},
      {"verbosity", Command::kVerbosity},
      {"quit", Command::kQuit},
      {"shutdown", Command::kShutdown},
      {"cache_memlimit", Command::kCacheMemlimit},
  }};
  const VerbEntry* entry = nullptr;
  for (const VerbEntry& e : kVerbs) {
    if (e.verb == verb) {
      entry = &e;
      break;
    }
  }
  if (entry == nullptr) return parseUnknown(line);

  switch (entry->command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
      return parseRetrieval(line, entry->command, out);
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas:
      return parseStorage(line, entry->command, limits_, out);
    case Command::kIncr:
    case Command::kDecr:
      return parseArithmetic(line, entry->command, out);
    case Command::kDelete:
      return parseDelete(line, out);
    case Command::kTouch:
      return parseTouch(line, out);
    case Command::kFlushAll:
      return parseFlushAll(line, out);
    case Command::kVerbosity:
      return parseVerbosity(line, out);
    case Command::kCacheMemlimit:
      return parseCacheMemlimit(line, out);
    case Command::kStats:
    case Command::kVersion:
    case Command::kQuit:
    case Command::kShutdown:
      return parseSimple(line, entry->command, out);
    default:  // meta commands are parsed by parseMetaCommand, not through this table
      break;
  }
  return parseUnknown(line);
}

}  // namespace mcbridge::protocol
