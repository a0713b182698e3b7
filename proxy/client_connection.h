// One memcache client connection (TCP or Unix socket) on a worker's loop.
//
// Reads into one contiguous buffer, parses every complete request, dispatches it, then compacts
// (views into the buffer die there). Every request, a parse error included, takes a slot in the
// reply queue; replies leave only from its head, so they keep request order whatever order Redis
// answers in. Owned by its Worker; lives until its handle is closed AND every Redis completion
// of its slots has run (completions may outlive the socket).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/flow_control.h"
#include "backend/read_buffer.h"
#include "backend/redis_connection.h"
#include "backend/ring_queue.h"
#include "backend/translator.h"
#include "protocol/binary.h"
#include "protocol/parser.h"

namespace mcbridge::proxy {

class Worker;
class ClientConnection;

// A reply slot: the Redis completion of one request and the bytes of its reply.
struct ReplySlot final : backend::RedisCompletion {
  ClientConnection* conn = nullptr;
  backend::PendingOp op;
  std::string out;
  bool ready = false;
  // A Redis command of this slot is at Redis (its completion is due).
  bool sent = false;
  bool bulk = false;      // that command is expected to bring a large reply (Redis budget)
  uint32_t keys = 0;      // keys it asks for (retrievals), for the size estimate
  uint64_t expected = 0;  // reply bytes expected from it (flow control)
  uint64_t held = 0;      // bytes of `out` counted in the connection's held_
  // Answered without waiting for Redis (shutdown deadline): its completion is still to come
  // and owns the slot from then on; `popped`/`completed` say which of the two happened first.
  bool abandoned = false;
  bool popped = false;
  bool completed = false;
  void onRedisReply(const redisReply* reply) override;
  void onRedisFailure(backend::RedisFailure failure) override;
};

class ClientConnection {
 public:
  ClientConnection(Worker* worker, uint64_t id);
  ~ClientConnection();

  // The stream handle to accept into; initialised by the worker (tcp or pipe).
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_tcp_t* tcp() { return &handle_.tcp; }
  uv_pipe_t* pipe() { return &handle_.pipe; }

  void start();
  // Closes the socket now (pending replies are dropped); completions still in flight are
  // absorbed and the object deletes itself when the last one has run.
  void close();
  // Stops reading and parsing new requests; closes once every queued reply is written (quit).
  void drain();
  // Stops reading; requests already read (held back by flow control) are still answered, then
  // the connection closes (EOF from the client, graceful shutdown).
  void stopReading();
  // The drain deadline passed: requests still waiting for Redis are answered with `reply`
  // now (their late completions are absorbed), then the connection closes.
  void abandonPending(std::string_view reply);
  bool idle() const { return queue_.empty() && !writing_; }
  // Flow control: the worker's budgets have room again (this client was held by them).
  void flowWake();

  uint64_t id() const { return id_; }
  // Loop time (ms) of the last read; a connection with nothing pending older than the idle
  // timeout is closed (memcached's -o idle_timeout).
  uint64_t lastActive() const { return last_active_; }

  // Called by a slot when its reply is complete.
  void slotReady(ReplySlot* slot);
  // Called once per loop turn by the worker for connections with new output.
  void flush();
  void onRedisReply(ReplySlot* slot, const redisReply* reply);
  void onRedisFailure(ReplySlot* slot, backend::RedisFailure failure);

 private:
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onClose(uv_handle_t* h);

  void process();
  void dispatch(const protocol::Request& req, uint32_t part_keys);
  ReplySlot* newSlot();
  void releaseSlot(ReplySlot* slot);
  void localReply(std::string_view bytes);
  // Writes out_ (empty before the reply) with d.data inserted at d.offset, as far as the socket
  // takes it now; the rest replaces out_. Returns false when the connection was closed.
  bool writeDirect(const backend::DirectValue& d);
  // Appends the replies at the head of the queue that are complete to out_, in order.
  void moveReadyToOutput();
  void markDirty();
  void maybeDelete();
  bool absorbAbandoned(ReplySlot* slot);
  void updateReading();
  void handleLocal(const protocol::Request& req, ReplySlot* slot);
  // Text connections before authentication: answers the ASCII auth handshake. Returns true
  // once the connection is authenticated and ordinary parsing may go on.
  bool processAsciiAuth();
  // The binary protocol (client_binary.cc).
  void processBinary();
  void dispatchBinary(const protocol::binary::Packet& p);
  void binaryStats(const protocol::binary::Packet& p, std::string* out);
  void binarySasl(const protocol::binary::Packet& p, std::string* out);
  void binaryFlush(const protocol::binary::Packet& p);

