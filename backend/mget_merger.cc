#include "backend/mget_merger.h"

#include <cstring>

#include "backend/resp_encode.h"

namespace mcbridge::backend {
namespace {

// A merged MGET is closed at this many keys or key bytes; only MGETs of at most kMaxKeysToMerge
// keys merge at all.
constexpr size_t kMaxKeysToMerge = 16;
constexpr size_t kMaxMergedKeys = 128;
constexpr size_t kMaxMergedKeyBytes = size_t{16} * 1024;

}  // namespace

// The completion of a merged MGET: hands each part its slice of the reply, then returns to the
// pool. Owned by the merger (fanouts_).
class MgetMerger::Fanout final : public RedisCompletion {
 public:
  explicit Fanout(MgetMerger* owner) : owner_(owner) {}

  std::vector<Part> parts;
  size_t keys = 0;

  void onRedisReply(const redisReply* reply) override {
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == keys) {
      for (const Part& p : parts) {
        redisReply slice{};
        slice.type = REDIS_REPLY_ARRAY;
        slice.elements = p.count;
        slice.element = reply->element + p.first;
        p.completion->onRedisReply(&slice);
      }
    } else if (reply->type == REDIS_REPLY_ERROR) {
      for (const Part& p : parts) p.completion->onRedisReply(reply);
    } else {
      static const redisReply kUnexpected = [] {
        redisReply r{};
        r.type = REDIS_REPLY_ERROR;
        r.str = const_cast<char*>("ERR unexpected reply to MGET");
        r.len = std::strlen(r.str);
        return r;
      }();
      for (const Part& p : parts) p.completion->onRedisReply(&kUnexpected);
    }
    release();
  }
  void onRedisFailure(RedisFailure failure) override {
    for (const Part& p : parts) p.completion->onRedisFailure(failure);
    release();
  }

 private:
  void release() {
    parts.clear();
    keys = 0;
    owner_->free_fanouts_.push_back(this);
  }

  MgetMerger* owner_;
};

MgetMerger::MgetMerger() = default;
MgetMerger::~MgetMerger() = default;

bool MgetMerger::mergeable(std::span<const RedisArg> args) {
  return args.size() >= 2 && args.size() - 1 <= kMaxKeysToMerge && args[0].first == "MGET" &&
         args[0].second.empty();
}

bool MgetMerger::add(std::span<const RedisArg> keys, RedisCompletion* completion,
                     uint32_t group, std::string* out, Closed* closed) {
  bool was_closed = false;
  if (run_.nkeys > 0 &&
      (run_.nkeys + keys.size() > kMaxMergedKeys || run_.keys.size() > kMaxMergedKeyBytes)) {
    was_closed = close(out, closed);
  }
  if (run_.parts.empty()) {
    run_.queued_at = Clock::now();
    run_.group = group;
  }
  run_.parts.push_back(Part{completion, run_.nkeys, keys.size()});
  run_.nkeys += keys.size();
  for (const RedisArg& k : keys) appendBulk(k, &run_.keys);
  return was_closed;
}

bool MgetMerger::close(std::string* out, Closed* closed) {
  Run& run = run_;
  if (run.parts.empty()) return false;
  const size_t before = out->size();
  out->push_back('*');
  appendDecimal(out, run.nkeys + 1);
  out->append("\r\n$4\r\nMGET\r\n");
  out->append(run.keys);
  RedisCompletion* completion = run.parts.front().completion;
  if (run.parts.size() > 1) {
    Fanout* fanout;
    if (free_fanouts_.empty()) {
      fanouts_.push_back(std::make_unique<Fanout>(this));
      fanout = fanouts_.back().get();
    } else {
      fanout = free_fanouts_.back();
      free_fanouts_.pop_back();
    }
    fanout->parts.swap(run.parts);  // both keep their capacity
    fanout->keys = run.nkeys;
    completion = fanout;
  }
  *closed = Closed{completion, run.queued_at, out->size() - before};
  run.parts.clear();
  run.keys.clear();
  run.nkeys = 0;
  return true;
}

}  // namespace mcbridge::backend
