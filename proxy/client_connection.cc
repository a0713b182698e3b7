#include "proxy/client_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "backend/exptime.h"
#include "protocol/ascii_auth.h"
#include "protocol/binary_reply.h"
#include "protocol/reply.h"
#include "proxy/server.h"
#include "proxy/stats.h"
#include "proxy/worker.h"

namespace mcbridge::proxy {
namespace {

using protocol::Command;
namespace reply = protocol::reply;

constexpr size_t kReadChunk = 16 * 1024;
// Backpressure: a client that pipelines without reading its replies stops being read once this
// much is queued, and is read again once the queue drains.
constexpr size_t kMaxQueuedReplies = 1024;
// Reply buffers larger than this are freed after use instead of kept for the next request.
constexpr size_t kKeepBufferBytes = 64 * 1024;
// Values at least this large go from Redis's reply to the socket without being copied into the
// output first, when nothing else waits to be written: copying them would cost more than the
// extra write (they are not batched with the other replies of the turn).
constexpr size_t kDirectWriteMin = 64 * 1024;
// When the request is the connection's last one, no other reply can join its write this turn:
// writing it at once costs no extra write, so only values too small to be worth a scatter write
// are copied.
constexpr size_t kDirectWriteMinLast = 4 * 1024;

bool isRetrieval(Command c) {
  return c == Command::kGet || c == Command::kGets || c == Command::kGat || c == Command::kGats;
}

// Keys whose values a request may bring back (flow control); only classic retrievals of several
// keys are sent in parts.
uint32_t valueKeys(const protocol::Request& req) {
  if (isRetrieval(req.command)) return req.binary ? 1 : static_cast<uint32_t>(req.key_count);
  return req.command == Command::kMetaGet ? 1 : 0;
}

// What a retrieval reply brought, as the client will receive it (values and VALUE lines).
uint64_t retrievalBytes(const redisReply* r) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    bytes += e->type == REDIS_REPLY_STRING ? e->len + 48 : 16;
  }
  return bytes;
}

}  // namespace

void ReplySlot::onRedisReply(const redisReply* reply) { conn->onRedisReply(this, reply); }
void ReplySlot::onRedisFailure(backend::RedisFailure failure) {
  conn->onRedisFailure(this, failure);
}

ClientConnection::ClientConnection(Worker* worker, uint64_t id)
    : worker_(worker), id_(id), estimate_(0) {
  handle_.tcp.data = this;
  write_req_.data = this;
}

ClientConnection::~ClientConnection() {
  for (ReplySlot* s : queue_) delete s;
  for (ReplySlot* s : free_slots_) delete s;
}

void ClientConnection::start() {
  stream()->data = this;
  last_active_ = uv_now(worker_->loop());
  authenticated_ = !worker_->server()->auth().enabled();
  updateReading();
}

void ClientConnection::onAlloc(uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<ClientConnection*>(h->data);
  size_t avail = 0;
  // Usually a read holds only complete requests: read them into the worker's scratch buffer
  // and parse them there; only unparsed bytes left at the end of onRead get a buffer of the
  // connection's own.
  std::span<char> scratch = self->worker_->readScratch();
  char* p = self->in_.canBorrow()
                ? self->in_.prepareBorrowed(scratch.data(), scratch.size(), &avail)
                : self->in_.prepare(kReadChunk, self->needed_, &avail);
  *buf = uv_buf_init(p, static_cast<unsigned>(avail));
}

void ClientConnection::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* /*buf*/) {
  auto* self = static_cast<ClientConnection*>(s->data);
  if (nread > 0) {
    self->last_active_ = uv_now(self->worker_->loop());
    self->in_.commit(static_cast<size_t>(nread));
    self->worker_->counters().bytes_read.add(static_cast<uint64_t>(nread));
    self->process();
  } else if (nread < 0) {
    // EOF: the client may have half-closed after its last request (printf | nc): answer what it
    // sent, then close. A read error: close at once.
    if (nread == UV_EOF) {
      self->stopReading();
    } else {
      self->close();
    }
  }
  self->in_.keepUnparsed(self->needed_);
  if (self->in_.size() == 0 && !self->closing_) self->in_.releaseIfEmpty();
}

