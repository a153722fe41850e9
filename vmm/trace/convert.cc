#include "vmm/trace/convert.h"

#include <cstring>

namespace tlbscope {

namespace {
void AddCpus(uint64_t mask, google::protobuf::RepeatedField<uint32_t>* out) {
  for (uint32_t cpu = 0; cpu < 64; ++cpu) {
    if (mask & (1ull << cpu)) out->Add(cpu);
  }
}

// Records of flush requests, their IPIs and acknowledgements; false for other kinds.
bool FlushRecordToEvent(const tlbscope_ring_record& r, v1::Event& e) {
  const uint64_t* a = r.a;
  switch (r.kind) {
    case TLBSCOPE_EV_IPI_SENT: {
      v1::IpiSent* p = e.mutable_ipi_sent();
      AddCpus(a[0], p->mutable_target_cpus());
      p->set_vector(static_cast<uint32_t>(a[1]));
      break;
    }
    case TLBSCOPE_EV_IPI_RECEIVED:
      e.mutable_ipi_received()->set_vector(static_cast<uint32_t>(a[0]));
      break;
    case TLBSCOPE_EV_FLUSH_REQUEST: {
      v1::FlushRequest* p = e.mutable_flush_request();
      p->set_mm(a[0]);
      p->set_start(a[1]);
      p->set_end(a[2]);
      p->set_stride_shift(static_cast<uint32_t>(a[3]));
      p->set_new_tlb_gen(a[4]);
      AddCpus(a[5], p->mutable_target_cpus());
      p->set_freed_tables(r.flags & 1);
      break;
    }
    case TLBSCOPE_EV_FLUSH_FUNC: {
      v1::FlushFunc* p = e.mutable_flush_func();
      p->set_mm(a[0]);
      p->set_local_gen_before(a[1]);
      p->set_local_gen_after(a[2]);
      p->set_mm_gen(a[3]);
      p->set_start(a[4]);
      p->set_end(a[5]);
      p->set_full(r.flags & TLBSCOPE_FF_FULL);
      p->set_lazy_left(r.flags & TLBSCOPE_FF_LAZY_LEFT);
      p->set_not_loaded(r.flags & TLBSCOPE_FF_NOT_LOADED);
      p->set_request_tlb_gen(r.aux);
      break;
    }
    case TLBSCOPE_EV_FLUSH_DONE: {
      v1::FlushDone* p = e.mutable_flush_done();
      p->set_mm(a[0]);
      p->set_tlb_gen(a[1]);
      AddCpus(a[2], p->mutable_acked_cpus());
      break;
    }
    default:
      return false;
  }
  return true;
}

// Records of switches, lazy mode, returns to user, LAM, membarrier and cpumasks; false for other
// kinds.
bool SwitchRecordToEvent(const tlbscope_ring_record& r, v1::Event& e) {
  const uint64_t* a = r.a;
  switch (r.kind) {
    case TLBSCOPE_EV_CONTEXT_SWITCH: {
      v1::ContextSwitch* p = e.mutable_context_switch();
      p->set_prev_mm(a[0]);
      p->set_next_mm(a[1]);
      p->set_cr3(a[2]);
      p->set_asid(static_cast<uint32_t>(a[3]));
      p->set_cpu_lam(a[4]);
      p->set_mm_lam(a[5]);
      p->set_need_flush(r.flags & TLBSCOPE_CS_NEED_FLUSH);
      p->set_was_lazy(r.flags & TLBSCOPE_CS_WAS_LAZY);
      p->set_reload(r.flags & TLBSCOPE_CS_RELOAD);
      p->set_raw(r.flags & TLBSCOPE_CS_RAW);
      break;
    }
    case TLBSCOPE_EV_LAZY_ENTER:
      e.mutable_lazy_enter()->set_mm(a[0]);
      break;
    case TLBSCOPE_EV_LAZY_EXIT:
      e.mutable_lazy_exit()->set_mm(a[0]);
      e.mutable_lazy_exit()->set_flushed(r.flags & 1);
      break;
    case TLBSCOPE_EV_LAM_SET: {
      v1::LamSet* p = e.mutable_lam_set();
      p->set_mm(a[0]);
      p->set_lam_cr3_bits(a[1]);
      p->set_untag_mask(a[2]);
      break;
    }
    case TLBSCOPE_EV_MEMBARRIER_REGISTER:
      e.mutable_membarrier_register()->set_mm(a[0]);
      break;
    case TLBSCOPE_EV_SYNC_CORE:
      e.mutable_sync_core()->set_mm(a[0]);
      e.mutable_sync_core()->set_reason(static_cast<uint32_t>(a[1]));
      break;
    case TLBSCOPE_EV_USER_ENTER: {
      v1::UserEnter* p = e.mutable_user_enter();
      p->set_mm(a[0]);
      p->set_local_gen(a[1]);
      p->set_mm_gen(a[2]);
      p->set_cpu_lam(a[3]);
      break;
    }
    case TLBSCOPE_EV_USER_EXIT:
      e.mutable_user_exit()->set_mm(a[0]);
      e.mutable_user_exit()->set_vector(static_cast<uint32_t>(a[1]));
      break;
    case TLBSCOPE_EV_CPUMASK: {
      v1::CpumaskChange* p = e.mutable_cpumask();
      p->set_mm(a[0]);
      AddCpus(a[1], p->mutable_cpus());
      p->set_cpu(static_cast<uint32_t>(a[2]));
      p->set_set(r.flags & 1);
      break;
    }
    default:
      return false;
  }
  return true;
}

// Records of frees, gathers and stale reads; false for other kinds.
bool FreeRecordToEvent(const tlbscope_ring_record& r, v1::Event& e) {
  const uint64_t* a = r.a;
  switch (r.kind) {
    case TLBSCOPE_EV_PAGE_TABLE_FREE: {
      v1::PageTableFree* p = e.mutable_page_table_free();
      p->set_mm(a[0]);
      p->set_table_address(a[1]);
      p->set_level(static_cast<uint32_t>(a[2]));
      p->set_covering_tlb_gen(a[3]);
      break;
    }
    case TLBSCOPE_EV_STALE_READ: {
      v1::StaleRead* p = e.mutable_stale_read();
      p->set_mm(a[0]);
      p->set_address(a[1]);
      p->set_expected(a[2]);
      p->set_observed(a[3]);
      break;
    }
    case TLBSCOPE_EV_PAGE_FREE: {
      v1::PageFree* p = e.mutable_page_free();
      p->set_mm(a[0]);
      p->set_address(a[1]);
      p->set_physical_address(a[2]);
      p->set_covering_tlb_gen(a[3]);
      break;
    }
    case TLBSCOPE_EV_GATHER_START: {
      v1::GatherStart* p = e.mutable_gather_start();
      p->set_mm(a[0]);
      p->set_start(a[1]);
      p->set_end(a[2]);
      p->set_pending(a[3]);
      break;
    }
    case TLBSCOPE_EV_GATHER_END: {
      v1::GatherEnd* p = e.mutable_gather_end();
      p->set_mm(a[0]);
      p->set_flushed_start(a[1]);
      p->set_flushed_end(a[2]);
      p->set_flush_tlb_gen(a[3]);
      p->set_levels(static_cast<uint32_t>(a[4]));
      p->set_pending_seen(a[5]);
      p->set_nested(r.flags & TLBSCOPE_GE_NESTED);
      p->set_freed_tables(r.flags & TLBSCOPE_GE_FREED_TABLES);
      p->set_own_freed_tables(r.flags & TLBSCOPE_GE_OWN_FREED);
      break;
    }
    default:
      return false;
  }
  return true;
}

}  // namespace

v1::Event GuestRecordToEvent(const tlbscope_ring_record& r) {
  v1::Event e;
  if (FlushRecordToEvent(r, e) || SwitchRecordToEvent(r, e) || FreeRecordToEvent(r, e)) return e;
  e.mutable_guest_log()->set_text("event ring record of unknown kind " + std::to_string(r.kind));
  return e;
}

}  // namespace tlbscope
