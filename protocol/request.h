// Requests of the memcached text protocol, as the parser produces them.
//
// A Request holds string_views into the connection's read buffer: they are valid only until the
// connection compacts that buffer, i.e. until dispatch returns. Whoever needs a field longer
// (a backend completion, a too-large set waiting for its data to be swallowed) copies it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mcbridge::protocol {

enum class Command : uint8_t {
  // retrieval: get/gets <key>+, gat/gats <exptime> <key>+
  kGet,
  kGets,
  kGat,
  kGats,
  // storage: <cmd> <key> <flags> <exptime> <bytes> [noreply] / cas ... <cas unique> [noreply]
  kSet,
  kAdd,
  kReplace,
  kAppend,
  kPrepend,
  kCas,
  // others
  kIncr,
  kDecr,
  kDelete,
  kTouch,
  kFlushAll,
  kStats,
  kVersion,
  kVerbosity,
  kQuit,
  kShutdown,
  kCacheMemlimit,
  // meta commands (meta_parser.h): mn, mg, ms, md, ma, me
  kMetaNoop,  // mn: "MN", the end marker of a pipeline of quiet meta commands
  kMetaGet,
  kMetaSet,
  kMetaDelete,
  kMetaArithmetic,
  kMetaDebug,
};
inline constexpr size_t kCommandCount = static_cast<size_t>(Command::kMetaDebug) + 1;

// The command's name as the client sends it (for metrics and logs).
constexpr std::string_view commandName(Command c) {
  constexpr std::string_view kNames[kCommandCount] = {
      "get",  "gets", "gat",  "gats",   "set",       "add",     "replace", "append",
      "prepend", "cas", "incr", "decr", "delete", "touch", "flush_all", "stats",
      "version", "verbosity", "quit", "shutdown", "cache_memlimit", "mn", "mg", "ms", "md", "ma", "me"};
  return kNames[static_cast<size_t>(c)];
}

inline constexpr size_t kMaxKeyLength = 250;

// Iterates the space-separated keys of a get/gets/gat/gats line. The parser has already checked
// every key (length, count), so iteration cannot fail.
class KeyIterator {
 public:
  KeyIterator() = default;
  explicit KeyIterator(std::string_view keys) : rest_(keys) {}
  // Stores the next key in *key and returns true, or returns false at the end.
  bool next(std::string_view* key) {
    size_t i = 0;
    while (i < rest_.size() && rest_[i] == ' ') ++i;
    if (i == rest_.size()) return false;
    size_t j = i;
    while (j < rest_.size() && rest_[j] != ' ') ++j;
    *key = rest_.substr(i, j - i);
    rest_ = rest_.substr(j);
    return true;
  }

 private:
  std::string_view rest_;
};

// The flags of a meta command (mg/ms/md/ma/me), checked by the parser. Return flags are replayed
// from `tokens` in the order the client sent them, as memcached does.
struct MetaFlags {
  // One bit per flag letter seen: metaBit('a'..'z', 'A'..'Z').
  uint64_t seen = 0;
  std::string_view tokens;  // the flag tokens as sent (space separated), after key / datalen
  bool base64 = false;      // b: Request::key is base64 text (valid: the parser decoded it once)
  char mode = 0;            // M: ms mode (E A P R S) or ma mode (I + D -), 0 if none
  int64_t ttl = 0;          // T: exptime (memcached's int32 value)
  int64_t vivify_ttl = 0;   // N: exptime of the item created on a miss
  int64_t recache = 0;      // R: win if the remaining TTL is below this
  uint32_t client_flags = 0;  // F
  uint64_t compare_cas = 0;   // C
  uint64_t delta = 1;         // D
  uint64_t initial = 0;       // J
  // ma, and mg with N or T: an O token is too long. memcached finds out only while it answers
  // (the item changed already), so the translator answers the error after running the command.
  bool opaque_too_long = false;
  bool has(char flag) const;
};

constexpr uint64_t metaBit(char c) {
  if (c >= 'a' && c <= 'z') return uint64_t{1} << (c - 'a');
  if (c >= 'A' && c <= 'Z') return uint64_t{1} << (26 + c - 'A');
  return 0;
}
inline bool MetaFlags::has(char flag) const { return (seen & metaBit(flag)) != 0; }

struct Request {
  Command command = Command::kVersion;
  bool noreply = false;
  // Storage command whose value exceeds the item size limit. `data` is empty: the connection
  // swallows the value (ParseResult::swallow bytes) and then dispatches the request, which for
  // set deletes the old item and answers SERVER_ERROR object too large for cache.
  bool too_large = false;

  std::string_view key;    // single-key commands; for get-family the first key
  std::string_view keys;   // get-family: the whole key list (iterate with KeyIterator)
  uint32_t key_count = 0;  // get-family: number of keys (>= 1 except `gat <exptime>` alone)

  uint32_t flags = 0;        // storage commands
  int64_t exptime = 0;       // storage, touch, gat/gats, flush_all (delay): memcached's int32 value
  bool has_exptime = false;  // flush_all: a delay was given
  uint64_t cas_unique = 0;   // cas
  uint64_t delta = 0;        // incr/decr
  uint32_t value_length = 0;  // storage: <bytes> as declared
  std::string_view data;      // storage: exactly value_length bytes (without the \r\n)
  int64_t number = 0;         // verbosity level, cache_memlimit megabytes
  std::string_view args;      // stats: the text after "stats" (trimmed), e.g. "settings"
  MetaFlags meta;             // meta commands; noreply is the q flag

  // Binary protocol only (protocol/binary.h). `noreply` is the quiet flag (errors are still
  // sent) and `cas_unique` the header's CAS (set/add/replace with one are kCas; delete, append,
  // prepend, incr and decr check it when non-zero).
  bool binary = false;
  uint8_t opcode = 0;     // echoed in the reply
  uint32_t opaque = 0;    // echoed in the reply, byte order untouched
  uint64_t initial = 0;   // incr/decr: value stored when the key is missing, if `create`
  bool create = false;    // incr/decr: expiration != 0xffffffff (exptime holds it)
};

}  // namespace mcbridge::protocol