void ClientConnection::process() {
  const protocol::Parser& parser = worker_->parser();
  protocol::Request req;
  if (!protocol_checked_ && in_.size() > 0) {
    protocol_checked_ = true;
    // As memcached: a connection whose first byte is 0x80 speaks the binary protocol for good.
    binary_ = static_cast<unsigned char>(in_.data()[0]) == protocol::binary::kRequestMagic;
  }
  if (binary_) return processBinary();
  if (!authenticated_ && !processAsciiAuth()) {
    updateReading();
    return;
  }
  // Draining (EOF, shutdown) stops reading, not the requests already read: those held back by
  // flow control are still answered. quit and unparsable input stop them too.
  input_blocked_ = false;
  while (!stop_parsing_ && !closing_) {
    if (swallow_ > 0) {
      size_t n = in_.size() < swallow_ ? in_.size() : static_cast<size_t>(swallow_);
      in_.consume(n);
      swallow_ -= n;
      if (swallow_ > 0) break;
      // The value of a too-large item is gone: now the request may be answered (memcached
      // replies only after the whole data block has arrived). An ms error was answered already.
      if (dispatch_after_swallow_) dispatch(pending_too_large_, UINT32_MAX);
      continue;
    }
    const std::string_view data = in_.data();
    if (data.empty() || data.size() < needed_) break;
    if (queue_.size() >= kMaxQueuedReplies || partial_ != nullptr ||
        footprint() >= worker_->flow().options().client_budget) {
      input_blocked_ = true;
      break;
    }
    const protocol::ParseResult r = parser.parse(data, &req);
    uint32_t part_keys = UINT32_MAX;
    // Held back by flow control: parsed again (nothing consumed) once there is room.
    if (r.status == protocol::ParseStatus::kOk && !req.too_large && !admit(req, &part_keys)) {
      input_blocked_ = true;
      break;
    }
    switch (r.status) {
      case protocol::ParseStatus::kNeedMore:
        needed_ = r.needed;
        updateReading();
        return;
      case protocol::ParseStatus::kOk:
        needed_ = 0;
        if (req.too_large) {
          too_large_key_.assign(req.key);
          pending_too_large_ = req;
          pending_too_large_.key = too_large_key_;
          pending_too_large_.keys = {};
          pending_too_large_.meta.tokens = {};
          dispatch_after_swallow_ = true;
          swallow_ = r.swallow;
          in_.consume(r.consumed);
          continue;
        }
        dispatch(req, part_keys);
        in_.consume(r.consumed);
        break;
      case protocol::ParseStatus::kError:
        needed_ = 0;
        worker_->counters().protocol_errors.add();
        if (!r.suppress_reply) localReply(r.error_reply);
        in_.consume(r.consumed);
        // An ms line rejected after its <datalen>: its data block is discarded unread.
        dispatch_after_swallow_ = false;
        swallow_ = r.swallow;
        break;
      case protocol::ParseStatus::kClose:
        // memcached closes without a reply (line too long, HTTP request); earlier replies still go.
        SPDLOG_DEBUG("client {}: closing on unparsable input", id_);
        stop_parsing_ = true;
        drain();
        return;
    }
  }
  updateReading();
}

