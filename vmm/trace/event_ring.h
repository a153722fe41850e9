#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <vector>

namespace tlbscope {

// A bounded single-producer single-consumer ring: one vCPU thread pushes,
// the sequencer pops. No lock is shared between vCPUs (each has its own).
template <typename T>
class EventRing {
 public:
  explicit EventRing(size_t capacity) : slots_(capacity) {}

  // False when full; the caller decides whether to wait.
  bool TryPush(T&& v) {
    size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) == slots_.size()) return false;
    slots_[head % slots_.size()] = std::move(v);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  std::optional<T> TryPop() {
    size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return std::nullopt;
    T v = std::move(slots_[tail % slots_.size()]);
    tail_.store(tail + 1, std::memory_order_release);
    return v;
  }

  size_t capacity() const { return slots_.size(); }

 private:
  std::vector<T> slots_;
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
};

}  // namespace tlbscope
