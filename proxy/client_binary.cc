// The binary protocol side of a client connection (memcached 1.6.18 proto_bin.c): chosen when
// the connection's first byte is 0x80. Key commands go through the same translator as the text
// protocol; NOOP, VERSION, QUIT, STAT, FLUSH and SASL are answered here.
#include <spdlog/spdlog.h>

#include <ctime>

#include "backend/exptime.h"
#include "protocol/binary.h"
#include "protocol/binary_reply.h"
#include "protocol/reply.h"
#include "proxy/client_connection.h"
#include "proxy/server.h"
#include "proxy/stats.h"
#include "proxy/worker.h"

namespace mcbridge::proxy {
namespace {

namespace bin = protocol::binary;

constexpr size_t kMaxQueuedReplies = 1024;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

void ClientConnection::processBinary() {
  const bin::Parser parser(worker_->parser().limits());
  const bool sasl = worker_->server()->auth().enabled();
  input_blocked_ = false;
  while (!stop_parsing_ && !closing_) {
    if (swallow_ > 0) {
      const size_t n = in_.size() < swallow_ ? in_.size() : static_cast<size_t>(swallow_);
      in_.consume(n);
      swallow_ -= n;
      if (swallow_ > 0) break;
      continue;
    }
    const std::string_view data = in_.data();
    if (data.empty() || data.size() < needed_) break;
    if (queue_.size() >= kMaxQueuedReplies ||
        footprint() >= worker_->flow().options().client_budget) {
      input_blocked_ = true;  // flow control: parsed again once the client has read
      break;
    }
    bin::Packet packet;
    const protocol::ParseResult r = parser.parse(data, sasl, authenticated_, &packet);
    if (r.status == protocol::ParseStatus::kNeedMore) {
      needed_ = r.needed;
      break;
    }
    if (r.status != protocol::ParseStatus::kOk) {
      // Bad magic: close without a reply. memcached also drops the replies of the same read
      // that it has not flushed yet (those after its last error or NOOP); mcbridge sends every
      // earlier reply, then closes.
      SPDLOG_DEBUG("client {}: bad magic in the binary protocol, closing", id_);
      drain();
      return;
    }
    needed_ = 0;
    uint32_t part_keys = UINT32_MAX;
    // Commands pass flow control; the rest (flush, noop, ...) waits for bulk commands ahead
    // of it like any command of the main lane.
    if (packet.action == bin::Action::kCommand ? !admit(packet.req, &part_keys)
                                               : !laneAdmits(false)) {
      input_blocked_ = true;
      break;
    }
    dispatchBinary(packet);  // views into in_ are valid until the consume below
    in_.consume(r.consumed);
    swallow_ = r.swallow;
  }
  updateReading();
}

void ClientConnection::dispatchBinary(const protocol::binary::Packet& p) {
  std::string& b = binary_scratch_;
  b.clear();
  switch (p.action) {
    case bin::Action::kCommand:
      dispatch(p.req, UINT32_MAX);
      return;
    case bin::Action::kFlush:
      binaryFlush(p);
      return;
    case bin::Action::kNoop:
      bin::appendSuccess(&b, p.opcode, p.opaque, 0);
      break;
    case bin::Action::kVersion:
      bin::appendSuccess(&b, p.opcode, p.opaque, 0, MCBRIDGE_MEMCACHED_VERSION);
      break;
    case bin::Action::kQuit:
      if (!p.quiet) bin::appendSuccess(&b, p.opcode, p.opaque, 0);
      if (!b.empty()) localReply(b);
      drain();  // close once every earlier reply is written
      return;
    case bin::Action::kStat:
      binaryStats(p, &b);
      break;
    case bin::Action::kSaslListMechs:
      authenticated_ = false;  // memcached restarts its SASL state here
      bin::appendSuccess(&b, p.opcode, p.opaque, 0, "PLAIN");
      break;
    case bin::Action::kSaslAuth:
    case bin::Action::kSaslStep:
      binarySasl(p, &b);
      break;
    case bin::Action::kError:
      worker_->counters().protocol_errors.add();
      bin::appendError(&b, p.opcode, p.error, p.opaque);
      localReply(b);
      if (p.close) drain();
      return;
  }
  localReply(b);
}

// One packet per stat and an empty one at the end, as memcached; the group is matched the way
// proto_bin.c does (prefixes for reset, settings and detail).
void ClientConnection::binaryStats(const protocol::binary::Packet& p, std::string* b) {
  const std::string_view group = p.key;
  std::string text;
  if (group.empty()) {
    appendStats(*worker_->server(), *worker_, "", &text);
  } else if (group.starts_with("reset")) {
    worker_->server()->resetStats();
  } else if (group.starts_with("settings")) {
    appendStats(*worker_->server(), *worker_, "settings", &text);
  } else if (group.starts_with("detail")) {
    const std::string_view arg = group.substr(6);
    if (arg.starts_with(" dump")) {
      // mcbridge keeps no per-prefix stats: the dump is empty, "END\r\n" as memcached's.
      constexpr std::string_view kName = "detailed";
      constexpr std::string_view kDump = "END\r\n";
      bin::appendHeader(b, p.opcode, bin::status::kSuccess, kName.size(), 0,
                        kName.size() + kDump.size(), p.opaque, 0);
      b->append(kName);
      b->append(kDump);
    } else if (!arg.starts_with(" on") && !arg.starts_with(" off")) {
      bin::appendError(b, p.opcode, bin::status::kKeyNotFound, p.opaque);
      return;
    }
  } else if (group == "items" || group == "slabs" || group == "conns" || group == "sizes" ||
             group == "extstore") {
    appendStats(*worker_->server(), *worker_, group, &text);
  } else {
    bin::appendError(b, p.opcode, bin::status::kKeyNotFound, p.opaque);
    return;
  }
  bin::appendStatsFromText(b, p.opcode, p.opaque, text);
}

// SASL PLAIN against the --auth-file credentials. Like memcached with -S: an empty first message
// asks for the data (auth-continue), a failure keeps the connection open but unauthenticated.
void ClientConnection::binarySasl(const protocol::binary::Packet& p, std::string* b) {
  AuthStore& auth = worker_->server()->auth();
  authenticated_ = false;
  const bool step = p.action == bin::Action::kSaslStep;
  bool ok = false;
  if (equalsIgnoreCase(p.key, "PLAIN") && (!step || sasl_started_)) {
    if (!step && p.value.empty()) {
      sasl_started_ = true;
      bin::appendHeader(b, p.opcode, bin::status::kAuthContinue, 0, 0, 0, p.opaque, 0);
      return;
    }
    std::string_view user;
    std::string_view password;
    ok = parseSaslPlain(p.value, &user, &password) && auth.check(user, password);
  }
  sasl_started_ = false;
  worker_->counters().auth_cmds.add();
  if (ok) {
    authenticated_ = true;
    bin::appendSuccess(b, p.opcode, p.opaque, 0, "Authenticated");
    return;
  }
  worker_->counters().auth_errors.add();
  auth.noteFailure(id_, "SASL");
  bin::appendError(b, p.opcode, bin::status::kAuthError, p.opaque);
}

void ClientConnection::binaryFlush(const protocol::binary::Packet& p) {
  std::string& b = binary_scratch_;
  const config::Options& o = worker_->options();
  if (o.flush_all == config::FlushPolicy::kDeny) {
    // memcached -F answers a binary flush with an auth error.
    bin::appendError(&b, p.opcode, bin::status::kAuthError, p.opaque);
    localReply(b);
    return;
  }
  worker_->counters().cmd_flush.add();
  Server* server = worker_->server();
  const uint64_t generation = server->flushGeneration().fetch_add(1) + 1;
  int64_t delay = p.req.has_exptime ? p.req.exptime : 0;
  if (delay > backend::kMaxRelativeExptime) delay -= ::time(nullptr);
  if (delay > 0) {
    worker_->scheduleFlush(delay, generation);
    if (!p.quiet) bin::appendSuccess(&b, p.opcode, p.opaque, 0);
    if (!b.empty()) localReply(b);
    return;
  }
  ReplySlot* s = newSlot();
  queue_.push_back(s);
  s->op.kind = backend::ReplyKind::kFlush;
  s->op.command = protocol::Command::kFlushAll;
  s->op.noreply = p.quiet;
  s->op.binary = true;
  s->op.opcode = p.opcode;
  s->op.opaque = p.opaque;
  s->op.keys.clear();
  ++in_flight_;
  worker_->startFlush(s);
}

}  // namespace mcbridge::proxy