bool ClientConnection::processAsciiAuth() {
  AuthStore& auth = worker_->server()->auth();
  while (!authenticated_ && !stop_parsing_ && !closing_) {
    if (queue_.size() >= kMaxQueuedReplies ||
        footprint() >= worker_->flow().options().client_budget) {
      return false;
    }
    const std::string_view data = in_.data();
    if (data.empty() || data.size() < needed_) return false;
    const protocol::AsciiAuthResult r =
        protocol::parseAsciiAuth(data, worker_->options().item_size_max);
    switch (r.status) {
      case protocol::AsciiAuthStatus::kNeedMore:
        needed_ = r.needed;
        return false;
      case protocol::AsciiAuthStatus::kClose:
        SPDLOG_DEBUG("client {}: closing on unparsable input before authentication", id_);
        drain();
        return false;
      case protocol::AsciiAuthStatus::kReply:
        needed_ = 0;
        localReply(r.reply);
        in_.consume(r.consumed);
        break;
      case protocol::AsciiAuthStatus::kCredentials: {
        needed_ = 0;
        worker_->counters().auth_cmds.add();
        const bool ok = auth.check(r.user, r.password);
        in_.consume(r.consumed);  // the views die here
        if (ok) {
          authenticated_ = true;
          localReply(protocol::auth_reply::kStored);
        } else {
          worker_->counters().auth_errors.add();
          auth.noteFailure(id_, "ASCII");
          localReply(protocol::auth_reply::kFailure);
        }
        break;
      }
    }
  }
  return authenticated_;
}

ReplySlot* ClientConnection::newSlot() {
  ReplySlot* s;
  if (free_slots_.empty()) {
    s = new ReplySlot;
    s->conn = this;
  } else {
    s = free_slots_.back();
    free_slots_.pop_back();
  }
  s->ready = false;
  s->abandoned = s->popped = s->completed = false;
  return s;
}

void ClientConnection::releaseSlot(ReplySlot* s) {
  held_ -= s->held;
  s->held = 0;
  s->out.clear();
  if (s->out.capacity() > kKeepBufferBytes) std::string().swap(s->out);
  if (s->op.keys.capacity() > kKeepBufferBytes) std::string().swap(s->op.keys);
  free_slots_.push_back(s);
}

void ClientConnection::localReply(std::string_view bytes) {
  if (queue_.empty()) {
    out_.append(bytes);
    markDirty();
    return;
  }
  ReplySlot* s = newSlot();
  s->out.assign(bytes);
  s->ready = true;
  queue_.push_back(s);
}

void ClientConnection::dispatch(const protocol::Request& req, uint32_t part_keys) {
  worker_->counters().requests[static_cast<size_t>(req.command)].add();
  switch (req.command) {
    case Command::kVersion:
    case Command::kVerbosity:
    case Command::kQuit:
    case Command::kShutdown:
    case Command::kCacheMemlimit:
    case Command::kStats:
    case Command::kFlushAll:
    case Command::kMetaNoop: {
      ReplySlot* s = newSlot();
      queue_.push_back(s);
      handleLocal(req, s);
      return;
    }
    default:
      break;
  }
  ReplySlot* s = newSlot();
  queue_.push_back(s);
  const uint32_t value_keys = std::min(part_keys, valueKeys(req));
  const uint64_t expected =
      backend::FlowControl::expectedBytes(value_keys, bytesPerKey(valueKeys(req)));
  backend::CommandSink* sink = isBulk(expected, value_keys) ? worker_->bulkSink() : worker_;
  if (worker_->translator().start(req, ::time(nullptr), &s->op, sink, s, &s->out, part_keys)) {
    ++in_flight_;
    if (isRetrieval(req.command)) {
      commandSent(s, s->op.part_keys, expected);
      if (s->op.keys_left > 0) partial_ = s;
    } else {
      commandSent(s, value_keys, expected);
    }
  } else {
    s->ready = true;
    if (s == queue_.front()) markDirty();
  }
}

