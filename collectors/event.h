#pragma once

#include <cstdint>
#include <cstring>

#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::collect {

// An event as the collector sees it: a flat, trivially copyable copy of the
// fields of tlbscope.v1.Event it uses (strings dropped, CPU lists as
// bitmasks of CPUs 0..63). The replay reader decodes trace files straight
// into it; live and in-process sources convert with FromProto.
// Each Kind is its member's field number in the Event.kind oneof, taken from
// the generated code (and checked against the oneof's KindCase and the
// EventKind enum below), so the collectors cannot drift from the proto.
enum class Kind : uint8_t {
  kOther = 0,
  kCr3Write = v1::Event::kCr3WriteFieldNumber,
  kInvlpg = v1::Event::kInvlpgFieldNumber,
  kInvpcid = v1::Event::kInvpcidFieldNumber,
  kIpiSent = v1::Event::kIpiSentFieldNumber,
  kIpiReceived = v1::Event::kIpiReceivedFieldNumber,
  kFlushRequest = v1::Event::kFlushRequestFieldNumber,
  kFlushFunc = v1::Event::kFlushFuncFieldNumber,
  kContextSwitch = v1::Event::kContextSwitchFieldNumber,
  kLazyEnter = v1::Event::kLazyEnterFieldNumber,
  kLazyExit = v1::Event::kLazyExitFieldNumber,
  kPageTableFree = v1::Event::kPageTableFreeFieldNumber,
  kStaleRead = v1::Event::kStaleReadFieldNumber,
  kGuestLog = v1::Event::kGuestLogFieldNumber,
  kVcpuState = v1::Event::kVcpuStateFieldNumber,
  kFlushDone = v1::Event::kFlushDoneFieldNumber,
  kPageFree = v1::Event::kPageFreeFieldNumber,
  kGatherStart = v1::Event::kGatherStartFieldNumber,
  kGatherEnd = v1::Event::kGatherEndFieldNumber,
  kLamSet = v1::Event::kLamSetFieldNumber,
  kMembarrierRegister = v1::Event::kMembarrierRegisterFieldNumber,
  kSyncCore = v1::Event::kSyncCoreFieldNumber,
  kUserEnter = v1::Event::kUserEnterFieldNumber,
  kUserExit = v1::Event::kUserExitFieldNumber,
  kCpumask = v1::Event::kCpumaskFieldNumber,
  kKernelFlush = v1::Event::kKernelFlushFieldNumber,  // decoded generically (Field<N>)
  kGuestMark = v1::Event::kGuestMarkFieldNumber,      // decoded generically (Field<N>)
};
// A kind with no name here (one added to the proto after this file) is
// still decoded: its Kind is its field number and its scalar fields are in
// CEvent::generic (see Field()). kMaxKind bounds the field numbers a kind
// may have; per-kind tables are that long.
inline constexpr int kFirstKind = static_cast<int>(Kind::kCr3Write);
inline constexpr int kMaxKind = 64;
// Every named Kind is its oneof member and its EventKind.
constexpr bool SameAsProto(Kind k, v1::Event::KindCase member, v1::EventKind kind) {
  return static_cast<int>(k) == static_cast<int>(member) && static_cast<int>(k) == kind &&
         static_cast<int>(k) < kMaxKind;
}
static_assert(v1::EventKind_ARRAYSIZE <= kMaxKind, "Event.kind field numbers must stay below 64");
static_assert(SameAsProto(Kind::kCr3Write, v1::Event::kCr3Write, v1::CR3_WRITE));
static_assert(SameAsProto(Kind::kInvlpg, v1::Event::kInvlpg, v1::INVLPG));
static_assert(SameAsProto(Kind::kInvpcid, v1::Event::kInvpcid, v1::INVPCID));
static_assert(SameAsProto(Kind::kIpiSent, v1::Event::kIpiSent, v1::IPI_SENT));
static_assert(SameAsProto(Kind::kIpiReceived, v1::Event::kIpiReceived, v1::IPI_RECEIVED));
static_assert(SameAsProto(Kind::kFlushRequest, v1::Event::kFlushRequest, v1::FLUSH_REQUEST));
static_assert(SameAsProto(Kind::kFlushFunc, v1::Event::kFlushFunc, v1::FLUSH_FUNC));
static_assert(SameAsProto(Kind::kContextSwitch, v1::Event::kContextSwitch, v1::CONTEXT_SWITCH));
static_assert(SameAsProto(Kind::kLazyEnter, v1::Event::kLazyEnter, v1::LAZY_ENTER));
static_assert(SameAsProto(Kind::kLazyExit, v1::Event::kLazyExit, v1::LAZY_EXIT));
static_assert(SameAsProto(Kind::kPageTableFree, v1::Event::kPageTableFree, v1::PAGE_TABLE_FREE));
static_assert(SameAsProto(Kind::kStaleRead, v1::Event::kStaleRead, v1::STALE_READ));
static_assert(SameAsProto(Kind::kGuestLog, v1::Event::kGuestLog, v1::GUEST_LOG));
static_assert(SameAsProto(Kind::kVcpuState, v1::Event::kVcpuState, v1::VCPU_STATE));
static_assert(SameAsProto(Kind::kFlushDone, v1::Event::kFlushDone, v1::FLUSH_DONE));
static_assert(SameAsProto(Kind::kPageFree, v1::Event::kPageFree, v1::PAGE_FREE));
static_assert(SameAsProto(Kind::kGatherStart, v1::Event::kGatherStart, v1::GATHER_START));
static_assert(SameAsProto(Kind::kGatherEnd, v1::Event::kGatherEnd, v1::GATHER_END));
static_assert(SameAsProto(Kind::kLamSet, v1::Event::kLamSet, v1::LAM_SET));
static_assert(SameAsProto(Kind::kMembarrierRegister, v1::Event::kMembarrierRegister,
                          v1::MEMBARRIER_REGISTER));
