// Meta commands (mg/ms/md/ma/me) -> Redis -> meta replies. Commands that only read or only
// write go to Redis natively (mg as MGET, so quiet multi-gets merge like a text multi-get; ms
// as SET; md as DEL); the ones that must read and write (h/l tracking, N, R, T, stale/win, CAS
// compares, append, arithmetic) are one meta script each (meta_scripts.cc).
#include <charconv>
#include <cmath>

#include "backend/exptime.h"
#include "backend/redis_args.h"
#include "backend/scripts.h"
#include "backend/translator.h"
#include "protocol/base64.h"
#include "protocol/meta_parser.h"
#include "protocol/meta_reply.h"
#include "protocol/parser.h"
#include "protocol/reply.h"

namespace mcbridge::backend {
namespace {

using protocol::Command;
using protocol::MetaFlags;
namespace reply = protocol::reply;

constexpr std::string_view kNonNumeric =
    "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";

// Remaining seconds an exptime leaves, as a t token shows them (-1: never expires).
int64_t remainingSeconds(int64_t exptime, int64_t now) {
  const Expiry e = convertExptime(exptime, now);
  switch (e.kind) {
    case ExpiryKind::kNever: return -1;
    case ExpiryKind::kRelative: return e.value;
    case ExpiryKind::kAbsolute: return e.value - now;
    case ExpiryKind::kExpired: return 0;
  }
  return -1;
}

int64_t ttlFromPttl(long long pttl) {
  if (pttl < 0) return -1;
  return (pttl + 999) / 1000;
}

// Whether token `a` comes before token `b` in the flag tokens (both present).
bool tokenBefore(std::string_view tokens, char a, char b) {
  bool seen_a = false;
  size_t i = 0;
  while (i < tokens.size()) {
    while (i < tokens.size() && tokens[i] == ' ') ++i;
    if (i == tokens.size()) break;
    if (tokens[i] == a) seen_a = true;
    if (tokens[i] == b) return seen_a;
    while (i < tokens.size() && tokens[i] != ' ') ++i;
  }
  return false;
}

bool needsMetaGetScript(const MetaFlags& f) {
  for (char c : {'t', 'h', 'l', 'N', 'R', 'T'}) {
    if (f.has(c)) return true;
  }
  return false;
}

// Whether a flag token starts with c.
bool hasToken(std::string_view tokens, char c) {
  size_t i = 0;
  while (i < tokens.size()) {
    while (i < tokens.size() && tokens[i] == ' ') ++i;
    if (i < tokens.size() && tokens[i] == c) return true;
    while (i < tokens.size() && tokens[i] != ' ') ++i;
  }
  return false;
}

// Offset of the first opaque token longer than memcached allows (tokens.size() if none).
size_t longOpaqueAt(std::string_view tokens) {
  size_t i = 0;
  while (i < tokens.size()) {
    while (i < tokens.size() && tokens[i] == ' ') ++i;
    size_t j = i;
    while (j < tokens.size() && tokens[j] != ' ') ++j;
    if (j > i && tokens[i] == 'O' && j - i > protocol::kMaxOpaqueLength) return i;
    i = j;
  }
  return tokens.size();
}

// ms replies: HD (hidden by q) / NS / EX / NF with the O, k and c return flags; c is the new
// CAS when stored, else 0.
void metaStoreReply(const MetaOp& m, std::string_view key, std::string_view code,
                    std::string* out) {
  if (code == "HD" && m.quiet) return;
  const uint64_t cas = code == "HD" ? m.cas : 0;
  protocol::appendMetaStatus(out, code, m.tokens, key, m.base64, &cas);
}

std::string_view cas8(uint64_t cas, char* buf) {
  storeBigEndian64(cas, buf);
  return {buf, 8};
}

}  // namespace

bool Translator::startMeta(const protocol::Request& req, int64_t now, PendingOp* op,
                           CommandSink* sink, RedisCompletion* completion, std::string* /*out*/) {
  const MetaFlags& f = req.meta;
  char keybuf[protocol::kMaxDecodedKey];
  const std::string_view key = protocol::metaKey(req, keybuf);
  op->keys.assign(key);
  op->noreply = false;  // errors are always sent; q hides only nominal replies (meta.quiet)
  MetaOp& m = op->meta;
  m.tokens.assign(f.tokens);
  m.base64 = f.base64;
  m.quiet = req.noreply;
  m.debug = req.command == Command::kMetaDebug;
  m.opaque_too_long = f.opaque_too_long;
  m.stale_raw.clear();
  m.set_reply = 0;
  m.cas = 0;
  m.now = now;
  m.ttl_touch = f.has('T') ? remainingSeconds(f.ttl, now) : -1;
  m.ttl_vivify = f.has('N') ? remainingSeconds(f.vivify_ttl, now) : -1;

  switch (req.command) {
    case Command::kMetaDebug:
      counters_->cmd_get.add();
      sendMetaGetScript(op, nullptr, sink, completion);
      return true;
    case Command::kMetaGet:
      counters_->cmd_get.add();
      if (needsMetaGetScript(f)) {
        sendMetaGetScript(op, &f, sink, completion);
        return true;
      }
      op->kind = ReplyKind::kMetaGet;
      args_.assign({{"MGET"}, keyArg(key)});
      {
        Route route = Route::keys(1, 1, /*read=*/true);
        route.partial = options_.miss_on_error;  // a dead cluster node's keys miss at once
        sink->send(route, args_, completion);
      }
      return true;
    case Command::kMetaSet:
      break;
    case Command::kMetaDelete: {
      if (!f.has('C') && !f.has('I')) {
        op->kind = ReplyKind::kMetaDelete;
        args_.assign({{"DEL"}, keyArg(key)});
        sink->send(Route::key(1), args_, completion);
        return true;
      }
      op->kind = ReplyKind::kMetaDeleteScript;
      m.cas = cas_->next();
      char want[8];
      char fresh[8];
      const RedisExpiry e = redisExpiry(f.ttl, now, true);
      args_.assign({{"1"}, keyArg(key), {f.has('C') ? cas8(f.compare_cas, want) : ""},
                    {f.has('I') ? "1" : "0"}, {cas8(m.cas, fresh)},
                    {f.has('T') ? e.mode : ""}, {e.value.view()}});
      sendScript(static_cast<int>(Script::kMetaDelete), op, sink, completion);
      return true;
    }
    case Command::kMetaArithmetic: {
      op->kind = ReplyKind::kMetaArithmetic;
      m.cas = cas_->next();
      const bool incr = f.mode != 'D' && f.mode != '-';
      char dbuf[24];
      const std::string_view delta_text(
          dbuf, static_cast<size_t>(std::to_chars(dbuf, dbuf + sizeof dbuf, f.delta).ptr - dbuf));
      char ibuf[24];
      const std::string_view initial_text(
          ibuf,
          static_cast<size_t>(std::to_chars(ibuf, ibuf + sizeof ibuf, f.initial).ptr - ibuf));
      // A created item ends with the exptime of the last of its N and T tokens.
      const bool touch_last = f.has('T') && (!f.has('N') || tokenBefore(m.tokens, 'N', 'T'));
      const RedisExpiry created = redisExpiry(touch_last ? f.ttl : f.vivify_ttl, now, false);
      const RedisExpiry touch = redisExpiry(f.ttl, now, true);
      char fresh[8];
      char want[8];
      // ma compares only a non-zero CAS (memcached's do_add_delta).
      const bool compare = f.has('C') && f.compare_cas != 0;
      args_.assign({{"1"}, keyArg(key), {delta_text}, {incr ? "1" : "0"}, {cas8(m.cas, fresh)},
                    {compare ? cas8(f.compare_cas, want) : ""}, {f.has('N') ? "1" : "0"},
                    {initial_text}, {created.mode}, {created.value.view()},
                    {f.has('T') ? touch.mode : ""}, {touch.value.view()}});
      sendScript(static_cast<int>(Script::kMetaArithmetic), op, sink, completion);
      return true;
    }
    default:
      return false;
  }

  // ms
  if (req.too_large) {
    counters_->store_too_large.add();
    // memcached drops the old item (whatever the mode) so no stale value survives.
    op->kind = ReplyKind::kTooLarge;
    args_.assign({{"DEL"}, keyArg(key)});
    sink->send(Route::key(1), args_, completion);
    return true;
  }
  counters_->cmd_set.add();
  m.cas = cas_->next();
  char header[kHeaderSizeV2];
  size_t header_size = kHeaderSize;
  if (f.base64) {
    encodeHeaderV2(f.client_flags, m.cas, kStateKeyBinary, static_cast<uint32_t>(now), header);
    header_size = kHeaderSizeV2;
  } else {
    encodeHeader(f.client_flags, m.cas, header);
  }
  const std::string_view hdr(header, header_size);
  const char mode = f.mode == 0 ? 'S' : f.mode;
  const RedisExpiry e = redisExpiry(f.ttl, now, false);
  if (mode == 'A' || mode == 'P' || f.has('C')) {
    op->kind = ReplyKind::kMetaSetScript;
    char want[8];
    Decimal limit0(static_cast<int64_t>(
        protocol::maxValueBytes(options_.item_size_max, key.size(), 0)));
    Decimal limit1(static_cast<int64_t>(
        protocol::maxValueBytes(options_.item_size_max, key.size(), 1)));
    const char mode_text[1] = {mode};
    args_.assign({{"1"}, keyArg(key), {std::string_view(mode_text, 1)},
                  {f.has('C') ? cas8(f.compare_cas, want) : ""}, {f.has('I') ? "1" : "0"},
                  {hdr}, {req.data}, {e.mode}, {e.value.view()}, {limit0.view()},
                  {limit1.view()}});
    sendScript(static_cast<int>(Script::kMetaSet), op, sink, completion);
    return true;
  }
  op->kind = ReplyKind::kMetaSet;
  if (e.mode == "DEL") {
    // Stored and invisible at once: what is visible is whether the key is gone.
    if (mode == 'E') {
      m.set_reply = 1;
      args_.assign({{"EXISTS"}, keyArg(key)});
    } else {
      m.set_reply = mode == 'R' ? 2 : 3;
      args_.assign({{"DEL"}, keyArg(key)});
    }
    sink->send(Route::key(1), args_, completion);
    return true;
  }
  args_.assign({{"SET"}, keyArg(key), {hdr, req.data}});
  if (!e.mode.empty()) {
    args_.push_back({e.mode});
    args_.push_back({e.value.view()});
  }
  if (mode == 'E') args_.push_back({"NX"});
  if (mode == 'R') args_.push_back({"XX"});
  sink->send(Route::key(1), args_, completion);
  return true;
}

void Translator::sendMetaGetScript(PendingOp* op, const MetaFlags* f, CommandSink* sink,
                                   RedisCompletion* completion) {
  MetaOp& m = op->meta;
  op->kind = ReplyKind::kMetaGetScript;
  char opts[8];
  size_t n = 0;
  MetaFlags none;
  if (f == nullptr) f = &none;
  if (m.debug) opts[n++] = 'D';
  for (char c : {'u', 'N', 'R', 'T'}) {
    if (f->has(c)) opts[n++] = c;
  }
  const RedisExpiry touch = redisExpiry(f->ttl, m.now, true);
  // A created item ends with the exptime of the last of its N and T tokens.
  const bool touch_last = f->has('T') && tokenBefore(m.tokens, 'N', 'T');
  RedisExpiry created = redisExpiry(touch_last ? f->ttl : f->vivify_ttl, m.now, false);
  if (m.opaque_too_long) {
    // memcached stops at the too-long O: an item N created stays (without a win handed out),
    // and only the N and T tokens before that O took effect.
    const std::string_view before = std::string_view(m.tokens).substr(0, longOpaqueAt(m.tokens));
    const bool t_before = hasToken(before, 'T');
    const bool n_before = hasToken(before, 'N');
    n = 0;
    opts[n++] = 'E';
    if (f->has('N')) opts[n++] = 'N';
    if (t_before) opts[n++] = 'T';
    if (t_before && (!n_before || tokenBefore(before, 'N', 'T'))) {
      created = redisExpiry(f->ttl, m.now, false);
    } else {
      created = redisExpiry(n_before ? f->vivify_ttl : 0, m.now, false);
    }
  }
  Decimal now(m.now);
  Decimal recache(f->recache);
  // R compares the TTL a T token before it has set.
  Decimal touched(f->has('T') && tokenBefore(m.tokens, 'T', 'R') ? m.ttl_touch : 0);
  const bool touched_first = f->has('T') && tokenBefore(m.tokens, 'T', 'R');
  char fresh[8];
  m.cas = cas_->next();
  args_.assign({{"1"}, keyArg(op->keys), {now.view()}, {std::string_view(opts, n)},
                {touch.mode}, {touch.value.view()}, {created.mode}, {created.value.view()},
                {recache.view()}, {touched_first ? touched.view() : ""}, {cas8(m.cas, fresh)}});
  sendScript(static_cast<int>(Script::kMetaGet), op, sink, completion);
}

bool Translator::resendStaleMetaGet(PendingOp* op, const redisReply* r, CommandSink* sink,
                                    RedisCompletion* completion) {
  if (op->kind != ReplyKind::kMetaGet || r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
      r->element[0]->type != REDIS_REPLY_STRING) {
    return false;
  }
  const std::string_view raw(r->element[0]->str, r->element[0]->len);
  const ItemView item = decodeItem(raw);
  if ((item.state & (kStateStale | kStateWinSent)) != kStateStale) return false;
  // A stale item whose win is still to hand out: the reply is this read, and the win goes to
  // whoever claims it first for this very item (same CAS), atomically in a script. Requests
  // pipelined after this one may already have run, so the item is not read again.
  op->meta.stale_raw.assign(raw);
  op->kind = ReplyKind::kMetaGetClaim;
  char fresh[8];
  args_.assign({{"1"}, keyArg(op->keys), {"0"}, {"uW"}, {""}, {""}, {""}, {""}, {"0"}, {""},
                {cas8(item.cas, fresh)}});
  sendScript(static_cast<int>(Script::kMetaGet), op, sink, completion);
  return true;
}

bool Translator::metaMissOnError(const PendingOp& op, std::string* out) {
  if (op.command != Command::kMetaGet || !options_.miss_on_error) return false;
  if (!op.meta.quiet) {
    protocol::appendMetaStatus(out, "EN", op.meta.tokens, op.keys, op.meta.base64);
  }
  return true;
}

void Translator::finishMeta(const PendingOp& op, const redisReply* r, std::string* out) {
  const MetaOp& m = op.meta;
  const std::string_view key = op.keys;
  protocol::MetaItem item;
  item.ttl_touch = m.ttl_touch;
  item.ttl_vivify = m.ttl_vivify;
  const auto integer = [&](const redisReply* e) -> long long {
    return e->type == REDIS_REPLY_INTEGER ? e->integer : 0;
  };
  switch (op.kind) {
    case ReplyKind::kMetaGet:
    case ReplyKind::kMetaGetScript: {
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) break;
      if (m.opaque_too_long) {
        out->append("CLIENT_ERROR opaque token too long\r\n");
        return;
      }
      const redisReply* v = r->element[0];
      const bool script = op.kind == ReplyKind::kMetaGetScript;
      if (script && r->elements < 4) break;
      if (v->type != REDIS_REPLY_STRING) {
        counters_->get_misses.add();
        if (m.debug) {
          out->append("EN\r\n");
        } else if (!m.quiet) {
          protocol::appendMetaStatus(out, "EN", m.tokens, key, m.base64);
        }
        return;
      }
      counters_->get_hits.add();
      const ItemView it = decodeItem(std::string_view(v->str, v->len));
      item.flags = it.flags;
      item.cas = it.cas;
      item.size = it.data.size();
      item.key_binary = (it.state & kStateKeyBinary) != 0;
      item.win_sent = (it.state & kStateWinSent) != 0;
      item.stale = (it.state & kStateStale) != 0;
      if (script) {
        const long long bits = integer(r->element[2]);
        const long long la = integer(r->element[3]);
        item.created = (bits & 8) != 0;
        item.ttl = item.created ? -1 : ttlFromPttl(integer(r->element[1]));
        item.win_sent = (bits & 1) != 0;
        item.stale = (bits & 2) != 0;
        item.won = (bits & 4) != 0;
        item.fetched = (bits & 16) != 0 && !item.created;
        item.idle = la > 0 && la <= m.now ? m.now - la : 0;
      }
      if (m.debug) {
        // me: memcached's debug line; cls and size describe where 1.6.18 would store the item.
        const uint64_t total = 48 + key.size() + 1 + item.size + 2 + 8 + (item.flags ? 4 : 0);
        static constexpr uint32_t kClasses[] = {
            96,    120,   152,   192,   240,    304,    384,    480,    600,    752,
            944,   1184,  1480,  1856,  2320,   2904,   3632,   4544,   5680,   7104,
            8880,  11104, 13880, 17352, 21696,  27120,  33904,  42384,  52984,  66232,
            82792, 103496, 129376, 161720, 202152, 252696, 315872, 394840, 524288};
        unsigned cls = 1;
        while (cls < std::size(kClasses) && kClasses[cls - 1] < total) ++cls;
        out->append("ME ");
        if (item.key_binary) {
          protocol::base64Encode(key, out);
        } else {
          out->append(key);
        }
        out->append(" exp=");
        // The remaining TTL, as memcached prints it since 1.6.19 (1.6.18 printed it negated).
        out->append(Decimal(item.ttl < 0 ? -1 : item.ttl).view());
        out->append(" la=");
        out->append(Decimal(item.idle).view());
        out->append(" cas=");
        out->append(std::to_string(item.cas));
        out->append(item.fetched ? " fetch=yes cls=" : " fetch=no cls=");
        out->append(Decimal(static_cast<int64_t>(cls)).view());
        out->append(" size=");
        out->append(Decimal(static_cast<int64_t>(total)).view());
        out->append("\r\n");
        return;
      }
      const bool with_value = hasToken(m.tokens, 'v');
      protocol::appendMetaGetHit(out, m.tokens, key, with_value, item);
      if (with_value) {
        protocol::reserveMore(out, it.data.size() + 2);
        out->append(it.data);
        out->append("\r\n");
      }
      return;
    }
    case ReplyKind::kMetaGetClaim: {
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) break;
      const long long bits = integer(r->element[2]);
      const ItemView it = decodeItem(m.stale_raw);
      item.flags = it.flags;
      item.cas = it.cas;
      item.size = it.data.size();
      item.key_binary = (it.state & kStateKeyBinary) != 0;
      item.stale = true;
      item.win_sent = (bits & 1) != 0;
      item.won = (bits & 4) != 0;
      counters_->get_hits.add();
      const bool with_value = hasToken(m.tokens, 'v');
      protocol::appendMetaGetHit(out, m.tokens, key, with_value, item);
      if (with_value) {
        out->append(it.data);
        out->append("\r\n");
      }
      return;
    }
    case ReplyKind::kMetaSet: {
      std::string_view code;
      if (m.set_reply == 0) {
        if (r->type == REDIS_REPLY_STATUS) {
          code = "HD";
        } else if (r->type == REDIS_REPLY_NIL) {
          code = "NS";
        } else {
          break;
        }
      } else {
        if (r->type != REDIS_REPLY_INTEGER) break;
        const bool stored = m.set_reply == 3 || (m.set_reply == 1 && r->integer == 0) ||
                            (m.set_reply == 2 && r->integer == 1);
        code = stored ? "HD" : "NS";
      }
      metaStoreReply(m, key, code, out);
      return;
    }
    case ReplyKind::kMetaSetScript: {
      if (r->type != REDIS_REPLY_INTEGER) break;
      static constexpr std::string_view kCodes[] = {"", "HD", "NS", "EX", "NF"};
      if (r->integer < 1 || r->integer > 4) break;
      metaStoreReply(m, key, kCodes[r->integer], out);
      return;
    }
    case ReplyKind::kMetaDelete:
    case ReplyKind::kMetaDeleteScript: {
      if (r->type != REDIS_REPLY_INTEGER) break;
      std::string_view code;
      if (op.kind == ReplyKind::kMetaDelete) {
        code = r->integer >= 1 ? "HD" : "NF";
      } else {
        code = r->integer == 1 ? "HD" : r->integer == 3 ? "EX" : "NF";
      }
      (code == "HD" ? counters_->delete_hits : counters_->delete_misses).add();
      if (code == "HD" && m.quiet) return;
      protocol::appendMetaStatus(out, code, m.tokens, key, m.base64);
      return;
    }
    case ReplyKind::kMetaArithmetic: {
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) break;
      const long long code = integer(r->element[0]);
      if (code == 4) {
        out->append(kNonNumeric);
        return;
      }
      if (m.opaque_too_long) {
        out->append("CLIENT_ERROR opaque token too long\r\n");
        return;
      }
      if (code == 2 || code == 3) {
        protocol::appendMetaStatus(out, code == 2 ? "NF" : "EX", m.tokens, key, m.base64);
        return;
      }
      if (code != 1 && code != 5) break;
      // q hides a done increment, not an item N created (memcached 1.6.18)
      if (m.quiet && code == 1) return;
      const redisReply* v = r->element[1];
      if (v->type != REDIS_REPLY_STRING) break;
      // A foreign counter stays plain digits: its CAS is the one derived from its content.
      const bool foreign = r->elements >= 4 && integer(r->element[3]) == 1;
      item.cas = foreign ? foreignCas(std::string_view(v->str, v->len)) : m.cas;
      item.created = code == 5;
      item.ttl = item.created ? -1 : ttlFromPttl(integer(r->element[2]));
      protocol::appendMetaArithmetic(out, m.tokens, key, m.base64, hasToken(m.tokens, 'v'),
                                     std::string_view(v->str, v->len), item);
      return;
    }
    default:
      break;
  }
  counters_->backend_error_replies.add();
  counters_->server_errors[static_cast<size_t>(op.command)].add();
  out->append("SERVER_ERROR backend error\r\n");
}

}  // namespace mcbridge::backend