  // ---- flow control (backend/flow_control.h) ----
  // Reply bytes buffered here (output not yet written, replies waiting for their turn) plus
  // those expected from this client's commands at Redis.
  uint64_t footprint() const { return out_.size() + writing_buf_.size() + held_ + expected_; }
  // This client's estimate of the bytes a key brings (see FlowControl::initialBytesPerKey()
  // before its first reply), for a request of `keys` keys.
  uint64_t bytesPerKey(uint32_t keys) const;
  // Whether `req` may start now; for a retrieval, *part_keys is its first part's size.
  bool admit(const protocol::Request& req, uint32_t* part_keys);
  bool admitted(uint64_t expected, uint32_t keys);
  // Whether a command for `keys` keys expected to bring `expected` bytes is bulk (Route::bulk,
  // and counted in the worker's Redis budget).
  bool isBulk(uint64_t expected, uint32_t keys) const;
  // Bulk commands go to Redis on their own connection (so that other clients' small replies do
  // not queue behind large ones), the rest on the main one. Redis runs each connection's
  // commands in order but not the two connections' in any order, so this client's next command
  // goes to the other lane only once none of its commands is still at Redis on this one: its
  // commands run in the order it sent them, as memcached runs them.
  bool laneFree(bool bulk) const { return lane_sent_[bulk ? 0 : 1] == 0; }
  // laneFree(bulk), remembering a hold (the request is parsed again when the lane empties).
  bool laneAdmits(bool bulk);
  void commandSent(ReplySlot* slot, uint32_t keys, uint64_t expected);
  // The slot's command was answered (or failed): its expected bytes are released; a retrieval
  // reply teaches the size estimates.
  void commandDone(ReplySlot* slot, const redisReply* reply);
  // Sends the next part of partial_ if the budgets allow.
  void continueParts();
  // Tells the worker how many bytes this connection buffers now.
  void syncBuffered();

  Worker* worker_;
  uint64_t id_;
  union Handle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_;
  uv_write_t write_req_;

  backend::ReadBuffer in_;
  size_t needed_ = 0;     // parse again only when this many unparsed bytes are buffered
  uint64_t swallow_ = 0;  // bytes of a too-large value (or a rejected ms value) to discard
  bool dispatch_after_swallow_ = false;  // pending_too_large_ is answered once swallowed
  protocol::Request pending_too_large_;
  std::string too_large_key_;

  backend::RingQueue<ReplySlot*> queue_;
  std::vector<ReplySlot*> free_slots_;
  std::string out_;          // bytes ready to write, not yet handed to libuv
  std::string writing_buf_;  // bytes of the write in flight
  bool writing_ = false;
  bool reading_ = false;
  bool dirty_ = false;
  bool closing_ = false;           // handle close requested
  bool closed_ = false;            // handle closed
  bool draining_ = false;          // no more reading: close once everything read is answered
  bool stop_parsing_ = false;      // quit, unparsable input, drain deadline: no more requests
  bool input_blocked_ = false;     // requests read but held back (flow control, queue cap)
  bool protocol_checked_ = false;  // the first byte was looked at (0x80 = binary protocol)
  bool authenticated_ = true;      // false until the client authenticates (--auth-file)
  bool binary_ = false;            // the first byte was 0x80: binary protocol
  bool sasl_started_ = false;      // binary: SASL_AUTH answered auth-continue
  std::string binary_scratch_;     // binary: a local reply being composed
  uint32_t in_flight_ = 0;         // slots waiting for Redis
  uint64_t held_ = 0;              // reply bytes in slots behind the head
  uint64_t expected_ = 0;          // reply bytes expected from this client's commands at Redis
  uint64_t reported_buffered_ = 0;
  backend::SizeEstimate estimate_;  // bytes per key of this client's replies; 0 before any
  ReplySlot* partial_ = nullptr;    // a multi-get with parts still to send: later requests wait
  bool held_back_ = false;          // a hold was counted and not yet released
  uint32_t lane_sent_[2] = {0, 0};  // this client's commands at Redis: main lane, bulk lane
  bool lane_held_ = false;          // the next request waits for the other lane to empty
  bool flow_waiting_ = false;       // in the worker's list of clients held by its budgets
  uint64_t last_active_ = 0;

  friend class Worker;
};

}  // namespace mcbridge::proxy
