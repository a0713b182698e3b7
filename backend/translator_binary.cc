// The binary protocol's replies (memcached 1.6.18 proto_bin.c): the same Redis commands as the
// text protocol, answered as packets. Quiet commands are silent on success only: memcached
// sends every error, and a quiet get's hit.
#include <charconv>

#include "backend/exptime.h"
#include "backend/redis_args.h"
#include "backend/scripts.h"
#include "backend/translator.h"
#include "protocol/binary.h"
#include "protocol/binary_reply.h"

namespace mcbridge::backend {
namespace {

using protocol::Command;
namespace bin = protocol::binary;
namespace op_code = protocol::binary::op;
namespace st = protocol::binary::status;

bool returnsKey(uint8_t opcode) {
  return opcode == op_code::kGetK || opcode == op_code::kGetKQ || opcode == op_code::kGatK ||
         opcode == op_code::kGatKQ;
}

void error(const PendingOp& op, uint16_t status, std::string* out) {
  bin::appendError(out, op.opcode, status, op.opaque);
}

void success(const PendingOp& op, uint64_t cas, std::string* out) {
  if (!op.noreply) bin::appendSuccess(out, op.opcode, op.opaque, cas);
}

}  // namespace

void Translator::sendBinaryIncr(const protocol::Request& req, int64_t now, PendingOp* op,
                                CommandSink* sink, RedisCompletion* completion) {
  op->kind = ReplyKind::kIncr;
  op->keys.assign(req.key);
  op->cas = cas_->next();
  Decimal delta(req.delta);
  Decimal initial(req.initial);
  char cas[8];
  storeBigEndian64(op->cas, cas);
  char expected[8];
  storeBigEndian64(req.cas_unique, expected);
  const RedisExpiry e = redisExpiry(req.exptime, now);
  const std::string_view mode = e.mode;
  const Decimal& value = e.value;
  args_.assign({{"1"},
                keyArg(req.key),
                {delta.view()},
                {req.command == Command::kIncr ? "1" : "0"},
                {std::string_view(cas, 8)},
                {req.cas_unique != 0 ? std::string_view(expected, 8) : std::string_view()},
                {req.create ? initial.view() : std::string_view()},
                {mode},
                {value.view()},
                {"b"}});
  sendScript(static_cast<int>(Script::kIncr), op, sink, completion);
}

void Translator::sendBinaryDelete(const protocol::Request& req, PendingOp* op, CommandSink* sink,
                                  RedisCompletion* completion) {
  op->kind = ReplyKind::kCas;  // 1 deleted, 0 CAS mismatch, -1 not found
  op->keys.assign(req.key);
  char expected[8];
  storeBigEndian64(req.cas_unique, expected);
  args_.assign({{"1"}, keyArg(req.key), {std::string_view(expected, 8)}});
  sendScript(static_cast<int>(Script::kDeleteCas), op, sink, completion);
}

void Translator::binaryValue(const PendingOp& op, std::string_view key, const redisReply* r,
                             std::string* out, DirectValue* direct) {
  const bool touching = op.command != Command::kGet;
  if (r->type != REDIS_REPLY_STRING) {
    (touching ? counters_->touch_misses : counters_->get_misses).add();
    if (op.noreply) return;
    if (returnsKey(op.opcode)) {
      // GETK/GATK miss: the key as the body, no message.
      bin::appendHeader(out, op.opcode, st::kKeyNotFound, static_cast<uint16_t>(key.size()), 0,
                        static_cast<uint32_t>(key.size()), op.opaque, 0);
      out->append(key);
    } else {
      error(op, st::kKeyNotFound, out);
    }
    return;
  }
  (touching ? counters_->touch_hits : counters_->get_hits).add();
  const ItemView item = decodeItem(std::string_view(r->str, r->len));
  const std::string_view echoed = returnsKey(op.opcode) ? key : std::string_view();
  const bool with_value = op.command != Command::kTouch;
  if (with_value && direct != nullptr && direct->data.empty() &&
      item.data.size() >= direct->min_size) {
    bin::appendItem(out, op.opcode, op.opaque, item.cas, item.flags, echoed, item.data, true,
                    /*value_follows=*/true);
    direct->offset = out->size();
    direct->data = item.data;
    return;
  }
  bin::appendItem(out, op.opcode, op.opaque, item.cas, item.flags, echoed, item.data, with_value);
}

void Translator::failBinary(const PendingOp& op, std::string_view reason, std::string* out) {
  const bool read =
      op.command == Command::kGet || op.command == Command::kGat || op.command == Command::kTouch;
  if (read && options_.miss_on_error) {
    // Answered as a miss, quiet included, exactly as binaryValue answers one.
    redisReply nil{};
    nil.type = REDIS_REPLY_NIL;
    binaryValue(op, op.keys, &nil, out, nullptr);
    return;
  }
  bin::appendErrorText(out, op.opcode, st::kTemporaryFailure, op.opaque, reason);
}

void Translator::finishBinary(const PendingOp& op, const redisReply* r, std::string* out,
                              DirectValue* direct) {
  if (r->type == REDIS_REPLY_ERROR) {
    counters_->backend_error_replies.add();
    counters_->server_errors[static_cast<size_t>(op.command)].add();
    if (std::string_view(r->str, r->len).starts_with("OOM")) {
      counters_->store_no_memory.add();
      return error(op, st::kOutOfMemory, out);
    }
    return failBinary(op, "backend error", out);
  }
  const bool is_int = r->type == REDIS_REPLY_INTEGER;
  const long long n = is_int ? r->integer : 0;
  switch (op.kind) {
    case ReplyKind::kMultiGet:
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) break;
      binaryValue(op, op.keys, r->element[0], out, direct);
      return;
    case ReplyKind::kStore:
      if (r->type == REDIS_REPLY_STATUS) return success(op, op.cas, out);
      if (r->type != REDIS_REPLY_NIL) break;
      // memcached: a failed add is "exists", a failed replace "not found".
      return error(op, op.command == Command::kAdd ? st::kKeyExists : st::kKeyNotFound, out);
    case ReplyKind::kAddExpired:
      if (!is_int) break;
      return n == 0 ? success(op, op.cas, out) : error(op, st::kKeyExists, out);
    case ReplyKind::kReplaceExpired:
      if (!is_int) break;
      return n == 1 ? success(op, op.cas, out) : error(op, st::kKeyNotFound, out);
    case ReplyKind::kSetExpired:
      return success(op, op.cas, out);
    case ReplyKind::kTooLarge:
      return error(op, st::kTooLarge, out);
    case ReplyKind::kCas: {
      if (!is_int) break;
      const bool del = op.command == Command::kDelete;
      if (n == 1) {
        (del ? counters_->delete_hits : counters_->cas_hits).add();
        return success(op, del ? 0 : op.cas, out);
      }
      if (n == 0) {
        if (!del) counters_->cas_badval.add();
        return error(op, st::kKeyExists, out);
      }
      (del ? counters_->delete_misses : counters_->cas_misses).add();
      return error(op, st::kKeyNotFound, out);
    }
    case ReplyKind::kIncr: {
      const bool incr = op.command == Command::kIncr;
      // A counter written by another Redis client comes back as a one-element array: its CAS
      // is the one derived from its content, as a later get computes it.
      const bool foreign = r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                           r->element[0]->type == REDIS_REPLY_STRING;
      const redisReply* v = foreign ? r->element[0] : r;
      if (v->type == REDIS_REPLY_STRING) {
        (incr ? counters_->incr_hits : counters_->decr_hits).add();
        uint64_t value = 0;
        std::from_chars(v->str, v->str + v->len, value);
        const uint64_t cas = foreign ? foreignCas(std::string_view(v->str, v->len)) : op.cas;
        if (!op.noreply) bin::appendCounter(out, op.opcode, op.opaque, cas, value);
        return;
      }
      if (!is_int) break;
      if (n == -1) {
        (incr ? counters_->incr_misses : counters_->decr_misses).add();
        return error(op, st::kKeyNotFound, out);
      }
      return error(op, n == -3 ? st::kKeyExists : st::kDeltaBadValue, out);
    }
    case ReplyKind::kAppend:
      if (!is_int) break;
      if (n == 1) return success(op, op.cas, out);
      return error(op, n == 2 ? st::kKeyExists : st::kNotStored, out);
    case ReplyKind::kDelete:
      if (!is_int) break;
      (n >= 1 ? counters_->delete_hits : counters_->delete_misses).add();
      return n >= 1 ? success(op, 0, out) : error(op, st::kKeyNotFound, out);
    case ReplyKind::kTouch:
      break;  // binary TOUCH goes through get-and-touch (kMultiGet)
    case ReplyKind::kFlush:
      return success(op, 0, out);
    default:
      break;  // the meta commands' kinds: never binary
  }
  counters_->backend_error_replies.add();
  counters_->server_errors[static_cast<size_t>(op.command)].add();
  failBinary(op, "backend error", out);
}

}  // namespace mcbridge::backend
