#pragma once

// An EventSink that keeps everything the sequencer delivers, for tests of
// the event path.

#include <optional>
#include <vector>

#include "vmm/trace/pipeline.h"

namespace tlbscope::test_support {

class CollectSink : public EventSink {
 public:
  void OnEvents(const std::vector<v1::Event>& events) override {
    all.insert(all.end(), events.begin(), events.end());
  }
  void OnEnd(const v1::TraceEnd& e) override { end = e; }
  std::vector<v1::Event> all;
  std::optional<v1::TraceEnd> end;
};

}  // namespace tlbscope::test_support
