// A FIFO on a power-of-two ring that grows by doubling and keeps its capacity, so a steady
// stream of push_back / pop_front allocates nothing (std::deque allocates and frees a node every
// few dozen elements). Used for the reply queue of a client and the command queues of a Redis
// connection. Not thread-safe; T must be default-constructible and movable.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace mcbridge::backend {

template <typename T>
class RingQueue {
 public:
  template <typename Q, typename V>
  class Iter {
   public:
    Iter(Q* q, size_t i) : q_(q), i_(i) {}
    V& operator*() const { return (*q_)[i_]; }
    V* operator->() const { return &(*q_)[i_]; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iter& o) const { return i_ != o.i_; }
    bool operator==(const Iter& o) const { return i_ == o.i_; }

   private:
    Q* q_;
    size_t i_;
  };
  using iterator = Iter<RingQueue, T>;
  using const_iterator = Iter<const RingQueue, const T>;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }

  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  T& operator[](size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }

  void push_back(T v) {
    if (size_ == cap_) grow();
    buf_[(head_ + size_) & (cap_ - 1)] = std::move(v);
    ++size_;
  }
  // Precondition: n <= size().
  void pop_front(size_t n = 1) {
    head_ = (head_ + n) & (cap_ - 1);
    size_ -= n;
    if (size_ == 0) head_ = 0;
  }
  void clear() { head_ = size_ = 0; }

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  void grow() {
    const size_t cap = cap_ == 0 ? 8 : cap_ * 2;
    std::unique_ptr<T[]> grown(new T[cap]);
    for (size_t i = 0; i < size_; ++i) grown[i] = std::move((*this)[i]);
    buf_ = std::move(grown);
    cap_ = cap;
    head_ = 0;
  }

  std::unique_ptr<T[]> buf_;
  size_t cap_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace mcbridge::backend