static_assert(SameAsProto(Kind::kSyncCore, v1::Event::kSyncCore, v1::SYNC_CORE));
static_assert(SameAsProto(Kind::kUserEnter, v1::Event::kUserEnter, v1::USER_ENTER));
static_assert(SameAsProto(Kind::kUserExit, v1::Event::kUserExit, v1::USER_EXIT));
static_assert(SameAsProto(Kind::kCpumask, v1::Event::kCpumask, v1::CPUMASK));
static_assert(SameAsProto(Kind::kKernelFlush, v1::Event::kKernelFlush, v1::KERNEL_FLUSH));
static_assert(SameAsProto(Kind::kGuestMark, v1::Event::kGuestMark, v1::GUEST_MARK));

// "cr3_write", ...: the oneof member's name, from the proto's descriptor
// (so a kind added to the proto has its name); "other" if none.
const char* KindName(Kind k);

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
  uint64_t kernel_page;  // Linux: the struct page (address and physical_address 0)
};
struct GatherStartF {
  uint64_t mm, start, end, pending, gather;
};
struct GatherEndF {
  uint64_t mm, flushed_start, flushed_end, flush_tlb_gen, pending_seen, gather;
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
// Any kind, by field number: scalars as their varint, a repeated uint32
// (a CPU list) as a mask, strings and messages left out. Filled for kinds
// without a named member above (a new kind is read with Field<N>()).
inline constexpr int kGenericFields = 6;
struct GenericF {
  uint64_t f[kGenericFields];  // f[n - 1]: field n
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
    GenericF generic;
  };

  CEvent() { std::memset(static_cast<void*>(this), 0, sizeof(*this)); }

  // Field N (a generated k*FieldNumber) of a kind decoded generically.
  template <int N>
  uint64_t Field() const {
    static_assert(N >= 1 && N <= kGenericFields, "a named member is needed for this field");
    return generic.f[N - 1];
  }
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
