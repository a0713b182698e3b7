// Flow control's budgets and size estimate (backend/flow_control.h), without sockets.
#include <catch2/catch.hpp>

#include "backend/flow_control.h"

using namespace mcbridge;
using backend::FlowControl;
using Verdict = backend::FlowControl::Verdict;

namespace {

backend::FlowOptions options() {
  backend::FlowOptions o;
  o.client_budget = 4 << 20;
  o.worker_budget = 16 << 20;
  o.redis_budget = 8 << 20;
  o.part_keys = 100;
  o.part_bytes = 1 << 20;
  o.item_size_max = 1 << 20;
  return o;
}

}  // namespace

TEST_CASE("the size estimate follows increases at once, decreases by the evidence", "[flow]") {
  backend::SizeEstimate e(256 * 1024);
  e.observe(4, 4 * 1000048);  // four 1 MB values: at once
  CHECK(e.bytesPerKey() == 1000048);
  e.observe(1, 148);  // one small value: 1/8 of the way down
  CHECK(e.bytesPerKey() == 1000048 - (1000048 - 148) / 8);
  e.observe(8, 8 * 148);  // eight small values: all the way
  CHECK(e.bytesPerKey() == 148);
  e.observe(2, 0);  // misses: never 0
  CHECK(e.bytesPerKey() >= 16);
  e.observe(0, 0);  // nothing learned from nothing
  CHECK(e.bytesPerKey() >= 16);
}

TEST_CASE("multi-get parts are bounded by keys and expected bytes", "[flow]") {
  backend::Counters counters;
  FlowControl flow(options(), &counters);
  CHECK(flow.initialBytesPerKey(100) == 256 * 1024);  // a quarter of the item size limit
  CHECK(flow.initialBytesPerKey(1) == 128 * 1024);    // a 32nd of the client budget
  CHECK(flow.partKeys(100, 256 * 1024) == 4);
  CHECK(flow.partKeys(100, 1000048) == 1);  // a value larger than a part: one key
  CHECK(flow.partKeys(100, 148) == 100);    // small values: the whole get at once
  CHECK(flow.partKeys(500, 148) == 100);    // never more than part_keys
  CHECK(flow.partKeys(3, 148) == 3);
  CHECK(FlowControl::expectedBytes(4, 1000) == 4000);
}

TEST_CASE("admission: client budget, Redis budget for bulk work, worker budget", "[flow]") {
  backend::Counters counters;
  FlowControl flow(options(), &counters);
  const uint64_t mb = 1 << 20;
  // A client with nothing pending always starts one request.
  CHECK(flow.admit(0, 3 * mb, FlowControl::bulk(3 * mb)) == Verdict::kGo);
  // Its next ones only within its budget.
  CHECK(flow.admit(2 * mb, 1 * mb, FlowControl::bulk(1 * mb)) == Verdict::kGo);
  CHECK(flow.admit(3 * mb, 2 * mb, FlowControl::bulk(2 * mb)) == Verdict::kHoldClient);
  // Bulk work at Redis beyond the Redis budget waits, even for an idle client...
  flow.addOutstanding(static_cast<int64_t>(8 * mb), /*bulk=*/true);
  CHECK(counters.reply_bytes_expected.load() == static_cast<int64_t>(8 * mb));
  CHECK(flow.admit(0, 1 * mb, FlowControl::bulk(1 * mb)) == Verdict::kHoldWorker);
  // ...small requests do not.
  CHECK(flow.admit(0, 100, FlowControl::bulk(100)) == Verdict::kGo);
  CHECK(flow.admit(1000, 100, FlowControl::bulk(100)) == Verdict::kGo);
  CHECK_FALSE(flow.takeFreed());
  flow.addOutstanding(-static_cast<int64_t>(8 * mb), true);
  CHECK(flow.takeFreed());
  CHECK_FALSE(flow.takeFreed());
  CHECK(flow.admit(0, 1 * mb, FlowControl::bulk(1 * mb)) == Verdict::kGo);
  // The worker budget (buffered + expected over its clients) holds clients that already have
  // something pending, never an idle one.
  flow.addBuffered(static_cast<int64_t>(15 * mb));
  CHECK(counters.reply_bytes_buffered.load() == static_cast<int64_t>(15 * mb));
  CHECK(flow.admit(1000, 2 * mb, FlowControl::bulk(2 * mb)) == Verdict::kHoldWorker);
  CHECK(flow.admit(0, 2 * mb, FlowControl::bulk(2 * mb)) == Verdict::kGo);
  flow.addBuffered(-static_cast<int64_t>(15 * mb));
  CHECK(flow.buffered() == 0);
  CHECK(flow.outstanding() == 0);
  CHECK(flow.admit(1000, 2 * mb, FlowControl::bulk(2 * mb)) == Verdict::kGo);
}
