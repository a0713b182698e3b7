#include "proxy/client_connection.h"

#include <spdlog/spdlog.h>

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
constexpr size_t kMaxPendingOutput = 4 * 1024 * 1024;
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

}  // namespace

void ReplySlot::onRedisReply(const redisReply* reply) { conn->onRedisReply(this, reply); }
void ReplySlot::onRedisFailure(backend::RedisFailure failure) {
  conn->onRedisFailure(this, failure);
}

ClientConnection::ClientConnection(Worker* worker, uint64_t id) : worker_(worker), id_(id) {
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
      self->drain();
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
  while (!draining_ && !closing_) {
    if (swallow_ > 0) {
      size_t n = in_.size() < swallow_ ? in_.size() : static_cast<size_t>(swallow_);
      in_.consume(n);
      swallow_ -= n;
      if (swallow_ > 0) break;
      // The value of a too-large item is gone: now the request may be answered (memcached
      // replies only after the whole data block has arrived). An ms error was answered already.
      if (dispatch_after_swallow_) dispatch(pending_too_large_);
      continue;
    }
    if (queue_.size() >= kMaxQueuedReplies || out_.size() >= kMaxPendingOutput) break;
    const std::string_view data = in_.data();
    if (data.empty() || data.size() < needed_) break;
    const protocol::ParseResult r = parser.parse(data, &req);
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
        dispatch(req);
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
        drain();
        return;
    }
  }
  updateReading();
}

bool ClientConnection::processAsciiAuth() {
  AuthStore& auth = worker_->server()->auth();
  while (!authenticated_ && !draining_ && !closing_) {
    if (queue_.size() >= kMaxQueuedReplies || out_.size() >= kMaxPendingOutput) return false;
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

void ClientConnection::dispatch(const protocol::Request& req) {
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
  if (worker_->translator().start(req, ::time(nullptr), &s->op, worker_, s, &s->out)) {
    ++in_flight_;
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
      ++in_flight_;
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
  slot->completed = true;
  if (slot->popped) releaseSlot(slot);
  if (closing_) maybeDelete();
  return true;
}

void ClientConnection::onRedisReply(ReplySlot* slot, const redisReply* r) {
  if (absorbAbandoned(slot)) return;
  if (!closing_ && worker_->translator().retryIfNoScript(&slot->op, r, worker_, slot)) return;
  --in_flight_;
  if (closing_) {
    maybeDelete();
    return;
  }
  // Replies already complete ahead of this one (local ones: version, stats, errors) go to the
  // output first, so that this one can go there directly too.
  moveReadyToOutput();
  if (slot == queue_.front()) {
    // The head: its reply goes straight to the output, not through the slot's buffer.
    backend::DirectValue direct;
    direct.min_size = queue_.size() == 1 ? kDirectWriteMinLast : kDirectWriteMin;
    const bool can_direct = out_.empty() && !writing_;
    worker_->translator().finish(slot->op, r, &out_, can_direct ? &direct : nullptr);
    queue_.pop_front();
    releaseSlot(slot);
    if (!direct.data.empty() && !writeDirect(direct)) return;
  } else {
    worker_->translator().finish(slot->op, r, &slot->out);
    slot->ready = true;
  }
  markDirty();
}

void ClientConnection::onRedisFailure(ReplySlot* slot, backend::RedisFailure failure) {
  if (absorbAbandoned(slot)) return;
  --in_flight_;
  if (closing_) {
    maybeDelete();
    return;
  }
  worker_->translator().fail(slot->op, failure, &slot->out);
  slot->ready = true;
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
    if (s->abandoned && !s->completed) {
      s->popped = true;  // its completion releases it
    } else {
      releaseSlot(s);
    }
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
  if (draining_ && queue_.empty() && !writing_ && out_.empty()) {
    close();
    return;
  }
  if (!reading_ && in_.size() > 0 && queue_.size() < kMaxQueuedReplies && swallow_ == 0) {
    process();  // requests held back by backpressure
  } else {
    updateReading();
  }
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
  if (!self->out_.empty() || self->draining_ ||
      (!self->queue_.empty() && self->queue_.front()->ready)) {
    self->markDirty();
  } else {
    self->updateReading();
  }
}

void ClientConnection::updateReading() {
  const bool want = !draining_ && !closing_ && queue_.size() < kMaxQueuedReplies &&
                    out_.size() + writing_buf_.size() < kMaxPendingOutput;
  if (want == reading_) return;
  if (want) {
    if (uv_read_start(stream(), onAlloc, onRead) == 0) reading_ = true;
  } else {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void ClientConnection::abandonPending(std::string_view reply) {
  for (ReplySlot* s : queue_) {
    if (s->ready) continue;
    s->abandoned = true;
    s->out.clear();
    if (s->op.binary) {
      // Errors are sent even for quiet commands; the reason without SERVER_ERROR and CRLF.
      std::string_view reason = reply;
      if (reason.starts_with("SERVER_ERROR ")) reason.remove_prefix(13);
      if (reason.ends_with("\r\n")) reason.remove_suffix(2);
      protocol::binary::appendErrorText(&s->out, s->op.opcode,
                                        protocol::binary::status::kTemporaryFailure,
                                        s->op.opaque, reason);
    } else if (!s->op.noreply) {
      s->out.assign(reply);
    }
    s->ready = true;
  }
  drain();
}

void ClientConnection::drain() {
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
  self->worker_->clientClosed(self);
  self->maybeDelete();
}

void ClientConnection::maybeDelete() {
  if (closed_ && in_flight_ == 0 && !writing_ && !dirty_) delete this;
}

}  // namespace mcbridge::proxy
