// Lua scripts of the meta commands (mg/ms/md/ma/me), each one atomic round trip. They read and
// write the version-2 item header (item.h) beside version 1 and foreign values: a value is
// rewritten as version 2 only when it gets meta state. Two mcbridge processes sharing one Redis
// therefore never both hand out the win token (W) of one item.
#include <string>

#include "backend/scripts.h"

namespace mcbridge::backend {
namespace {

// parse(raw) -> flags (4 bytes), data, cas (8 bytes), state, last access, version (0 foreign).
// v2(...) builds a version-2 value; store() writes a value with an expiry mode of the translator
// ("" keep none, EX, EXAT, KEEPTTL, DEL = gone at once); expire() applies one to an existing key.
constexpr std::string_view kMetaHelpers = R"lua(
local function u32(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                     math.floor(n / 256) % 256, n % 256)
end
local function parse(raw)
  if #raw >= 14 and string.byte(raw, 1) == 251 then
    local v = string.byte(raw, 2)
    if v == 1 then
      return string.sub(raw, 3, 6), string.sub(raw, 15), string.sub(raw, 7, 14), 0, 0, 1
    end
    if v == 2 and #raw >= 19 then
      local a, b, c, d = string.byte(raw, 16, 19)
      return string.sub(raw, 3, 6), string.sub(raw, 20), string.sub(raw, 7, 14),
             string.byte(raw, 15), ((a * 256 + b) * 256 + c) * 256 + d, 2
    end
  end
  local _, data, cas = split(raw)
  return '\0\0\0\0', data, cas, 0, 0, 0
end
local function v2(flags, cas, state, la, data)
  return string.char(251, 2) .. flags .. cas .. string.char(state) .. u32(la) .. data
end
local function store(key, value, mode, arg)
  if mode == 'DEL' then
    redis.call('DEL', key)
  elseif mode == '' then
    redis.call('SET', key, value)
  elseif mode == 'KEEPTTL' then
    redis.call('SET', key, value, 'KEEPTTL')
  else
    redis.call('SET', key, value, mode, arg)
  end
end
local function expire(key, mode, arg)
  if mode == 'DEL' then
    redis.call('DEL', key)
  elseif mode == 'PERSIST' or mode == '' then
    redis.call('PERSIST', key)
  elseif mode == 'EX' then
    redis.call('EXPIRE', key, arg)
  elseif mode == 'EXAT' then
    redis.call('EXPIREAT', key, arg)
  end
end
)lua";

// mg (and me with opts 'D'). KEYS[1]; ARGV: now, opts (letters: u no update, N vivify, R recache,
// T touch, D debug = read only, W claim the win of a stale item whose CAS is ARGV[9], E only
// the side effects of an mg rejected for a too-long opaque), T mode, T value, created-item mode, value, R threshold (s),
// remaining TTL R compares (s, '' = the item's own, '-1' = none), new CAS (8 bytes).
// -> {value as read (or as created) | false, PTTL before, bits, last access before}
// bits: 1 win sent before, 2 stale, 4 won now, 8 created, 16 fetched before.
constexpr std::string_view kMetaGet = R"lua(
local key, now, opts = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local function has(c) return string.find(opts, c, 1, true) ~= nil end
local raw = redis.call('GET', key)
if has('W') then
  -- claim the win of a stale item a plain read saw (ARGV[9]: the CAS it saw)
  if not raw then return {false, -2, 0, 0} end
  local flags, data, cas, state, la, version = parse(raw)
  if cas ~= ARGV[9] then return {false, -2, 0, 0} end
  if bit.band(state, 2) ~= 0 then return {false, -2, 1, 0} end
  if bit.band(state, 1) == 0 then return {false, -2, 0, 0} end
  redis.call('SETRANGE', key, 14, string.char(bit.bor(state, 2)))
  return {false, -2, 4, 0}
end
if has('E') then
  -- an mg memcached rejects for a too-long opaque while answering: what happened before stays
  if not raw then
    if has('N') then
      store(key, string.char(251, 1, 0, 0, 0, 0) .. ARGV[9], ARGV[5], ARGV[6])
    end
  elseif has('T') then
    expire(key, ARGV[3], ARGV[4])
  end
  return {false, -2, 0, 0}
end
if not raw then
  if not has('N') then return {false, -2, 0, 0} end
  local value = v2('\0\0\0\0', ARGV[9], 2 + (has('u') and 0 or 4), now, '')
  store(key, value, ARGV[5], ARGV[6])
  return {value, -1, 4 + 8, now}
end
local pttl = redis.call('PTTL', key)
local flags, data, cas, state, la, version = parse(raw)
local bits = 0
if bit.band(state, 2) ~= 0 then bits = bits + 1 end
if bit.band(state, 1) ~= 0 then bits = bits + 2 end
if bit.band(state, 4) ~= 0 then bits = bits + 16 end
if has('D') then return {raw, pttl, bits, la} end
local won = false
if has('R') and bit.band(state, 2) == 0 then
  local remaining = ARGV[8]
  if remaining == '' then
    remaining = pttl >= 0 and math.ceil(pttl / 1000) or -1
  else
    remaining = tonumber(remaining)
  end
  if remaining >= 0 and remaining < tonumber(ARGV[7]) then won = true end
end
if bit.band(state, 3) == 1 then won = true end
local newstate, newla = state, la
if won then
  newstate = bit.bor(newstate, 2)
  bits = bits + 4
end
if not has('u') then
  newstate = bit.bor(newstate, 4)
  newla = now
end
if newstate ~= state or newla ~= la then
  if version == 2 then
    redis.call('SETRANGE', key, 14, string.char(newstate) .. u32(newla))
  else
    redis.call('SET', key, v2(flags, cas, newstate, newla, data), 'KEEPTTL')
  end
end
if has('T') then expire(key, ARGV[3], ARGV[4]) end
return {raw, pttl, bits, la}
)lua";

