#pragma once

#include <cstdint>
#include <cstring>

#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::collect {

// An event as the collector sees it: a flat, trivially copyable copy of the
// fields of tlbscope.v1.Event it uses (strings dropped, CPU lists as
// bitmasks of CPUs 0..63). The replay reader decodes trace files straight
// into it; live and in-process sources convert with FromProto.
enum class Kind : uint8_t {
  kOther = 0,
  kCr3Write = 10,
  kInvlpg = 11,
  kInvpcid = 12,
  kIpiSent = 13,
  kIpiReceived = 14,
  kFlushRequest = 15,
  kFlushFunc = 16,
  kContextSwitch = 17,
  kLazyEnter = 18,
  kLazyExit = 19,
  kPageTableFree = 20,
  kStaleRead = 21,
  kGuestLog = 22,
  kVcpuState = 23,
  kFlushDone = 24,
  kPageFree = 25,
  kGatherStart = 26,
  kGatherEnd = 27,
  kLamSet = 28,
  kMembarrierRegister = 29,
  kSyncCore = 30,
  kUserEnter = 31,
  kUserExit = 32,
  kCpumask = 33,
};
inline constexpr int kMaxKind = 34;

const char* KindName(Kind k);  // "cr3_write", ... (the oneof field name)

using CpuMask = uint64_t;  // bit c: CPU c (CPUs >= 64 are dropped)
inline constexpr uint64_t kFlushAll = ~0ull;

struct Cr3WriteF {
  uint64_t old_cr3, new_cr3, root;
  uint32_t pcid;
  bool noflush, lam_u57, lam_u48, pcide;
};
struct InvlpgF {
  uint64_t address;
};
struct InvpcidF {
  uint32_t type, pcid;
  uint64_t address;
  bool faulted;
};
struct IpiSentF {
  CpuMask targets;
  uint32_t vector;
};
struct IpiReceivedF {
  uint32_t source_cpu, vector;
};
struct FlushRequestF {
  uint64_t mm, start, end, new_tlb_gen;
  CpuMask targets;
  uint32_t stride_shift;
  bool freed_tables;
};
struct FlushFuncF {
  uint64_t mm, local_gen_before, local_gen_after, mm_gen, start, end;
  uint64_t request_tlb_gen;  // the request it serves, 0: unknown (older guests)
  bool full, lazy_left, not_loaded;
};
struct ContextSwitchF {
  uint64_t prev_mm, next_mm, cr3, cpu_lam, mm_lam;
  uint32_t asid;
  bool need_flush, was_lazy, reload, raw;
};
struct MmF {  // lazy_enter, membarrier_register
  uint64_t mm;
};
struct LazyExitF {
  uint64_t mm;
  bool flushed;
};
struct PageTableFreeF {
  uint64_t mm, table_address, covering_tlb_gen;
  uint32_t level;
};
struct StaleReadF {
  uint64_t mm, address, expected, observed;
};
struct FlushDoneF {
  uint64_t mm, tlb_gen;
  CpuMask acked;
};
struct PageFreeF {
  uint64_t mm, address, physical_address, covering_tlb_gen;
};
struct GatherStartF {
  uint64_t mm, start, end, pending;
};
struct GatherEndF {
  uint64_t mm, flushed_start, flushed_end, flush_tlb_gen, pending_seen;
  uint32_t levels;
  bool nested, freed_tables, own_freed_tables;
};
struct LamSetF {
  uint64_t mm, lam_cr3_bits, untag_mask;
};
struct SyncCoreF {
  uint64_t mm;
  uint32_t reason;
};
struct UserEnterF {
  uint64_t mm, local_gen, mm_gen, cpu_lam;
};
struct UserExitF {
  uint64_t mm;
  uint32_t vector;
};
struct CpumaskF {
  uint64_t mm;
  CpuMask cpus;
  uint32_t cpu;
  bool set;
};
struct VcpuStateF {
  uint32_t state;  // v1::VcpuState::State
};

struct CEvent {
  uint64_t seq;
  uint64_t vcpu_seq;
  int64_t host_ns;
  uint64_t guest_tsc;
  uint64_t rip;  // trapped events
  uint32_t vcpu;
  Kind kind;
  bool boot_site;  // trapped at a boot-time site (trap.site_class == "boot")
  union {
    Cr3WriteF cr3;
    InvlpgF invlpg;
    InvpcidF invpcid;
    IpiSentF ipi_sent;
    IpiReceivedF ipi_received;
    FlushRequestF flush_request;
    FlushFuncF flush_func;
    ContextSwitchF cs;
    MmF mm_only;
    LazyExitF lazy_exit;
    PageTableFreeF pt_free;
    StaleReadF stale;
    FlushDoneF flush_done;
    PageFreeF page_free;
    GatherStartF gather_start;
    GatherEndF gather_end;
    LamSetF lam_set;
    SyncCoreF sync_core;
    UserEnterF user_enter;
    UserExitF user_exit;
    CpumaskF cpumask;
    VcpuStateF vcpu_state;
  };

  CEvent() { std::memset(static_cast<void*>(this), 0, sizeof(*this)); }
};

// The CPU list of a repeated field as a mask.
template <typename List>
CpuMask MaskOf(const List& cpus) {
  CpuMask m = 0;
  for (uint32_t c : cpus) {
    if (c < 64) m |= 1ull << c;
  }
  return m;
}

CEvent FromProto(const v1::Event& e);

}  // namespace tlbscope::collect
