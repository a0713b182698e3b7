// Composition of memcached text-protocol replies. Pure: appends bytes to a caller's buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mcbridge::protocol {

namespace reply {
inline constexpr std::string_view kStored = "STORED\r\n";
inline constexpr std::string_view kNotStored = "NOT_STORED\r\n";
inline constexpr std::string_view kExists = "EXISTS\r\n";
inline constexpr std::string_view kNotFound = "NOT_FOUND\r\n";
inline constexpr std::string_view kDeleted = "DELETED\r\n";
inline constexpr std::string_view kTouched = "TOUCHED\r\n";
inline constexpr std::string_view kEnd = "END\r\n";
inline constexpr std::string_view kOk = "OK\r\n";
inline constexpr std::string_view kReset = "RESET\r\n";
inline constexpr std::string_view kError = "ERROR\r\n";
inline constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
inline constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
inline constexpr std::string_view kInvalidExptime = "CLIENT_ERROR invalid exptime argument\r\n";
inline constexpr std::string_view kInvalidDelta = "CLIENT_ERROR invalid numeric delta argument\r\n";
inline constexpr std::string_view kNonNumeric =
    "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
inline constexpr std::string_view kDeleteUsage =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
inline constexpr std::string_view kTooLarge = "SERVER_ERROR object too large for cache\r\n";
inline constexpr std::string_view kOutOfMemory = "SERVER_ERROR out of memory storing object\r\n";
inline constexpr std::string_view kShutdownDisabled = "ERROR: shutdown not enabled\r\n";
inline constexpr std::string_view kFlushDenied = "CLIENT_ERROR flush_all not allowed\r\n";
inline constexpr std::string_view kMemlimitTooSmall =
    "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n";
inline constexpr std::string_view kMemlimitAdjustFailed =
    "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n";
}  // namespace reply

// Makes room for `more` bytes after out's current contents, growing at least geometrically: a
// large value appended right after is copied once (std::string's own growth would allocate the
// exact size for the data, then copy it all again to append the "\r\n" after it), and a run of
// such calls stays linear.
inline void reserveMore(std::string* out, size_t more) {
  const size_t need = out->size() + more;
  if (need > out->capacity()) out->reserve(need > 2 * out->capacity() ? need : 2 * out->capacity());
}

// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n"
void appendValue(std::string* out, std::string_view key, uint32_t flags, std::string_view data);
void appendValueCas(std::string* out, std::string_view key, uint32_t flags, std::string_view data,
                    uint64_t cas);
// "VALUE <key> <flags> <bytes>[ <cas>]\r\n" only: the caller appends data and "\r\n" itself.
void appendValueHeader(std::string* out, std::string_view key, uint32_t flags, size_t bytes,
                       const uint64_t* cas);
// "<n>\r\n" (incr/decr result).
void appendNumber(std::string* out, uint64_t n);
// "STAT <name> <value>\r\n"
void appendStat(std::string* out, std::string_view name, std::string_view value);
void appendStat(std::string* out, std::string_view name, uint64_t value);

}  // namespace mcbridge::protocol
