#pragma once
// The model against the guest: at every user_enter of a Linux stream the
// probe has just read the kernel's own state from guest memory (the CPU's
// loaded mm, cpu_tlbstate's generation for it, the mm's tlb_gen); the
// model, rebuilt from the events before it, must say the same. The loaded
// mm and the local generation must be equal (only that CPU writes them);
// the mm's generation may be ahead of the model by requests whose records
// are not in yet, never behind. A mismatch is tlbscope losing track of the
// kernel, not a kernel bug: the run reports it and fails (docs/events.md).
#include <cstdint>
#include <string>

#include "collectors/event.h"
#include "collectors/state_model.h"

namespace tlbscope::collect {

struct StateCheck {
  uint64_t checks = 0, mismatches = 0;
  std::string first_mismatch;  // one line, the first one

  // Before `before` applies `e` (a user_enter; anything else is ignored).
  void Observe(const CEvent& e, const StateModel& before);
};

}  // namespace tlbscope::collect
