#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "base/bounded_queue.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

// The last `capacity` events in memory, for subscribers to read at their
// own pace: the sequencer appends and never waits on a reader.
class Retention : public EventSink {
 public:
  explicit Retention(size_t capacity) : events_(capacity) {}
  void OnEvents(const std::vector<v1::Event>& events) override;
  void OnEnd(const v1::TraceEnd& end) override;

  struct Slice {
    std::vector<v1::Event> events;  // sequences [from, next) still retained
    uint64_t next = 0;
    uint64_t retained_from = 0;  // the oldest retained sequence
    bool ended = false;          // and `next` is past the last event
  };
  // Events from `from`, at most `max`, waiting up to `wait` for one to arrive.
  Slice Read(uint64_t from, size_t max, std::chrono::milliseconds wait);

  uint64_t total() const;
  uint64_t retained_from() const;
  std::optional<v1::TraceEnd> end() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  BoundedQueue<v1::Event> events_;
  uint64_t first_ = 0;  // sequence of events_.front()
  uint64_t total_ = 0;
  std::optional<v1::TraceEnd> end_;
};

}  // namespace tlbscope
