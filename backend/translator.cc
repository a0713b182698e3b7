#include "backend/translator.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "backend/exptime.h"
#include "backend/redis_args.h"
#include "backend/scripts.h"
#include "protocol/binary.h"
#include "protocol/binary_reply.h"
#include "protocol/parser.h"
#include "protocol/reply.h"

namespace mcbridge::backend {
namespace {

using protocol::Command;
namespace reply = protocol::reply;

constexpr std::string_view kBackendError = "SERVER_ERROR backend error\r\n";
constexpr std::string_view kBackendTimeout = "SERVER_ERROR backend timeout\r\n";
constexpr std::string_view kBackendUnavailable = "SERVER_ERROR backend unavailable\r\n";


bool isRetrieval(Command c) {
  return c == Command::kGet || c == Command::kGets || c == Command::kGat || c == Command::kGats;
}
bool withCas(Command c) { return c == Command::kGets || c == Command::kGats; }
bool isTouching(Command c) { return c == Command::kGat || c == Command::kGats; }

void put(const PendingOp& op, std::string_view bytes, std::string* out) {
  if (!op.noreply) out->append(bytes);
}

// EVALSHA/EVAL <script> <numkeys> <keys...> <args...>: every script takes one key except
// get-and-touch, which takes the request's keys and answers one element per key (split per
// node in a cluster: with --miss-on-error a failed node's keys come back as error elements).
Route scriptRoute(const PendingOp* op, bool miss_on_error) {
  if (op->script == static_cast<int8_t>(Script::kGetAndTouch)) {
    uint32_t numkeys = 0;
    std::string_view first = op->script_args;  // its first argument is numkeys
    if (first.size() >= sizeof(uint32_t)) {
      uint32_t len;
      std::memcpy(&len, first.data(), sizeof len);
      std::string_view digits = first.substr(sizeof len, len);
      std::from_chars(digits.data(), digits.data() + digits.size(), numkeys);
    }
    Route route = Route::keys(3, static_cast<uint32_t>(numkeys), /*read=*/false,
                              /*numkeys_arg=*/2);
    route.partial = miss_on_error;
    return route;
  }
  return Route::key(3);
}

}  // namespace

Translator::Translator(TranslatorOptions options, CasGenerator* cas, Counters* counters)
    : options_(std::move(options)), cas_(cas), counters_(counters) {
  args_.reserve(64);
}

void Translator::sendScript(int script_index, PendingOp* op, CommandSink* sink,
                            RedisCompletion* completion) {
  op->script = static_cast<int8_t>(script_index);
  op->retried = false;
  op->script_args.clear();
  for (const RedisArg& a : args_) {
    const uint32_t len = static_cast<uint32_t>(a.first.size() + a.second.size());
    op->script_args.append(reinterpret_cast<const char*>(&len), sizeof len);
    op->script_args.append(a.first);
    op->script_args.append(a.second);
  }
  args_.insert(args_.begin(), {{"EVALSHA"}, {script(static_cast<Script>(script_index)).sha1}});
  sink->send(scriptRoute(op, options_.miss_on_error), args_, completion);
}

bool Translator::retryIfNoScript(PendingOp* op, const redisReply* r, CommandSink* sink,
                                 RedisCompletion* completion) {
  if (resendStaleMetaGet(op, r, sink, completion)) return true;
  if (op->script < 0 || op->retried || r->type != REDIS_REPLY_ERROR ||
      !std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
    return false;
  }
  op->retried = true;
  args_.assign({{"EVAL"}, {script(static_cast<Script>(op->script)).body}});
  std::string_view rest = op->script_args;
  while (rest.size() >= sizeof(uint32_t)) {
    uint32_t len;
    std::memcpy(&len, rest.data(), sizeof len);
    rest.remove_prefix(sizeof len);
    args_.push_back({rest.substr(0, len)});
    rest.remove_prefix(len);
  }
  sink->send(scriptRoute(op, options_.miss_on_error), args_, completion);
  return true;
}

bool Translator::start(const protocol::Request& req, int64_t now, PendingOp* op, CommandSink* sink,
                       RedisCompletion* completion, std::string* out, uint32_t max_keys) {
  op->command = req.command;
  op->noreply = req.noreply;
  op->script = -1;
  op->binary = req.binary;
  op->opcode = req.opcode;
  op->opaque = req.opaque;
  op->cas = 0;
  op->part_begin = op->next_begin = op->part_keys = op->keys_left = 0;
  switch (req.command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
      if (req.key_count == 0) {  // `gat <exptime>` with no key: memcached answers END
        out->append(reply::kEnd);
        return false;
      }
      sendRetrieval(req, now, op, sink, completion, max_keys);
      return true;
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas:
      if (req.too_large) {
        counters_->store_too_large.add();
        if (req.command == Command::kSet) {
          // memcached drops the old item so a reader never sees stale data after a failed set.
          op->kind = ReplyKind::kTooLarge;
          op->keys.assign(req.key);
          args_.assign({{"DEL"}, keyArg(req.key)});
          sink->send(Route::key(1), args_, completion);
          return true;
        }
        if (op->binary) {
          protocol::binary::appendError(out, op->opcode, protocol::binary::status::kTooLarge,
                                        op->opaque);
        } else {
          put(*op, reply::kTooLarge, out);
        }
        return false;
      }
      counters_->cmd_set.add();
      sendStorage(req, now, op, sink, completion);
      return true;
    case Command::kIncr:
    case Command::kDecr: {
      if (req.binary) {
        sendBinaryIncr(req, now, op, sink, completion);
        return true;
      }
      op->kind = ReplyKind::kIncr;
      op->keys.assign(req.key);
      Decimal delta(req.delta);
      char cas[8];
      storeBigEndian64(cas_->next(), cas);
      args_.assign({{"1"},
                    keyArg(req.key),
                    {delta.view()},
                    {req.command == Command::kIncr ? "1" : "0"},
                    {std::string_view(cas, 8)}});
      sendScript(static_cast<int>(Script::kIncr), op, sink, completion);
      return true;
    }
    case Command::kDelete:
      if (req.binary && req.cas_unique != 0) {
        sendBinaryDelete(req, op, sink, completion);
        return true;
      }
      op->kind = ReplyKind::kDelete;
      op->keys.assign(req.key);
      args_.assign({{"DEL"}, keyArg(req.key)});
      sink->send(Route::key(1), args_, completion);
      return true;
    case Command::kTouch:
      if (req.binary) {  // binary TOUCH answers the item's flags and CAS: get-and-touch it
        sendRetrieval(req, now, op, sink, completion, max_keys);
        return true;
      }
      counters_->cmd_touch.add();
      sendTouch(req, now, op, sink, completion);
      return true;
    case Command::kMetaGet:
    case Command::kMetaSet:
    case Command::kMetaDelete:
    case Command::kMetaArithmetic:
    case Command::kMetaDebug:
      return startMeta(req, now, op, sink, completion, out);
    default:
      put(*op, "SERVER_ERROR not implemented\r\n", out);
      return false;
  }
}

void Translator::sendRetrieval(const protocol::Request& req, int64_t now, PendingOp* op,
                               CommandSink* sink, RedisCompletion* completion, uint32_t max_keys) {
  op->keys.assign(req.keys.empty() ? req.key : req.keys);
  op->kind = ReplyKind::kMultiGet;
  // A binary request has one key, which may hold spaces.
  op->keys_left = req.binary ? 1 : static_cast<uint32_t>(req.key_count);
  if (isTouching(req.command) || req.command == Command::kTouch) {
    counters_->cmd_touch.add(req.key_count);
    op->touch = convertExptime(req.exptime, now);
  } else {
    counters_->cmd_get.add(req.key_count);
  }
  sendPart(op, max_keys, sink, completion);
}

void Translator::sendNextPart(PendingOp* op, uint32_t max_keys, CommandSink* sink,
                              RedisCompletion* completion) {
  sendPart(op, max_keys, sink, completion);
}

void Translator::sendPart(PendingOp* op, uint32_t max_keys, CommandSink* sink,
                          RedisCompletion* completion) {
  const uint32_t n = std::min(op->keys_left, std::max<uint32_t>(max_keys, 1));
  if (n == 0) return;  // nothing left: callers check keys_left first
  op->part_begin = op->next_begin;
  op->part_keys = n;
  op->keys_left -= n;
  // (A binary touch is a get-and-touch of one key that returns no value.)
  if (isTouching(op->command) || op->command == Command::kTouch) {
    Decimal numkeys(static_cast<uint64_t>(n));
    args_.assign({{numkeys.view()}});
    pushPartKeys(op, n);
    const Expiry& e = op->touch;
    Decimal value(e.value);
    switch (e.kind) {
      case ExpiryKind::kNever:
        args_.push_back({"PERSIST"});
        args_.push_back({"0"});
        break;
      case ExpiryKind::kRelative:
        args_.push_back({"EX"});
        args_.push_back({value.view()});
        break;
      case ExpiryKind::kAbsolute:
        args_.push_back({"EXAT"});
        args_.push_back({value.view()});
        break;
      case ExpiryKind::kExpired:
        args_.push_back({"DEL"});
        args_.push_back({"0"});
        break;
    }
    sendScript(static_cast<int>(Script::kGetAndTouch), op, sink, completion);
    return;
  }
  // MGET even for one key: the Redis connection merges MGETs sent back to back (by different
  // clients in the same loop turn) into one command, which costs Redis far less per key than
  // one GET each. A key holding another Redis type reads as a miss, as it always did in a
  // multi-key get.
  args_.assign({{"MGET"}});
  pushPartKeys(op, n);
  // With --miss-on-error, a cluster node that fails costs only its own keys (they read as
  // misses): a memcached client of a pool with one server down sees the same.
  Route route = Route::keys(1, static_cast<uint32_t>(args_.size() - 1), /*read=*/true);
  route.partial = options_.miss_on_error;
  sink->send(route, args_, completion);
}

void Translator::pushPartKeys(PendingOp* op, uint32_t n) {
  const std::string_view all = op->keys;
  // A binary request has one key, which may hold spaces.
  if (op->binary) {
    args_.push_back(keyArg(all));
    op->next_begin = static_cast<uint32_t>(all.size());
    return;
  }
  protocol::KeyIterator it(all.substr(op->next_begin));
  std::string_view key;
  for (uint32_t i = 0; i < n && it.next(&key); ++i) args_.push_back(keyArg(key));
  op->next_begin = static_cast<uint32_t>(key.data() + key.size() - all.data());
}

void Translator::sendStorage(const protocol::Request& req, int64_t now, PendingOp* op,
                             CommandSink* sink, RedisCompletion* completion) {
  op->keys.assign(req.key);
  char header[kHeaderSize];
  op->cas = cas_->next();
  encodeHeader(req.flags, op->cas, header);
  const std::string_view hdr(header, kHeaderSize);

  if (req.command == Command::kAppend || req.command == Command::kPrepend) {
    // append/prepend keep the item's flags and TTL: the command's own are parsed but ignored.
    op->kind = ReplyKind::kAppend;
    Decimal limit0(protocol::maxValueBytes(options_.item_size_max, req.key.size(), 0));
    Decimal limit1(protocol::maxValueBytes(options_.item_size_max, req.key.size(), 1));
    args_.assign({{"1"},
                  keyArg(req.key),
                  {req.data},
                  {req.command == Command::kAppend ? "a" : "p"},
                  {hdr.substr(6)},
                  {limit0.view()},
                  {limit1.view()}});
    char expected[8];
    if (req.cas_unique != 0) {  // binary: the header CAS must match the item's
      storeBigEndian64(req.cas_unique, expected);
      args_.push_back({std::string_view(expected, 8)});
    }
    sendScript(static_cast<int>(Script::kAppend), op, sink, completion);
    return;
  }

  const RedisExpiry e = redisExpiry(req.exptime, now);
  const std::string_view mode = e.mode;
  const Decimal& value = e.value;

  if (req.command == Command::kCas) {
    op->kind = ReplyKind::kCas;
    char expected[8];
    storeBigEndian64(req.cas_unique, expected);
    args_.assign({{"1"},
                  keyArg(req.key),
                  {std::string_view(expected, 8)},
                  {hdr, req.data},
                  {mode},
                  {value.view()}});
    sendScript(static_cast<int>(Script::kCas), op, sink, completion);
    return;
  }

  if (e.kind == ExpiryKind::kExpired) {
    // memcached stores the item and it is invisible at once: the visible effect is that the key
    // is gone (set, replace) or, for add, nothing changes.
    if (req.command == Command::kAdd) {
      op->kind = ReplyKind::kAddExpired;
      args_.assign({{"EXISTS"}, keyArg(req.key)});
    } else {
      op->kind = req.command == Command::kSet ? ReplyKind::kSetExpired : ReplyKind::kReplaceExpired;
      args_.assign({{"DEL"}, keyArg(req.key)});
    }
    sink->send(Route::key(1), args_, completion);
    return;
  }

  op->kind = ReplyKind::kStore;
  args_.assign({{"SET"}, keyArg(req.key), {hdr, req.data}});
  if (!mode.empty()) {
    args_.push_back({mode});
    args_.push_back({value.view()});
  }
  if (req.command == Command::kAdd) args_.push_back({"NX"});
  if (req.command == Command::kReplace) args_.push_back({"XX"});
  sink->send(Route::key(1), args_, completion);
}

void Translator::sendTouch(const protocol::Request& req, int64_t now, PendingOp* op,
                           CommandSink* sink, RedisCompletion* completion) {
  op->kind = ReplyKind::kTouch;
  op->keys.assign(req.key);
  const Expiry e = convertExptime(req.exptime, now);
  Decimal value(e.value);
  switch (e.kind) {
    case ExpiryKind::kNever:
      args_.assign({{"1"}, keyArg(req.key)});
      sendScript(static_cast<int>(Script::kPersist), op, sink, completion);
      return;
    case ExpiryKind::kRelative:
      args_.assign({{"EXPIRE"}, keyArg(req.key), {value.view()}});
      break;
    case ExpiryKind::kAbsolute:
      args_.assign({{"EXPIREAT"}, keyArg(req.key), {value.view()}});
      break;
    case ExpiryKind::kExpired:
      args_.assign({{"DEL"}, keyArg(req.key)});
      break;
  }
  sink->send(Route::key(1), args_, completion);
}

void Translator::appendValue(const PendingOp& op, std::string_view key, const redisReply* r,
                             std::string* out, DirectValue* direct) {
  const bool touching = isTouching(op.command);
  if (r->type != REDIS_REPLY_STRING) {
    (touching ? counters_->touch_misses : counters_->get_misses).add();
    return;
  }
  (touching ? counters_->touch_hits : counters_->get_hits).add();
  const ItemView item = decodeItem(std::string_view(r->str, r->len));
  if (direct != nullptr && direct->data.empty() && item.data.size() >= direct->min_size) {
    const uint64_t cas = item.cas;
    protocol::appendValueHeader(out, key, item.flags, item.data.size(),
                                withCas(op.command) ? &cas : nullptr);
    direct->offset = out->size();
    direct->data = item.data;
    out->append("\r\n");
    return;
  }
  if (withCas(op.command)) {
    protocol::appendValueCas(out, key, item.flags, item.data, item.cas);
  } else {
    protocol::appendValue(out, key, item.flags, item.data);
  }
}

void Translator::errorReply(const PendingOp& op, const redisReply* r, std::string* out) {
  counters_->backend_error_replies.add();
  counters_->server_errors[static_cast<size_t>(op.command)].add();
  const std::string_view msg(r->str, r->len);
  if (metaMissOnError(op, out)) return;
  if (isRetrieval(op.command) && options_.miss_on_error) {
    out->append(reply::kEnd);
    return;
  }
  if (msg.starts_with("OOM")) {
    counters_->store_no_memory.add();
    put(op, reply::kOutOfMemory, out);
    return;
  }
  put(op, kBackendError, out);
}

void Translator::finish(const PendingOp& op, const redisReply* r, std::string* out,
                        DirectValue* direct) {
  if (op.binary) return finishBinary(op, r, out, direct);
  if (op.kind == ReplyKind::kMultiGet && op.part_begin > 0 && r->type != REDIS_REPLY_ARRAY) {
    // A later part of a multi-get failed: values were sent already; the rest read as misses.
    counters_->backend_error_replies.add();
    out->append(reply::kEnd);
    return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    errorReply(op, r, out);
    return;
  }
  const bool is_int = r->type == REDIS_REPLY_INTEGER;
  const long long n = is_int ? r->integer : 0;
  if (op.kind >= ReplyKind::kMetaGet) {
    finishMeta(op, r, out);
    return;
  }
  switch (op.kind) {
    case ReplyKind::kMultiGet: {
      if (r->type != REDIS_REPLY_ARRAY) break;
      // Error elements: a cluster node's part failed (Route::partial, --miss-on-error); its
      // keys read as misses, counted as one failed request, as a whole failure would be.
      for (size_t i = 0; i < r->elements; ++i) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
          counters_->backend_failures.add();
          counters_->server_errors[static_cast<size_t>(op.command)].add();
          break;
        }
      }
      protocol::KeyIterator keys(std::string_view(op.keys).substr(op.part_begin));
      std::string_view key;
      size_t i = 0;
      while (i < op.part_keys && keys.next(&key) && i < r->elements) {
        appendValue(op, key, r->element[i++], out, direct);
      }
      if (op.keys_left == 0) out->append(reply::kEnd);
      return;
    }
    case ReplyKind::kStore:
      if (r->type == REDIS_REPLY_STATUS) return put(op, reply::kStored, out);
      if (r->type == REDIS_REPLY_NIL) return put(op, reply::kNotStored, out);
      break;
    case ReplyKind::kAddExpired:
      if (!is_int) break;
      return put(op, n == 0 ? reply::kStored : reply::kNotStored, out);
    case ReplyKind::kReplaceExpired:
      if (!is_int) break;
      return put(op, n == 1 ? reply::kStored : reply::kNotStored, out);
    case ReplyKind::kSetExpired:
      return put(op, reply::kStored, out);
    case ReplyKind::kTooLarge:
      return put(op, reply::kTooLarge, out);
    case ReplyKind::kCas:
      if (!is_int) break;
      if (n == 1) {
        counters_->cas_hits.add();
        return put(op, reply::kStored, out);
      }
      if (n == 0) {
        counters_->cas_badval.add();
        return put(op, reply::kExists, out);
      }
      counters_->cas_misses.add();
      return put(op, reply::kNotFound, out);
    case ReplyKind::kIncr: {
      const bool incr = op.command == Command::kIncr;
      if (r->type == REDIS_REPLY_STRING) {
        (incr ? counters_->incr_hits : counters_->decr_hits).add();
        if (!op.noreply) {
          out->append(r->str, r->len);
          out->append("\r\n");
        }
        return;
      }
      if (!is_int) break;
      if (n == -1) {
        (incr ? counters_->incr_misses : counters_->decr_misses).add();
        return put(op, reply::kNotFound, out);
      }
      return put(op, reply::kNonNumeric, out);
    }
    case ReplyKind::kAppend:
      if (!is_int) break;
      return put(op, n == 1 ? reply::kStored : reply::kNotStored, out);
    case ReplyKind::kDelete:
      if (!is_int) break;
      (n >= 1 ? counters_->delete_hits : counters_->delete_misses).add();
      return put(op, n >= 1 ? reply::kDeleted : reply::kNotFound, out);
    case ReplyKind::kTouch:
      if (!is_int) break;
      (n >= 1 ? counters_->touch_hits : counters_->touch_misses).add();
      return put(op, n >= 1 ? reply::kTouched : reply::kNotFound, out);
    case ReplyKind::kFlush:
      return put(op, reply::kOk, out);
    default:  // meta kinds: finishMeta above
      break;
  }
  // A reply of a type the command never produces: a bug or a foreign proxy in between.
  counters_->backend_error_replies.add();
  counters_->server_errors[static_cast<size_t>(op.command)].add();
  put(op, kBackendError, out);
}

void Translator::fail(const PendingOp& op, RedisFailure failure, std::string* out) {
  counters_->backend_failures.add();
  counters_->server_errors[static_cast<size_t>(op.command)].add();
  if (op.binary) {
    return failBinary(
        op, failure == RedisFailure::kTimeout ? "backend timeout" : "backend unavailable", out);
  }
  if (metaMissOnError(op, out)) return;
  if (op.kind == ReplyKind::kMultiGet && op.part_begin > 0) {
    // A later part of a multi-get: its values have been sent already; the keys Redis did not
    // answer read as misses (the caller sends no further part).
    out->append(reply::kEnd);
    return;
  }
  if (isRetrieval(op.command) && options_.miss_on_error) {
    out->append(reply::kEnd);
    return;
  }
  put(op, failure == RedisFailure::kTimeout ? kBackendTimeout : kBackendUnavailable, out);
}

}  // namespace mcbridge::backend
