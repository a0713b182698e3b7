// memcache request -> Redis command(s) -> memcache reply bytes (DESIGN.md, "translator").
//
// Pure with respect to I/O: commands go to a CommandSink (the worker's router in production, a
// recorder in tests), each with its Route (which argument is its key) and replies are appended to a
// caller's buffer. One Translator per worker, used only on that worker's thread.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/command_sink.h"
#include "backend/counters.h"
#include "backend/exptime.h"
#include "backend/item.h"
#include "backend/redis_connection.h"
#include "protocol/request.h"

namespace mcbridge::backend {

// How the Redis reply of a request becomes memcache bytes.
enum class ReplyKind : uint8_t {
  kMultiGet,        // MGET / get-and-touch script: array of bulk or nil
  kStore,           // SET [NX|XX]: OK or nil -> STORED / NOT_STORED
  kAddExpired,      // EXISTS (add with an already-expired exptime): 0 -> STORED, 1 -> NOT_STORED
  kReplaceExpired,  // DEL (replace with an expired exptime): 1 -> STORED, 0 -> NOT_STORED
  kSetExpired,      // DEL (set/cas-free store with an expired exptime): -> STORED
  kTooLarge,        // DEL of the old item after a too-large set -> SERVER_ERROR too large
  kCas,             // script: 1 STORED, 0 EXISTS, -1 NOT_FOUND
  kIncr,            // script: value, -1 NOT_FOUND, -2 non-numeric
  kAppend,          // script: 1 STORED, 0 NOT_STORED
  kDelete,          // DEL: 1 DELETED, 0 NOT_FOUND
  kTouch,           // PEXPIRE / EXPIREAT / DEL / persist script: 1 TOUCHED, 0 NOT_FOUND
  kFlush,           // FLUSHDB: OK
  // meta commands (translator_meta.cc)
  kMetaGet,          // MGET of one key (mg without flags that write)
  kMetaGetScript,    // mg script (also me)
  kMetaGetClaim,     // mg script claiming the win of a stale item MGET found
  kMetaSet,          // SET [NX|XX] / EXISTS / DEL (ms without a read)
  kMetaSetScript,    // ms script
  kMetaDelete,       // DEL
  kMetaDeleteScript,  // md script
  kMetaArithmetic,   // ma script
};

// What a meta command's reply needs besides PendingOp::keys (the key, decoded).
struct MetaOp {
  std::string tokens;        // the request's flag tokens
  bool base64 = false;       // the key came base64-encoded (b)
  bool quiet = false;        // q: the nominal reply is not sent (errors always are)
  bool debug = false;        // me
  bool opaque_too_long = false;  // ma: answer that error once the command ran
  std::string stale_raw;     // mg: the stale item MGET found, while its win is claimed
  uint8_t set_reply = 0;     // kMetaSet: 0 SET, 1 EXISTS (add, expired), 2 DEL (replace,
                             // expired), 3 DEL (set, expired)
  uint64_t cas = 0;          // ms/md/ma: the CAS written
  int64_t now = 0;           // unix seconds when the request started
  int64_t ttl_touch = -1;    // remaining seconds after T / after N (see MetaItem)
  int64_t ttl_vivify = -1;
};

// What a reply needs to know about its request, copied out of the read buffer (the buffer is
// compacted before the reply comes). Kept in the connection's reply slot and reused.
struct PendingOp {
  ReplyKind kind = ReplyKind::kMultiGet;
  protocol::Command command = protocol::Command::kGet;
  bool noreply = false;
  std::string keys;  // the key, or the space-separated keys of a multi-get
  // Script commands only: the EVALSHA arguments after the SHA, kept so the command can be sent
  // again as EVAL if Redis lost its script cache (NOSCRIPT after SCRIPT FLUSH). Each argument
  // is a 4-byte length and its bytes.
  std::string script_args;
  int8_t script = -1;  // backend::Script, or -1
  bool retried = false;
  MetaOp meta;
  // Binary protocol: the reply is a packet (translator_binary.cc); `noreply` is then the quiet
  // flag. `cas` is the token a store writes, echoed in its reply.
  bool binary = false;
  uint8_t opcode = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  // Retrievals sent in parts (flow control): the part at Redis is the `part_keys` keys from
  // byte `part_begin` of `keys`; `keys_left` keys from byte `next_begin` are still to be sent.
  // END follows the last part only.
  uint32_t part_begin = 0;
  uint32_t part_keys = 0;
  uint32_t next_begin = 0;
  uint32_t keys_left = 0;
  Expiry touch;  // gat/gats: the expiry every part applies
};

// A value the caller writes to the client straight from the Redis reply instead of copying it
// into the output: finish() leaves a gap for it. Set min_size; after finish(), a non-empty
// `data` belongs at `offset` of the output (it points into the reply: valid as long as the
// reply is).
struct DirectValue {
  size_t min_size = 0;
  size_t offset = 0;
  std::string_view data;
};

struct TranslatorOptions {
  std::string key_prefix;
  uint32_t item_size_max = 1024 * 1024;
  bool miss_on_error = false;  // failed reads answer as misses (App Engine Memcache behaviour)
};

class Translator {
 public:
  Translator(TranslatorOptions options, CasGenerator* cas, Counters* counters);