void ClientConnection::handleLocal(const protocol::Request& req, ReplySlot* s) {
  s->ready = true;
  switch (req.command) {
    case Command::kVersion:
      s->out.append("VERSION " MCBRIDGE_MEMCACHED_VERSION "\r\n");
      break;
    case Command::kVerbosity:
    case Command::kCacheMemlimit:
      if (!req.noreply) s->out.append(reply::kOk);
      break;
    case Command::kQuit:
      stop_parsing_ = true;
      draining_ = true;
      break;
    case Command::kShutdown:
      s->out.append(reply::kShutdownDisabled);
      break;
    case Command::kMetaNoop:
      s->out.append("MN\r\n");
      break;
    case Command::kStats:
      appendStats(*worker_->server(), *worker_, req.args, &s->out);
      break;
    case Command::kFlushAll: {
      const config::Options& o = worker_->options();
      if (o.flush_all == config::FlushPolicy::kDeny) {
        if (!req.noreply) s->out.append(reply::kFlushDenied);
        break;
      }
      worker_->counters().cmd_flush.add();
      Server* server = worker_->server();
      const uint64_t generation = server->flushGeneration().fetch_add(1) + 1;
      int64_t delay = req.has_exptime ? req.exptime : 0;
      if (delay > backend::kMaxRelativeExptime) delay -= ::time(nullptr);
      if (delay > 0) {
        worker_->scheduleFlush(delay, generation);
        if (!req.noreply) s->out.append(reply::kOk);
        break;
      }
      s->ready = false;
      s->op.kind = backend::ReplyKind::kFlush;
      s->op.command = Command::kFlushAll;
      s->op.noreply = req.noreply;
      s->op.keys.clear();
      s->op.keys_left = 0;
      ++in_flight_;
      commandSent(s, 0, 0);
      worker_->startFlush(s);
      return;
    }
    default:
      break;
  }
  if (s == queue_.front()) markDirty();
}

// A late completion of an abandoned slot: the slot is released by whichever of the completion
// and the flush comes second.
bool ClientConnection::absorbAbandoned(ReplySlot* slot) {
  if (!slot->abandoned) return false;
  --in_flight_;
  commandDone(slot, nullptr);
  slot->completed = true;
  if (slot->popped) releaseSlot(slot);
  if (closing_) maybeDelete();
  return true;
}

void ClientConnection::onRedisReply(ReplySlot* slot, const redisReply* r) {
  if (absorbAbandoned(slot)) return;
  if (!closing_ && worker_->translator().retryIfNoScript(&slot->op, r, worker_, slot)) return;
  --in_flight_;
  commandDone(slot, r);
  if (closing_) {
    maybeDelete();
    return;
  }
  if (slot->op.keys_left > 0 && r->type != REDIS_REPLY_ARRAY) {
    slot->op.keys_left = 0;  // a part failed: no more parts (the rest reads as misses)
    if (partial_ == slot) partial_ = nullptr;
  }
  const bool last = slot->op.keys_left == 0;
  // Replies already complete ahead of this one (local ones: version, stats, errors) go to the
  // output first, so that this one can go there directly too.
  moveReadyToOutput();
  if (slot == queue_.front()) {
    // The head: its reply goes straight to the output, not through the slot's buffer.
    backend::DirectValue direct;
    direct.min_size = queue_.size() == 1 ? kDirectWriteMinLast : kDirectWriteMin;
    const bool can_direct = out_.empty() && !writing_;
    worker_->translator().finish(slot->op, r, &out_, can_direct ? &direct : nullptr);
    if (last) {
      queue_.pop_front();
      releaseSlot(slot);
    }
    if (!direct.data.empty() && !writeDirect(direct)) return;
  } else {
    const size_t before = slot->out.size();
    worker_->translator().finish(slot->op, r, &slot->out);
    slot->held += slot->out.size() - before;
    held_ += slot->out.size() - before;
    slot->ready = last;
  }
  if (!last) continueParts();
  syncBuffered();
  markDirty();
}

void ClientConnection::onRedisFailure(ReplySlot* slot, backend::RedisFailure failure) {
  if (absorbAbandoned(slot)) return;
  --in_flight_;
  commandDone(slot, nullptr);
  if (closing_) {
    maybeDelete();
    return;
  }
  slot->op.keys_left = 0;
  if (partial_ == slot) partial_ = nullptr;
  const size_t before = slot->out.size();
  worker_->translator().fail(slot->op, failure, &slot->out);
  slot->held += slot->out.size() - before;
  held_ += slot->out.size() - before;
  slot->ready = true;
  syncBuffered();
  markDirty();
}

