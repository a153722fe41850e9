#include "collectors/event.h"

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
  CEvent c;
  c.seq = e.sequence();
  c.vcpu_seq = e.vcpu_sequence();
  c.host_ns = e.host_time_ns();
  c.guest_tsc = e.guest_tsc();
  c.vcpu = e.vcpu();
  if (e.has_trap()) {
    c.rip = e.trap().rip();
    c.boot_site = e.trap().site_class() == "boot";
  }
  switch (e.kind_case()) {
    case v1::Event::kCr3Write: {
      const auto& p = e.cr3_write();
      c.kind = Kind::kCr3Write;
      c.cr3 = {p.old_cr3(), p.new_cr3(), p.root(),    p.pcid(),
               p.noflush(), p.lam_u57(), p.lam_u48(), p.pcide()};
      break;
    }
    case v1::Event::kInvlpg:
      c.kind = Kind::kInvlpg;
      c.invlpg.address = e.invlpg().linear_address();
      break;
    case v1::Event::kInvpcid: {
      const auto& p = e.invpcid();
      c.kind = Kind::kInvpcid;
      c.invpcid = {p.type(), p.pcid(), p.linear_address(), p.faulted()};
      break;
    }
    case v1::Event::kIpiSent:
      c.kind = Kind::kIpiSent;
      c.ipi_sent = {MaskOf(e.ipi_sent().target_cpus()), e.ipi_sent().vector()};
      break;
    case v1::Event::kIpiReceived:
      c.kind = Kind::kIpiReceived;
      c.ipi_received = {e.ipi_received().source_cpu(), e.ipi_received().vector()};
      break;
    case v1::Event::kFlushRequest: {
      const auto& p = e.flush_request();
      c.kind = Kind::kFlushRequest;
      c.flush_request = {
          p.mm(),           p.start(),       p.end(), p.new_tlb_gen(), MaskOf(p.target_cpus()),
          p.stride_shift(), p.freed_tables()};
      break;
    }
    case v1::Event::kFlushFunc: {
      const auto& p = e.flush_func();
      c.kind = Kind::kFlushFunc;
      c.flush_func = {
          p.mm(),   p.local_gen_before(), p.local_gen_after(), p.mm_gen(), p.start(), p.end(),
          p.full(), p.lazy_left(),        p.not_loaded()};
      break;
    }
    case v1::Event::kContextSwitch: {
      const auto& p = e.context_switch();
      c.kind = Kind::kContextSwitch;
      c.cs = {p.prev_mm(), p.next_mm(),    p.cr3(),      p.cpu_lam(), p.mm_lam(),
              p.asid(),    p.need_flush(), p.was_lazy(), p.reload(),  p.raw()};
      break;
    }
    case v1::Event::kLazyEnter:
      c.kind = Kind::kLazyEnter;
      c.mm_only.mm = e.lazy_enter().mm();
      break;
    case v1::Event::kLazyExit:
      c.kind = Kind::kLazyExit;
      c.lazy_exit = {e.lazy_exit().mm(), e.lazy_exit().flushed()};
      break;
    case v1::Event::kPageTableFree: {
      const auto& p = e.page_table_free();
      c.kind = Kind::kPageTableFree;
      c.pt_free = {p.mm(), p.table_address(), p.covering_tlb_gen(), p.level()};
      break;
    }
    case v1::Event::kStaleRead: {
      const auto& p = e.stale_read();
      c.kind = Kind::kStaleRead;
      c.stale = {p.mm(), p.address(), p.expected(), p.observed()};
      break;
    }
    case v1::Event::kGuestLog:
      c.kind = Kind::kGuestLog;
      break;
    case v1::Event::kVcpuState:
      c.kind = Kind::kVcpuState;
      c.vcpu_state.state = static_cast<uint32_t>(e.vcpu_state().state());
      break;
    case v1::Event::kFlushDone:
      c.kind = Kind::kFlushDone;
      c.flush_done = {e.flush_done().mm(), e.flush_done().tlb_gen(),
                      MaskOf(e.flush_done().acked_cpus())};
      break;
    case v1::Event::kPageFree: {
      const auto& p = e.page_free();
      c.kind = Kind::kPageFree;
      c.page_free = {p.mm(), p.address(), p.physical_address(), p.covering_tlb_gen()};
      break;
    }
    case v1::Event::kGatherStart: {
      const auto& p = e.gather_start();
      c.kind = Kind::kGatherStart;
      c.gather_start = {p.mm(), p.start(), p.end(), p.pending()};
      break;
    }
    case v1::Event::kGatherEnd: {
      const auto& p = e.gather_end();
      c.kind = Kind::kGatherEnd;
      c.gather_end = {
          p.mm(),     p.flushed_start(), p.flushed_end(),  p.flush_tlb_gen(),   p.pending_seen(),
          p.levels(), p.nested(),        p.freed_tables(), p.own_freed_tables()};
      break;
    }
    case v1::Event::kLamSet:
      c.kind = Kind::kLamSet;
      c.lam_set = {e.lam_set().mm(), e.lam_set().lam_cr3_bits(), e.lam_set().untag_mask()};
      break;
    case v1::Event::kMembarrierRegister:
      c.kind = Kind::kMembarrierRegister;
      c.mm_only.mm = e.membarrier_register().mm();
      break;
    case v1::Event::kSyncCore:
      c.kind = Kind::kSyncCore;
      c.sync_core = {e.sync_core().mm(), e.sync_core().reason()};
      break;
    case v1::Event::kUserEnter: {
      const auto& p = e.user_enter();
      c.kind = Kind::kUserEnter;
      c.user_enter = {p.mm(), p.local_gen(), p.mm_gen(), p.cpu_lam()};
      break;
    }
    case v1::Event::kUserExit:
      c.kind = Kind::kUserExit;
      c.user_exit = {e.user_exit().mm(), e.user_exit().vector()};
      break;
    case v1::Event::kCpumask: {
      const auto& p = e.cpumask();
      c.kind = Kind::kCpumask;
      c.cpumask = {p.mm(), MaskOf(p.cpus()), p.cpu(), p.set()};
      break;
    }
    case v1::Event::KIND_NOT_SET:
      break;
  }
  return c;
}

}  // namespace tlbscope::collect
