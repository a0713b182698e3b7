// CLUSTER SLOTS parsing, redirects, and the slot table's rule that an older view never undoes a
// newer MOVED fix.
#include <catch2/catch.hpp>

#include "backend/slot_map.h"
#include "unit/support/reply_builder.h"

using namespace mcbridge::backend;
using mcbridge::test::Reply;

TEST_CASE("MOVED and ASK are parsed; other errors are not redirects", "[cluster]") {
  Redirect r;
  REQUIRE(parseRedirect("MOVED 3999 127.0.0.1:6381", &r));
  CHECK_FALSE(r.ask);
  CHECK(r.slot == 3999);
  CHECK(r.address == "127.0.0.1:6381");
  REQUIRE(parseRedirect("ASK 16383 [::1]:7000", &r));
  CHECK(r.ask);
  CHECK(r.slot == 16383);
  CHECK(r.address == "[::1]:7000");
  CHECK_FALSE(parseRedirect("MOVED 16384 127.0.0.1:1", &r));
  CHECK_FALSE(parseRedirect("MOVED x 127.0.0.1:1", &r));
  CHECK_FALSE(parseRedirect("MOVED 1 127.0.0.1", &r));
  CHECK_FALSE(parseRedirect("TRYAGAIN Multiple keys request during rehashing of slot", &r));
  std::string host;
  uint16_t port = 0;
  REQUIRE(splitAddress("[::1]:7000", &host, &port));
  CHECK(host == "::1");
  CHECK(port == 7000);
}

TEST_CASE("CLUSTER SLOTS becomes shards and a slot index", "[cluster]") {
  // Two ranges of one shard, a second shard with a replica, a node with an unknown host.
  Reply reply = Reply::array({
      Reply::array(
          {Reply::integer(0), Reply::integer(99),
           Reply::array({Reply::string("10.0.0.1"), Reply::integer(7000), Reply::string("id1")}),
           Reply::array({Reply::string("10.0.0.2"), Reply::integer(7001), Reply::string("id2")})}),
      Reply::array({Reply::integer(100), Reply::integer(16383),
                    Reply::array({Reply::string(""), Reply::integer(7002), Reply::string("id3")})}),
      Reply::array(
          {Reply::integer(200), Reply::integer(200),
           Reply::array({Reply::string("10.0.0.1"), Reply::integer(7000), Reply::string("id1")})}),
  });
  ClusterTopology t;
  std::string error;
  REQUIRE(parseClusterSlots(reply.get(), "10.0.0.9", &t, &error));
  REQUIRE(t.shards.size() == 2);
  CHECK(t.shards[0].primary == "10.0.0.1:7000");
  REQUIRE(t.shards[0].replicas.size() == 1);
  CHECK(t.shards[0].replicas[0] == "10.0.0.2:7001");
  CHECK(t.shards[1].primary == "10.0.0.9:7002");
  CHECK(t.shard_of[0] == 0);
  CHECK(t.shard_of[99] == 0);
  CHECK(t.shard_of[100] == 1);
  CHECK(t.shard_of[200] == 0);
  CHECK(t.shard_of[16383] == 1);

  Reply bad = Reply::error("ERR This instance has cluster support disabled");
  CHECK_FALSE(parseClusterSlots(bad.get(), "h", &t, &error));
  CHECK(error == "ERR This instance has cluster support disabled");
}

TEST_CASE("an older view never undoes a newer MOVED fix", "[cluster]") {
  ClusterTopology view;
  view.shards = {{"a:1", {"b:1"}}, {"c:1", {}}};
  view.shard_of.fill(0);
  for (size_t s = 8192; s < kSlotCount; ++s) view.shard_of[s] = 1;
  SlotTable table;
  CHECK_FALSE(table.complete());
  table.install(view, {10, 20}, {{11}, {}}, /*asked_at=*/1);
  CHECK(table.complete());
  CHECK(table.primary(5) == 10);
  CHECK(table.primary(9000) == 20);
  REQUIRE(table.replicas(5).size() == 1);
  CHECK(table.replicas(5)[0] == 11);
  CHECK(table.primaries() == std::vector<int>{10, 20});

  table.fix(5, 20, /*epoch=*/3);  // MOVED at epoch 3
  CHECK(table.primary(5) == 20);
  CHECK(table.replicas(5).empty());
  table.install(view, {10, 20}, {{11}, {}}, /*asked_at=*/2);  // asked before the MOVED
  CHECK(table.primary(5) == 20);
  CHECK(table.primary(6) == 10);
  table.install(view, {10, 20}, {{11}, {}}, /*asked_at=*/4);  // asked after it
  CHECK(table.primary(5) == 10);
}