bool ClientConnection::writeDirect(const backend::DirectValue& d) {
  uv_buf_t bufs[3] = {
      uv_buf_init(out_.data(), static_cast<unsigned>(d.offset)),
      uv_buf_init(const_cast<char*>(d.data.data()), static_cast<unsigned>(d.data.size())),
      uv_buf_init(out_.data() + d.offset, static_cast<unsigned>(out_.size() - d.offset))};
  const int written = uv_try_write(stream(), bufs, 3);
  if (written < 0 && written != UV_EAGAIN) {
    close();
    return false;
  }
  size_t done = written > 0 ? static_cast<size_t>(written) : 0;
  worker_->counters().bytes_written.add(done);
  if (done == out_.size() + d.data.size()) {
    out_.clear();  // keeps its capacity for the next reply
    return true;
  }
  // What the socket did not take is copied into the output, in order, for flush().
  std::string rest;
  protocol::reserveMore(&rest, out_.size() + d.data.size() - done);
  for (const uv_buf_t& b : bufs) {
    const size_t skip = done < b.len ? done : b.len;
    rest.append(b.base + skip, b.len - skip);
    done -= skip;
  }
  out_.swap(rest);
  return true;
}

void ClientConnection::moveReadyToOutput() {
  while (!queue_.empty() && queue_.front()->ready) {
    ReplySlot* s = queue_.front();
    queue_.pop_front();
    out_.append(s->out);
    held_ -= s->held;
    s->held = 0;
    if (s->abandoned && !s->completed) {
      s->popped = true;  // its completion releases it
    } else {
      releaseSlot(s);
    }
  }
  // A multi-get answered in parts streams: what its first parts brought while it waited for
  // its turn goes out now.
  if (!queue_.empty() && !queue_.front()->out.empty()) {
    ReplySlot* s = queue_.front();
    out_.append(s->out);
    s->out.clear();
    held_ -= s->held;
    s->held = 0;
  }
}

void ClientConnection::markDirty() {
  if (!dirty_) {
    dirty_ = true;
    worker_->markDirty(this);
  }
}

void ClientConnection::flush() {
  dirty_ = false;
  if (closing_) {
    maybeDelete();
    return;
  }
  moveReadyToOutput();
  if (!writing_ && !out_.empty()) {
    worker_->counters().bytes_written.add(out_.size());
    // Usually the socket takes everything now; uv_write (and its poll registration, an
    // epoll_ctl per write in libuv 1.44) only for what it does not.
    uv_buf_t now = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    const int written = uv_try_write(stream(), &now, 1);
    if (written == static_cast<int>(out_.size())) {
      out_.clear();
      if (out_.capacity() > kKeepBufferBytes) std::string().swap(out_);
    } else if (written < 0 && written != UV_EAGAIN) {
      close();
      return;
    } else {
      const size_t done = written > 0 ? static_cast<size_t>(written) : 0;
      writing_buf_.swap(out_);
      out_.clear();
      uv_buf_t b = uv_buf_init(writing_buf_.data() + done,
                               static_cast<unsigned>(writing_buf_.size() - done));
      if (uv_write(&write_req_, stream(), &b, 1, onWrite) != 0) {
        close();
        return;
      }
      writing_ = true;
    }
  }
  continueParts();
  if (!reading_ && in_.size() > 0 && queue_.size() < kMaxQueuedReplies && swallow_ == 0) {
    process();  // requests held back by backpressure
  } else {
    updateReading();
  }
  if (closing_) return;
  if (draining_ && queue_.empty() && !writing_ && out_.empty() &&
      (stop_parsing_ || !input_blocked_)) {
    close();
    return;
  }
  syncBuffered();
}

