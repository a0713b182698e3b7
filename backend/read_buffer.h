// A contiguous read buffer (client and Redis connections): [start_, end_) holds the unparsed
// bytes. Growing keeps them contiguous; consuming is O(1); compaction happens only when space is
// needed, so a large value arriving in many reads is moved at most a few times, never re-scanned.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace mcbridge::backend {

class ReadBuffer {
 public:
  std::string_view data() const { return {buf_.get() + start_, end_ - start_}; }
  size_t size() const { return end_ - start_; }
  size_t capacity() const { return cap_; }

  void consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }

  // Returns space for a read of at least `min_free` bytes, such that a request of `want_total`
  // bytes (counting the unparsed ones) fits without another move.
  char* prepare(size_t min_free, size_t want_total, size_t* avail) {
    const size_t used = end_ - start_;
    size_t need = used + min_free;
    if (want_total > need) need = want_total;
    if (cap_ - end_ < min_free || cap_ - start_ < want_total) {
      if (cap_ >= need) {
        std::memmove(buf_.get(), buf_.get() + start_, used);
      } else {
        size_t cap = cap_ ? cap_ * 2 : min_free;
        while (cap < need) cap *= 2;
        std::unique_ptr<char[]> grown(new char[cap]);
        if (used) std::memcpy(grown.get(), buf_.get() + start_, used);
        buf_ = std::move(grown);
        cap_ = cap;
      }
      start_ = 0;
      end_ = used;
    }
    *avail = cap_ - end_;
    return buf_.get() + end_;
  }
  void commit(size_t n) { end_ += n; }

  // Gives the memory back while the buffer is empty (idle connections cost little).
  void releaseIfEmpty() {
    if (start_ == end_) {
      buf_.reset();
      cap_ = start_ = end_ = 0;
    }
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
};

}  // namespace mcbridge::backend
