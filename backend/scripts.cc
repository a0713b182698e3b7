#include "backend/scripts.h"

#include "backend/sha1.h"

namespace mcbridge::backend {
namespace {

// Shared by every script: split a raw value into header (first 6 bytes: marker, version 1,
// flags), data and CAS; a version-2 item's header comes back as version 1 (a classic command
// that rewrites the item drops its meta state, as memcached's new item does). Foreign values (no
// header) get the CAS item.cc's foreignCas() computes: the first 8 bytes of SHA-1 with the top
// bit set.
#define MCBRIDGE_LUA_PRELUDE                                                        \
  "local function split(raw)\n"                                                     \
  "  if #raw >= 14 and string.byte(raw, 1) == 251 and string.byte(raw, 2) == 1 then\n" \
  "    return string.sub(raw, 1, 6), string.sub(raw, 15), string.sub(raw, 7, 14)\n" \
  "  end\n"                                                                         \
  "  if #raw >= 19 and string.byte(raw, 1) == 251 and string.byte(raw, 2) == 2 then\n" \
  "    return string.char(251, 1) .. string.sub(raw, 3, 6), string.sub(raw, 20),\n"   \
  "           string.sub(raw, 7, 14)\n"                                              \
  "  end\n"                                                                         \
  "  local hex = string.sub(redis.sha1hex(raw), 1, 16)\n"                          \
  "  local cas = string.gsub(hex, '..', function(h) return string.char(tonumber(h, 16)) end)\n" \
  "  local first = bit.bor(string.byte(cas, 1), 128)\n"                            \
  "  return nil, raw, string.char(first) .. string.sub(cas, 2)\n"                   \
  "end\n"

constexpr std::string_view kCasBody = MCBRIDGE_LUA_PRELUDE R"lua(
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
local _, _, cas = split(raw)
if cas ~= ARGV[1] then return 0 end
local mode = ARGV[3]
if mode == 'DEL' then
  redis.call('DEL', KEYS[1])
elseif mode == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], mode, ARGV[4])
end
return 1
)lua";

// Unsigned 64-bit arithmetic without Lua doubles losing precision: numbers are split into a
// high part and the low 10 decimal digits, each exact in a double. delta(data, digits, incr)
// returns the new value's digits, or nil when data is not a number memcached would accept.
constexpr std::string_view kDeltaFunction = R"lua(
local function delta(data, d, incr)
  local sign, digits, rest = string.match(data, '^%s*([+-]?)(%d+)(.*)$')
  if not digits then return nil end
  if rest ~= '' and not string.match(rest, '^[%s%z]') then return nil end
  digits = string.gsub(digits, '^0+', '')
  if digits == '' then digits = '0' end
  if #digits > 20 or (#digits == 20 and digits > '18446744073709551615') then return nil end
  if sign == '-' and digits ~= '0' then return nil end
  local function parts(x)
    local n = #x
    if n <= 10 then return 0, tonumber(x) end
    return tonumber(string.sub(x, 1, n - 10)), tonumber(string.sub(x, n - 9))
  end
  local hi, lo = parts(digits)
  local dhi, dlo = parts(d)
  local E = 10000000000
  if incr then
    lo = lo + dlo
    local carry = 0
    if lo >= E then lo = lo - E; carry = 1 end
    hi = hi + dhi + carry
    -- wrap at 2^64 = 1844674407 3709551616
    if hi > 1844674407 or (hi == 1844674407 and lo >= 3709551616) then
      lo = lo - 3709551616
      if lo < 0 then lo = lo + E; hi = hi - 1 end
      hi = hi - 1844674407
    end
  else
    if hi < dhi or (hi == dhi and lo < dlo) then
      hi = 0; lo = 0
    else
      lo = lo - dlo
      if lo < 0 then lo = lo + E; hi = hi - 1 end
      hi = hi - dhi
    end
  end
  if hi > 0 then return string.format('%d%010d', hi, lo) end
  return string.format('%d', lo)
end
-- Stores an incr/decr result with the new CAS. memcached rewrites a number that got no longer
-- in place, space-padded to the old length, and the item keeps its meta state (version 2);
-- a longer one is a new item. A foreign counter stays a plain Redis integer, so INCR from other
-- clients keeps working on it.
local function storeNumber(key, raw, header, data, result, cas)
  if not header then
    redis.call('SET', key, result, 'KEEPTTL')
    return
  end
  local stored = result
  if #result < #data then stored = result .. string.rep(' ', #data - #result) end
  if #result <= #data and string.byte(raw, 2) == 2 then
    header = string.sub(raw, 1, 6)
    cas = cas .. string.sub(raw, 15, 19)
  end
  redis.call('SET', key, header .. cas .. stored, 'KEEPTTL')
