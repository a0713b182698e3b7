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
  std::string_view data() const { return {base_ + start_, end_ - start_}; }
  size_t size() const { return end_ - start_; }
  size_t capacity() const { return cap_; }

  void consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }

  // Returns space for a read of at least `min_free` bytes, such that a request of `want_total`
  // bytes (counting the unparsed ones) fits without another move.
  char* prepare(size_t min_free, size_t want_total, size_t* avail) {
    keepUnparsed(want_total);
    const size_t used = end_ - start_;
    size_t need = used + min_free;
    if (want_total > need) need = want_total;
    if (cap_ - end_ < min_free || cap_ - start_ < want_total) {
      if (cap_ >= need) {
        std::memmove(base_, base_ + start_, used);
      } else {
        size_t cap = cap_ ? cap_ * 2 : min_free;
        while (cap < need) cap *= 2;
        std::unique_ptr<char[]> grown(new char[cap]);
        if (used) std::memcpy(grown.get(), base_ + start_, used);
        own_ = std::move(grown);
        base_ = own_.get();
        cap_ = cap;
      }
      start_ = 0;
      end_ = used;
    }
    *avail = cap_ - end_;
    return base_ + end_;
  }
  void commit(size_t n) { end_ += n; }

  // Reads into `scratch`, an area shared by the buffers of one thread, instead of memory of its
  // own: a read that holds only complete requests then needs no buffer at all (no allocation per
  // read, nothing held between reads). Only for an empty buffer without memory of its own.
  // keepUnparsed() must run before the scratch is lent to another buffer.
  char* prepareBorrowed(char* scratch, size_t size, size_t* avail) {
    base_ = scratch;
    cap_ = size;
    start_ = end_ = 0;
    borrowed_ = true;
    *avail = size;
    return scratch;
  }
  bool canBorrow() const { return own_ == nullptr && !borrowed_ && start_ == end_; }
  // Gives the scratch back, moving the unparsed bytes (if any) into memory of its own, sized for
  // `want_total` bytes so that a large request is not moved again.
  void keepUnparsed(size_t want_total) {
    if (!borrowed_) return;
    const char* unparsed = base_ + start_;
    const size_t used = end_ - start_;
    borrowed_ = false;
    base_ = nullptr;
    cap_ = start_ = end_ = 0;
    if (used == 0) return;
    size_t cap = kMinOwnCapacity;
    while (cap < used || cap < want_total) cap *= 2;
    own_.reset(new char[cap]);
    base_ = own_.get();
    cap_ = cap;
    std::memcpy(base_, unparsed, used);
    end_ = used;
  }

  // Gives the memory back while the buffer is empty (idle connections cost little).
  void releaseIfEmpty() {
    if (start_ == end_ && !borrowed_) {
      own_.reset();
      base_ = nullptr;
      cap_ = start_ = end_ = 0;
    }
  }

 private:
  static constexpr size_t kMinOwnCapacity = 16 * 1024;

  std::unique_ptr<char[]> own_;
  char* base_ = nullptr;  // own_, or the borrowed scratch
  size_t cap_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
  bool borrowed_ = false;
};

}  // namespace mcbridge::backend
