// The Lua scripts behind memcached's read-modify-write commands. Each runs atomically in Redis
// in one round trip; the new CAS token comes in as an argument so the scripts are deterministic.
// They share one item-format prelude with item.cc: keep both in step (DESIGN.md storage format).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace mcbridge::backend {

enum class Script : uint8_t {
  // KEYS[1]; ARGV: expected CAS (8 bytes BE), new value, expiry mode ("", EX, EXAT, DEL), value
  // -> 1 STORED, 0 EXISTS, -1 NOT_FOUND
  kCas,
  // KEYS[1]; ARGV: delta (decimal), "1" incr / "0" decr, new CAS (8 bytes BE); binary only:
  // [4] expected CAS ("" = any), [5] initial value to create a missing key with ("" = do not
  // create), [6] its expiry mode ("", EX, EXAT, DEL), [7] expiry value, [8] "b"
  // -> bulk string new value (with [8], a one-element array for a foreign counter, whose CAS
  // derives from its content), -1 NOT_FOUND, -2 non-numeric, -3 CAS mismatch
  kIncr,
  // KEYS[1]; ARGV: data, "a" append / "p" prepend, new CAS, max data len (flags 0), (flags != 0),
  // binary only: [6] expected CAS
  // -> 1 STORED, 0 NOT_STORED, 2 CAS mismatch
  kAppend,
  // KEYS[1] -> 1 if the key existed (its TTL removed), 0 if not
  kPersist,
  // KEYS: keys; ARGV: mode (EX, EXAT, PERSIST, DEL), value -> array of values or nil
  kGetAndTouch,
  // The meta commands' scripts (meta_scripts.cc documents their arguments and results).
  kMetaGet,
  kMetaSet,
  kMetaDelete,
  kMetaArithmetic,
  // KEYS[1]; ARGV: expected CAS -> 1 deleted, 0 CAS mismatch, -1 NOT_FOUND (binary DELETE)
  kDeleteCas,
};
inline constexpr size_t kScriptCount = 10;

struct ScriptInfo {
  std::string_view body;
  std::string sha1;  // hex, as EVALSHA wants it
};

// The scripts and their SHA-1s, computed once.
const ScriptInfo& script(Script s);
// Bodies of every script, for SCRIPT LOAD on each (re)connect.
std::vector<std::string> allScriptBodies();

// The Lua item-format helper every script starts with (split()).
std::string_view itemPrelude();
// The Lua function delta(data, digits, incr) of incr/decr and ma.
std::string_view deltaFunction();
// Bodies of the meta scripts (meta_scripts.cc), built once.
std::string_view metaGetBody();
std::string_view metaSetBody();
std::string_view metaDeleteBody();
std::string_view metaArithmeticBody();

}  // namespace mcbridge::backend
