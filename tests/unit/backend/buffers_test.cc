// RingQueue (reply and command queues) and ReadBuffer (client and Redis reads).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "backend/read_buffer.h"
#include "backend/ring_queue.h"

using mcbridge::backend::ReadBuffer;
using mcbridge::backend::RingQueue;

TEST_CASE("RingQueue is a FIFO that keeps its capacity across wrap-arounds", "[buffers]") {
  RingQueue<int> q;
  CHECK(q.empty());
  CHECK(q.capacity() == 0);  // nothing allocated until the first push (idle connections)
  int next_in = 0, next_out = 0;
  // Push 5, pop 3, many times: the ring wraps around and grows only while the size grows.
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 5; ++i) q.push_back(next_in++);
    for (int i = 0; i < 3; ++i) {
      REQUIRE(q.front() == next_out++);
      q.pop_front();
    }
  }
  CHECK(q.size() == 200);
  CHECK(q.capacity() == 256);
  for (size_t i = 0; i < q.size(); ++i) CHECK(q[i] == next_out + static_cast<int>(i));
  std::vector<int> seen;
  for (int v : q) seen.push_back(v);
  REQUIRE(seen.size() == 200);
  CHECK(seen.front() == next_out);
  CHECK(seen.back() == next_in - 1);
  q.pop_front(150);
  CHECK(q.front() == next_out + 150);
  CHECK(q.size() == 50);
  const size_t cap = q.capacity();
  for (int i = 0; i < 10000; ++i) {
    q.push_back(i);
    q.pop_front();
  }
  CHECK(q.capacity() == cap);  // steady push/pop: no growth, no allocation
  q.clear();
  CHECK(q.empty());
}

TEST_CASE("ReadBuffer: a borrowed read keeps only its unparsed bytes", "[buffers]") {
  std::vector<char> scratch(64);
  ReadBuffer b;
  REQUIRE(b.canBorrow());
  size_t avail = 0;
  char* p = b.prepareBorrowed(scratch.data(), scratch.size(), &avail);
  CHECK(p == scratch.data());
  CHECK(avail == 64);
  const std::string in = "get a\r\nget b\r\nget";
  in.copy(p, in.size());
  b.commit(in.size());
  CHECK(b.data() == in);
  b.consume(14);  // two complete requests parsed
  b.keepUnparsed(0);
  // The scratch is free again: the unparsed "get" now lives in memory of the buffer's own.
  std::fill(scratch.begin(), scratch.end(), 'x');
  CHECK(b.data() == "get");
  CHECK_FALSE(b.canBorrow());
  p = b.prepare(16, 0, &avail);
  std::string rest = " c\r\n";
  rest.copy(p, rest.size());
  b.commit(rest.size());
  CHECK(b.data() == "get c\r\n");
  b.consume(7);
  b.releaseIfEmpty();
  CHECK(b.capacity() == 0);
  CHECK(b.canBorrow());

  // Everything parsed: nothing is kept, nothing allocated.
  p = b.prepareBorrowed(scratch.data(), scratch.size(), &avail);
  in.copy(p, 7);
  b.commit(7);
  b.consume(7);
  b.keepUnparsed(0);
  CHECK(b.capacity() == 0);
  CHECK(b.size() == 0);

  // A large request: the kept buffer is sized for all of it at once.
  p = b.prepareBorrowed(scratch.data(), scratch.size(), &avail);
  std::string head = "set k 0 0 100000\r\n";
  head.copy(p, head.size());
  b.commit(head.size());
  b.keepUnparsed(head.size() + 100002);
  CHECK(b.capacity() >= head.size() + 100002);
  CHECK(b.data() == head);
}
