// Redis Cluster hash slots: CRC16 (XMODEM: poly 0x1021, init 0) of the key, or of its hash tag,
// modulo 16384 (https://redis.io/docs/reference/cluster-spec/#hash-tags).
//
// Hash tag rule: if the key has a '{' and, after it, a '}' with at least one byte between them,
// only the bytes between the first '{' and the first '}' after it are hashed. So "{}x" and
// "{abc" hash whole, "}{abc}" hashes "abc", "{a}{b}" hashes "a".
#pragma once

#include <cstdint>
#include <string_view>

#include "backend/redis_connection.h"

namespace mcbridge::backend {

inline constexpr uint16_t kSlotCount = 16384;

uint16_t crc16(std::string_view data);
uint16_t keySlot(std::string_view key);
// The slot of a two-piece key (key prefix + the client's key), as if the pieces were one string.
uint16_t keySlot(const RedisArg& key);

}  // namespace mcbridge::backend