  // Starts a key command (get family, storage, incr/decr, delete, touch): fills *op and sends
  // its Redis command(s) to *sink with `completion`. Returns false when the request was
  // answered without Redis; its reply (possibly empty under noreply) was appended to *out.
  // `now` is the current unix time in seconds (for absolute exptimes). A retrieval sends at
  // most `max_keys` keys now; the rest (op->keys_left) go with sendNextPart().
  [[nodiscard]] bool start(const protocol::Request& req, int64_t now, PendingOp* op,
                           CommandSink* sink, RedisCompletion* completion, std::string* out,
                           uint32_t max_keys = UINT32_MAX);
  // Sends the next (at most `max_keys`) keys of a retrieval whose previous part has been
  // finished (op->keys_left > 0), with the same completion.
  void sendNextPart(PendingOp* op, uint32_t max_keys, CommandSink* sink,
                    RedisCompletion* completion);

  // Turns the Redis reply of `op` into memcache bytes appended to *out. With `direct`, the first
  // retrieved value of at least direct->min_size bytes is not copied: see DirectValue.
  void finish(const PendingOp& op, const redisReply* reply, std::string* out,
              DirectValue* direct = nullptr);
  // If `reply` is NOSCRIPT for a script command not yet retried, sends it again as EVAL (which
  // also reloads Redis's script cache) and returns true: the completion will run again.
  [[nodiscard]] bool retryIfNoScript(PendingOp* op, const redisReply* reply, CommandSink* sink,
                                     RedisCompletion* completion);
  // (It also resends an mg answered from a plain read that found a stale item whose win token
  // is still to hand out, as the script that can hand it out atomically.)
  // The same for a request whose Redis command failed (timeout, disconnect).
  void fail(const PendingOp& op, RedisFailure failure, std::string* out);

  const TranslatorOptions& options() const { return options_; }

 private:
  RedisArg keyArg(std::string_view key) const { return {options_.key_prefix, key}; }
  void sendStorage(const protocol::Request& req, int64_t now, PendingOp* op, CommandSink* sink,
                   RedisCompletion* completion);
  void sendTouch(const protocol::Request& req, int64_t now, PendingOp* op, CommandSink* sink,
                 RedisCompletion* completion);
  void sendRetrieval(const protocol::Request& req, int64_t now, PendingOp* op, CommandSink* sink,
                     RedisCompletion* completion, uint32_t max_keys);
  void sendPart(PendingOp* op, uint32_t max_keys, CommandSink* sink, RedisCompletion* completion);
  // Appends the part's `n` keys of op->keys (from op->next_begin) to args_ and moves next_begin.
  void pushPartKeys(PendingOp* op, uint32_t n);
  void appendValue(const PendingOp& op, std::string_view key, const redisReply* r, std::string* out,
                   DirectValue* direct);
  // Sends EVALSHA <sha> <args_> and remembers the arguments for a NOSCRIPT retry.
  void sendScript(int script_index, PendingOp* op, CommandSink* sink, RedisCompletion* completion);
  void errorReply(const PendingOp& op, const redisReply* r, std::string* out);
  // Meta commands (translator_meta.cc).
  bool startMeta(const protocol::Request& req, int64_t now, PendingOp* op, CommandSink* sink,
                 RedisCompletion* completion, std::string* out);
  void sendMetaGetScript(PendingOp* op, const protocol::MetaFlags* flags, CommandSink* sink,
                         RedisCompletion* completion);
  void finishMeta(const PendingOp& op, const redisReply* r, std::string* out);
  // --miss-on-error: a failed mg answers as a miss (EN, or nothing under q). Returns whether it
  // answered.
  bool metaMissOnError(const PendingOp& op, std::string* out);
  bool resendStaleMetaGet(PendingOp* op, const redisReply* r, CommandSink* sink,
                          RedisCompletion* completion);
  // The binary protocol's side of start() / finish() / fail() (translator_binary.cc).
  void sendBinaryIncr(const protocol::Request& req, int64_t now, PendingOp* op, CommandSink* sink,
                      RedisCompletion* completion);
  void sendBinaryDelete(const protocol::Request& req, PendingOp* op, CommandSink* sink,
                        RedisCompletion* completion);
  void finishBinary(const PendingOp& op, const redisReply* r, std::string* out,
                    DirectValue* direct);
  void failBinary(const PendingOp& op, std::string_view reason, std::string* out);
  void binaryValue(const PendingOp& op, std::string_view key, const redisReply* r, std::string* out,
                   DirectValue* direct);

  TranslatorOptions options_;
  CasGenerator* cas_;
  Counters* counters_;
  std::vector<RedisArg> args_;  // scratch, reused by every request
};

}  // namespace mcbridge::backend
