#pragma once

#include "tlbscope/v1/trace.pb.h"
#include "vmm/trap/trap_event.h"

namespace tlbscope {

// The stream's form of a trapped instruction (sequences are the pipeline's).
v1::Event TrapEventToProto(const TrapEvent& e);

}  // namespace tlbscope