void ClientConnection::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<ClientConnection*>(req->data);
  self->writing_ = false;
  self->writing_buf_.clear();
  if (self->writing_buf_.capacity() > kKeepBufferBytes) std::string().swap(self->writing_buf_);
  if (status < 0 || self->closing_) {
    self->close();
    self->maybeDelete();
    return;
  }
  if (!self->out_.empty() || self->draining_ || self->held_back_ || self->lane_held_ ||
      self->partial_ != nullptr || self->in_.size() > 0 ||
      (!self->queue_.empty() && self->queue_.front()->ready)) {
    self->markDirty();
  } else {
    self->updateReading();
    self->syncBuffered();
  }
}

void ClientConnection::updateReading() {
  const bool want = !draining_ && !closing_ && queue_.size() < kMaxQueuedReplies &&
                    partial_ == nullptr && !held_back_ && !lane_held_ &&
                    footprint() < worker_->flow().options().client_budget;
  if (want == reading_) return;
  if (want) {
    if (uv_read_start(stream(), onAlloc, onRead) == 0) reading_ = true;
  } else {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void ClientConnection::abandonPending(std::string_view reply) {
  partial_ = nullptr;
  for (ReplySlot* s : queue_) {
    if (s->ready) continue;
    // A multi-get between two parts has no completion due: nothing will absorb it.
    s->abandoned = s->sent;
    held_ -= s->held;
    s->held = 0;
    s->out.clear();
    if (s->op.binary) {
      // Errors are sent even for quiet commands; the reason without SERVER_ERROR and CRLF.
      std::string_view reason = reply;
      if (reason.starts_with("SERVER_ERROR ")) reason.remove_prefix(13);
      if (reason.ends_with("\r\n")) reason.remove_suffix(2);
      protocol::binary::appendErrorText(
          &s->out, s->op.opcode, protocol::binary::status::kTemporaryFailure, s->op.opaque, reason);
    } else if (!s->op.noreply) {
      s->out.assign(reply);
    }
    s->ready = true;
  }
  // Requests read but held back by flow control were never sent: they get the same answer, so
  // that no request the client sent is left unanswered.
  const protocol::Parser& parser = worker_->parser();
  protocol::Request req;
  while (!binary_ && input_blocked_ && swallow_ == 0 && !stop_parsing_ && in_.size() > 0) {
    const protocol::ParseResult r = parser.parse(in_.data(), &req);
    if (r.status != protocol::ParseStatus::kOk || req.too_large) break;
    if (req.command == Command::kQuit) break;
    if (!req.noreply) localReply(reply);
    in_.consume(r.consumed);
  }
  stop_parsing_ = true;
  drain();
}

void ClientConnection::drain() {
  stop_parsing_ = true;
  stopReading();
}

void ClientConnection::stopReading() {
  draining_ = true;
  updateReading();
  markDirty();
}

void ClientConnection::close() {
  if (closing_) return;
  closing_ = true;
  if (reading_) uv_read_stop(stream());
  reading_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), onClose);
}

void ClientConnection::onClose(uv_handle_t* h) {
  auto* self = static_cast<ClientConnection*>(h->data);
  self->closed_ = true;
  // Whatever was buffered for this client is dropped now; completions still due release
  // their expected bytes as they come.
  self->partial_ = nullptr;
  self->worker_->flow().addBuffered(-static_cast<int64_t>(self->reported_buffered_));
  self->reported_buffered_ = 0;
  std::string().swap(self->out_);
  std::string().swap(self->writing_buf_);
  self->worker_->clientClosed(self);
  self->maybeDelete();
}

// ---- flow control ----

uint64_t ClientConnection::bytesPerKey(uint32_t keys) const {
  const uint64_t own = estimate_.bytesPerKey();
  return own != 0 ? own : worker_->flow().initialBytesPerKey(keys);
}