// ms that needs a read: modes append/prepend, or a compared CAS. KEYS[1]; ARGV: mode (S E R A
// P), compared CAS (8 bytes, '' none), '1' if I (invalidate), new header (v1 or v2, with the
// new CAS), data, expiry mode, value, data limit for flags 0, for other flags.
// -> 1 HD, 2 NS, 3 EX, 4 NF
constexpr std::string_view kMetaSet = R"lua(
local key, mode, want, hdr, data = KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5]
local raw = redis.call('GET', key)
if not raw then
  if want ~= '' and (mode == 'S' or mode == 'R') then return 4 end
  if mode == 'S' or mode == 'E' then
    store(key, hdr .. data, ARGV[6], ARGV[7])
    return 1
  end
  return 2
end
if mode == 'E' then return 2 end
local flags, old, cas, state = parse(raw)
local res = 'none'
if want ~= '' and want ~= '\0\0\0\0\0\0\0\0' then
  if want == cas then
    res = 'match'
  elseif ARGV[3] == '1' and want < cas then
    res = 'stale'
  else
    res = 'bad'
  end
end
if mode == 'A' or mode == 'P' then
  if res ~= 'none' and res ~= 'match' then return 3 end
  local limit = tonumber(ARGV[8])
  if flags ~= '\0\0\0\0' then limit = tonumber(ARGV[9]) end
  if #old + #data > limit then return 2 end
  if mode == 'A' then data = old .. data else data = data .. old end
  -- a new item (memcached allocates one): the old flags and TTL, no meta state
  redis.call('SET', key, string.char(251, 1) .. flags .. string.sub(hdr, 7, 14) .. data,
             'KEEPTTL')
  return 1
end
if want ~= '' then
  if res == 'match' then
    store(key, hdr .. data, ARGV[6], ARGV[7])
    return 1
  end
  if res == 'stale' then
    -- stored, but still stale: keeps the TTL and a win already handed out
    local hstate = 0
    if string.byte(hdr, 2) == 2 then hstate = string.byte(hdr, 15) end
    local newstate = bit.bor(hstate, 1, bit.band(state, 2))
    redis.call('SET', key, v2(string.sub(hdr, 3, 6), string.sub(hdr, 7, 14), newstate, 0, data),
               'KEEPTTL')
    return 1
  end
  return 3
end
store(key, hdr .. data, ARGV[6], ARGV[7])
return 1
)lua";

// md with a compared CAS or I. KEYS[1]; ARGV: compared CAS ('' none), '1' if I, new CAS,
// T mode ('' none), T value. -> 1 HD, 3 EX, 4 NF
constexpr std::string_view kMetaDelete = R"lua(
local key = KEYS[1]
local raw = redis.call('GET', key)
if not raw then return 4 end
local flags, data, cas, state, la = parse(raw)
if ARGV[1] ~= '' and ARGV[1] ~= cas then return 3 end
if ARGV[2] ~= '1' then
  redis.call('DEL', key)
  return 1
end
-- invalidate: stale, a new win can be handed out, new CAS
redis.call('SET', key, v2(flags, ARGV[3], bit.bor(bit.band(state, 253), 1), la, data), 'KEEPTTL')
if ARGV[4] ~= '' then expire(key, ARGV[4], ARGV[5]) end
return 1
)lua";

// ma. KEYS[1]; ARGV: delta, '1' incr / '0' decr, new CAS, compared CAS ('' none), '1' vivify,
// initial value, created-item mode, value, T mode ('' none), T value.
// -> {code, value, PTTL before, 1 if a foreign counter}: code 1 done, 2 NF, 3 EX,
// 4 non-numeric, 5 created
constexpr std::string_view kMetaArithmetic = R"lua(
local key = KEYS[1]
local raw = redis.call('GET', key)
if not raw then
  if ARGV[5] ~= '1' then return {2, '', -2} end
  store(key, string.char(251, 1, 0, 0, 0, 0) .. ARGV[3] .. ARGV[6], ARGV[7], ARGV[8])
  return {5, ARGV[6], -1}
end
local pttl = redis.call('PTTL', key)
local header, data, cas = split(raw)
if #data == 0 then return {4, '', pttl} end
if ARGV[4] ~= '' and ARGV[4] ~= cas then return {3, '', pttl} end
local result = delta(data, ARGV[1], ARGV[2] == '1')
if not result then return {4, '', pttl} end
storeNumber(key, raw, header, data, result, ARGV[3])
-- memcached (1.6.18 to 1.6.45) applies T to the item it changed in place; a number that got
-- longer is a new item, and T goes to the old one it replaced: the TTL stays.
if ARGV[9] ~= '' and #result <= #data then expire(key, ARGV[9], ARGV[10]) end
return {1, result, pttl, header and 0 or 1}
)lua";

std::string build(std::string_view body) {
  std::string s(itemPrelude());
  s += deltaFunction();
  s += kMetaHelpers;
  s += body;
  return s;
}

}  // namespace

std::string_view metaGetBody() {
  static const std::string s = build(kMetaGet);
  return s;
}
std::string_view metaSetBody() {
  static const std::string s = build(kMetaSet);
  return s;
}
std::string_view metaDeleteBody() {
  static const std::string s = build(kMetaDelete);
  return s;
}
std::string_view metaArithmeticBody() {
  static const std::string s = build(kMetaArithmetic);
  return s;
}

}  // namespace mcbridge::backend
