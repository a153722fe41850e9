#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace tlbscope {

// A FIFO that never holds more than its capacity: pushing into a full queue
// drops the oldest item and counts it. For every queue whose producer must
// not wait and whose consumer may fall behind or never come (events kept
// for subscribers, IPIs a guest sends and never receives): the bound is in
// the type, not in a loop beside each push.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}

  // Appends `v`; true if the oldest item was dropped to make room.
  bool Push(T v) {
    bool full = items_.size() == capacity_;
    if (full) {
      items_.pop_front();
      ++dropped_;
    }
    items_.push_back(std::move(v));
    return full;
  }
  void PopFront() { items_.pop_front(); }
  const T& front() const { return items_.front(); }
  // The i-th oldest item.
  const T& operator[](size_t i) const { return items_[i]; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  size_t capacity() const { return capacity_; }
  uint64_t dropped() const { return dropped_; }

 private:
  size_t capacity_;
  std::deque<T> items_;
  uint64_t dropped_ = 0;
};

}  // namespace tlbscope
