// RESP encoding of commands (arrays of bulk strings), straight into an output buffer.
//
// We encode ourselves instead of using hiredis's redisFormatCommandArgv: that takes each argument
// as one contiguous buffer, so a two-piece argument (14-byte item header + the client's data)
// would first have to be joined (one copy of the value) and then formatted (a second copy). Here
// the value is copied once, straight into the output buffer.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "backend/redis_connection.h"

namespace mcbridge::backend {

void appendDecimal(std::string* out, uint64_t v);
// $<len>\r\n<bytes>\r\n
void appendBulk(const RedisArg& a, std::string* out);
// *<argc>\r\n, then one bulk string per argument.
void encodeCommand(std::span<const RedisArg> args, std::string* out);

}  // namespace mcbridge::backend