bool ClientConnection::admit(const protocol::Request& req, uint32_t* part_keys) {
  const uint32_t keys = valueKeys(req);
  if (keys == 0) return laneAdmits(false);
  const uint64_t per_key = bytesPerKey(keys);
  *part_keys = worker_->flow().partKeys(keys, per_key);
  const uint64_t expected = backend::FlowControl::expectedBytes(*part_keys, per_key);
  if (!laneAdmits(isBulk(expected, *part_keys))) return false;
  return admitted(expected, *part_keys);
}

bool ClientConnection::laneAdmits(bool bulk) {
  lane_held_ = !laneFree(bulk);
  return !lane_held_;
}

bool ClientConnection::isBulk(uint64_t expected, uint32_t keys) const {
  // A single get of unknown size is not: gets of a new connection still merge with others.
  return backend::FlowControl::bulk(expected) && (keys > 1 || estimate_.bytesPerKey() != 0);
}

bool ClientConnection::admitted(uint64_t expected, uint32_t keys) {
  using Verdict = backend::FlowControl::Verdict;
  const Verdict v = worker_->flow().admit(footprint(), expected, isBulk(expected, keys));
  if (v == Verdict::kGo) {
    held_back_ = false;
    return true;
  }
  if (v == Verdict::kHoldWorker && !flow_waiting_) {
    flow_waiting_ = true;
    worker_->waitForFlow(this);
  }
  if (!held_back_) {
    held_back_ = true;
    worker_->counters().flow_holds.add();
  }
  return false;
}

void ClientConnection::commandSent(ReplySlot* slot, uint32_t keys, uint64_t expected) {
  slot->sent = true;
  slot->keys = keys;
  slot->expected = expected;
  slot->bulk = isBulk(expected, keys);
  ++lane_sent_[slot->bulk ? 1 : 0];
  expected_ += expected;
  worker_->flow().addOutstanding(static_cast<int64_t>(expected), slot->bulk);
}

void ClientConnection::commandDone(ReplySlot* slot, const redisReply* reply) {
  if (!slot->sent) return;
  slot->sent = false;
  --lane_sent_[slot->bulk ? 1 : 0];
  expected_ -= slot->expected;
  worker_->flow().addOutstanding(-static_cast<int64_t>(slot->expected), slot->bulk);
  slot->expected = 0;
  if (reply != nullptr && slot->keys > 0 && reply->type == REDIS_REPLY_ARRAY) {
    // The first evidence corrects the initial estimate for large values, as any later one would.
    if (estimate_.bytesPerKey() == 0) {
      estimate_ = backend::SizeEstimate(worker_->flow().initialBytesPerKey(2));
    }
    estimate_.observe(slot->keys, retrievalBytes(reply));
  }
}

void ClientConnection::continueParts() {
  ReplySlot* s = partial_;
  if (s == nullptr || s->sent || closing_ || s->op.keys_left == 0) return;
  const uint64_t per_key = bytesPerKey(s->op.keys_left);
  const uint32_t n = worker_->flow().partKeys(s->op.keys_left, per_key);
  const uint64_t expected = backend::FlowControl::expectedBytes(n, per_key);
  if (!laneFree(isBulk(expected, n)) || !admitted(expected, n)) return;
  worker_->translator().sendNextPart(&s->op, n, isBulk(expected, n) ? worker_->bulkSink() : worker_,
                                     s);
  ++in_flight_;
  commandSent(s, n, expected);
  worker_->counters().multiget_parts.add();
  if (s->op.keys_left == 0) partial_ = nullptr;
}

void ClientConnection::flowWake() {
  flow_waiting_ = false;
  markDirty();
}

void ClientConnection::syncBuffered() {
  if (closing_) return;
  const uint64_t now = out_.size() + writing_buf_.size() + held_;
  worker_->flow().addBuffered(static_cast<int64_t>(now) - static_cast<int64_t>(reported_buffered_));
  reported_buffered_ = now;
}

void ClientConnection::maybeDelete() {
  if (closed_ && in_flight_ == 0 && !writing_ && !dirty_) delete this;
}

}  // namespace mcbridge::proxy
