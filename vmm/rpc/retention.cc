#include "vmm/rpc/retention.h"

namespace tlbscope {

void Retention::OnEvents(const std::vector<v1::Event>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::Event& e : events) {
    if (events_.Push(e)) ++first_;  // the oldest went
    ++total_;
  }
  cv_.notify_all();
}

void Retention::OnEnd(const v1::TraceEnd& end) {
  std::lock_guard<std::mutex> lock(mu_);
  end_ = end;
  cv_.notify_all();
}

Retention::Slice Retention::Read(uint64_t from, size_t max, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] { return total_ > from || end_.has_value(); });
  Slice s;
  s.retained_from = first_;
  uint64_t start = std::max(from, first_);
  for (uint64_t q = start; q < total_ && s.events.size() < max; ++q) {
    s.events.push_back(events_[q - first_]);
  }
  s.next =
      s.events.empty() ? std::max(from, std::min(start, total_)) : s.events.back().sequence() + 1;
  s.ended = end_.has_value() && s.next >= total_;
  return s;
}

uint64_t Retention::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

uint64_t Retention::retained_from() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_;
}

std::optional<v1::TraceEnd> Retention::end() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

}  // namespace tlbscope