end
)lua";

constexpr std::string_view kIncrTail = R"lua(
local raw = redis.call('GET', KEYS[1])
if not raw then
  local initial = ARGV[5]
  if not initial or initial == '' then return -1 end
  local item = '\251\1\0\0\0\0' .. ARGV[3] .. initial
  if ARGV[6] == '' then
    redis.call('SET', KEYS[1], item)
  elseif ARGV[6] ~= 'DEL' then
    redis.call('SET', KEYS[1], item, ARGV[6], ARGV[7])
  end
  return initial
end
local header, data, oldcas = split(raw)
if ARGV[4] and ARGV[4] ~= '' and ARGV[4] ~= oldcas then return -3 end
local result = delta(data, ARGV[1], ARGV[2] == '1')
if not result then return -2 end
storeNumber(KEYS[1], raw, header, data, result, ARGV[3])
-- binary callers echo the item's CAS: for a foreign counter it derives from the content
if not header and ARGV[8] == 'b' then return {result} end
return result
)lua";

constexpr std::string_view kAppendBody = MCBRIDGE_LUA_PRELUDE R"lua(
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local header, data, oldcas = split(raw)
if ARGV[6] and ARGV[6] ~= oldcas then return 2 end
local limit = tonumber(ARGV[4])
if header and string.sub(header, 3, 6) ~= '\0\0\0\0' then limit = tonumber(ARGV[5]) end
if #data + #ARGV[1] > limit then return 0 end
if ARGV[2] == 'a' then data = data .. ARGV[1] else data = ARGV[1] .. data end
if header then
  redis.call('SET', KEYS[1], header .. ARGV[3] .. data, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], data, 'KEEPTTL')
end
return 1
)lua";

constexpr std::string_view kPersistBody = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1
)lua";

constexpr std::string_view kGetAndTouchBody = R"lua(
local mode, arg = ARGV[1], ARGV[2]
local out = {}
for i, k in ipairs(KEYS) do
  local v
  if mode == 'DEL' then
    v = redis.call('GETDEL', k)
  elseif mode == 'PERSIST' then
    v = redis.call('GETEX', k, 'PERSIST')
  else
    v = redis.call('GETEX', k, mode, arg)
  end
  out[i] = v
end
return out
)lua";

}  // namespace

std::string_view itemPrelude() { return MCBRIDGE_LUA_PRELUDE; }
std::string_view deltaFunction() { return kDeltaFunction; }

namespace {
std::string_view incrBody() {
  static const std::string s = std::string(itemPrelude()) + std::string(kDeltaFunction) +
                               std::string(kIncrTail);
  return s;
}
}  // namespace

namespace {
constexpr std::string_view kDeleteCasBody = MCBRIDGE_LUA_PRELUDE R"lua(
local raw = redis.call('GET', KEYS[1])
if not raw then return -1 end
local _, _, cas = split(raw)
if cas ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
)lua";

#undef MCBRIDGE_LUA_PRELUDE

std::array<ScriptInfo, kScriptCount> makeScripts() {
  std::array<ScriptInfo, kScriptCount> s;
  const std::string_view bodies[kScriptCount] = {
      kCasBody,          incrBody(),         kAppendBody,       kPersistBody, kGetAndTouchBody,
      metaGetBody(),     metaSetBody(),     metaDeleteBody(),  metaArithmeticBody(),
      kDeleteCasBody};
  for (size_t i = 0; i < kScriptCount; ++i) s[i] = {bodies[i], sha1Hex(bodies[i])};
  return s;
}

}  // namespace

const ScriptInfo& script(Script s) {
  static const std::array<ScriptInfo, kScriptCount> scripts = makeScripts();
  return scripts[static_cast<size_t>(s)];
}

std::vector<std::string> allScriptBodies() {
  std::vector<std::string> out;
  for (size_t i = 0; i < kScriptCount; ++i) out.emplace_back(script(static_cast<Script>(i)).body);
  return out;
}

}  // namespace mcbridge::backend
