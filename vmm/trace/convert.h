#pragma once

#include "tlbscope/probe_abi.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope {

// The stream's form of one record from a guest's event ring. A kind this
// tlbscope does not know becomes a GuestLog saying so: nothing is dropped.
v1::Event GuestRecordToEvent(const tlbscope_ring_record& r);

}  // namespace tlbscope
