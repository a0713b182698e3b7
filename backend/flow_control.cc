#include "backend/flow_control.h"

#include <algorithm>

namespace mcbridge::backend {
void SizeEstimate::observe(uint32_t keys, uint64_t bytes) {
  if (keys == 0) return;
  const uint64_t per_key = bytes / keys;
  if (per_key >= bytes_per_key_) {
    bytes_per_key_ = per_key;
  } else {
    bytes_per_key_ -= (bytes_per_key_ - per_key) * std::min<uint32_t>(keys, 8) / 8;
  }
  // Even an empty reply has its END and a miss costs Redis a few bytes: never estimate 0.
  bytes_per_key_ = std::max<uint64_t>(bytes_per_key_, 16);
}

FlowControl::FlowControl(const FlowOptions& options, Counters* counters)
    : options_(options),
      counters_(counters),
      initial_bytes_per_key_(std::max<uint64_t>(options.item_size_max / 4, 1024)),
      initial_single_bytes_(std::max<uint64_t>(options.client_budget / 32, 1024)) {}

uint32_t FlowControl::partKeys(uint32_t keys_left, uint64_t bytes_per_key) const {
  const uint64_t by_bytes = options_.part_bytes / std::max<uint64_t>(bytes_per_key, 1);
  const uint64_t n = std::min<uint64_t>({by_bytes, options_.part_keys, keys_left});
  return static_cast<uint32_t>(std::max<uint64_t>(n, 1));
}

FlowControl::Verdict FlowControl::admit(uint64_t client_footprint, uint64_t expected,
                                        bool is_bulk) const {
  if (is_bulk && bulk_outstanding_ > 0 &&
      bulk_outstanding_ + expected > options_.redis_budget) {
    return Verdict::kHoldWorker;
  }
  if (client_footprint == 0) return Verdict::kGo;
  if (client_footprint + expected > options_.client_budget) return Verdict::kHoldClient;
  if (outstanding_ + buffered_ + expected > options_.worker_budget) return Verdict::kHoldWorker;
  return Verdict::kGo;
}

void FlowControl::addOutstanding(int64_t delta, bool is_bulk) {
  outstanding_ += static_cast<uint64_t>(delta);
  if (is_bulk) bulk_outstanding_ += static_cast<uint64_t>(delta);
  if (delta < 0) freed_ = true;
  publish();
}

void FlowControl::addBuffered(int64_t delta) {
  buffered_ += static_cast<uint64_t>(delta);
  if (delta < 0) freed_ = true;
  publish();
}

void FlowControl::publish() {
  counters_->reply_bytes_expected.store(static_cast<int64_t>(outstanding_),
                                        std::memory_order_relaxed);
  counters_->reply_bytes_buffered.store(static_cast<int64_t>(buffered_), std::memory_order_relaxed);
}

}  // namespace mcbridge::backend
