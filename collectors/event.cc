#include "collectors/event.h"

#include <string>

#include "collectors/wire_decode.h"

namespace tlbscope::collect {

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kCr3Write:
      return "cr3_write";
    case Kind::kInvlpg:
      return "invlpg";
    case Kind::kInvpcid:
      return "invpcid";
    case Kind::kIpiSent:
      return "ipi_sent";
    case Kind::kIpiReceived:
      return "ipi_received";
    case Kind::kFlushRequest:
      return "flush_request";
    case Kind::kFlushFunc:
      return "flush_func";
    case Kind::kContextSwitch:
      return "context_switch";
    case Kind::kLazyEnter:
      return "lazy_enter";
    case Kind::kLazyExit:
      return "lazy_exit";
    case Kind::kPageTableFree:
      return "page_table_free";
    case Kind::kStaleRead:
      return "stale_read";
    case Kind::kGuestLog:
      return "guest_log";
    case Kind::kVcpuState:
      return "vcpu_state";
    case Kind::kFlushDone:
      return "flush_done";
    case Kind::kPageFree:
      return "page_free";
    case Kind::kGatherStart:
      return "gather_start";
    case Kind::kGatherEnd:
      return "gather_end";
    case Kind::kLamSet:
      return "lam_set";
    case Kind::kMembarrierRegister:
      return "membarrier_register";
    case Kind::kSyncCore:
      return "sync_core";
    case Kind::kUserEnter:
      return "user_enter";
    case Kind::kUserExit:
      return "user_exit";
    case Kind::kCpumask:
      return "cpumask";
    case Kind::kOther:
      break;
  }
  return "other";
}

CEvent FromProto(const v1::Event& e) {
  // One mapping from proto fields to CEvent: the replay decoder's. The
  // serialization costs ~0.1-0.3 us, nothing at live and in-process rates.
  std::string bytes = e.SerializeAsString();
  CEvent c;
  DecodeEvent(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &c);
  return c;
}

}  // namespace tlbscope::collect
