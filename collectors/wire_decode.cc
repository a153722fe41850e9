#include "collectors/wire_decode.h"

#include <cstring>

#include "collectors/kind_table.h"

namespace tlbscope::collect {
namespace {

constexpr int kMaxField = 16;

// The scalar fields of one sub-message by number, plus the CPU list as a mask.
struct Fields {
  uint64_t f[kMaxField];
  CpuMask mask;
  bool boot;  // trap context: site_class == "boot"
};

using tracefile::SkipField;

void AddCpu(CpuMask& m, uint64_t cpu) {
  if (cpu < 64) m |= 1ull << cpu;
}

// `mask_field`: the number of the repeated uint32 CPU list (0: none);
// `string_field`: a string whose value "boot" sets Fields::boot (trap context).
bool ParseFields(const uint8_t* p, const uint8_t* end, uint32_t mask_field, uint32_t string_field,
                 Fields* out) {
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag)) return false;
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = tag & 7;
    if (num == 0) return false;
    if (wire == 0) {
      uint64_t v;
      if (!ReadVarint(p, end, &v)) return false;
      if (num == mask_field) {
        AddCpu(out->mask, v);
      } else if (num < kMaxField) {
        out->f[num] = v;
      }
      continue;
    }
    if (wire == 2 && (num == mask_field || num == string_field)) {
      uint64_t len;
      if (!ReadVarint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
      const uint8_t* q = p;
      p += len;
      if (num == string_field) {
        out->boot = len == 4 && q[0] == 'b' && q[1] == 'o' && q[2] == 'o' && q[3] == 't';
        continue;
      }
      while (q < p) {  // packed
        uint64_t v;
        if (!ReadVarint(q, p, &v)) return false;
        AddCpu(out->mask, v);
      }
      continue;
    }
    if (!SkipField(p, end, wire)) return false;
  }
  return true;
}

uint32_t U32(uint64_t v) { return static_cast<uint32_t>(v); }

// Field N of a sub-message (N: a generated k*FieldNumber, checked to fit).
template <int N>
uint64_t Get(const uint64_t* f) {
  static_assert(N > 0 && N < kMaxField, "raise kMaxField for this field number");
  return f[N];
}

// A kind by field number (any kind: see CEvent::generic).
void BuildGeneric(Kind k, uint32_t mask_field, const Fields& s, CEvent* e) {
  e->kind = k;
  for (int n = 1; n <= kGenericFields; ++n) e->generic.f[n - 1] = s.f[n];
  if (mask_field >= 1 && mask_field <= kGenericFields) e->generic.f[mask_field - 1] = s.mask;
}

// The named members of trapped instructions; false for other kinds.
bool BuildTrapped(Kind k, const Fields& s, CEvent* e) {
  const uint64_t* f = s.f;
  switch (k) {
    case Kind::kCr3Write:
      e->cr3.old_cr3 = Get<v1::Cr3Write::kOldCr3FieldNumber>(f);
      e->cr3.new_cr3 = Get<v1::Cr3Write::kNewCr3FieldNumber>(f);
      e->cr3.root = Get<v1::Cr3Write::kRootFieldNumber>(f);
      e->cr3.pcid = U32(Get<v1::Cr3Write::kPcidFieldNumber>(f));
      e->cr3.noflush = Get<v1::Cr3Write::kNoflushFieldNumber>(f);
      e->cr3.lam_u57 = Get<v1::Cr3Write::kLamU57FieldNumber>(f);
      e->cr3.lam_u48 = Get<v1::Cr3Write::kLamU48FieldNumber>(f);
      e->cr3.pcide = Get<v1::Cr3Write::kPcideFieldNumber>(f);
      break;
    case Kind::kInvlpg:
      e->invlpg.address = Get<v1::Invlpg::kLinearAddressFieldNumber>(f);
      break;
    case Kind::kInvpcid:
      e->invpcid.type = U32(Get<v1::Invpcid::kTypeFieldNumber>(f));
      e->invpcid.pcid = U32(Get<v1::Invpcid::kPcidFieldNumber>(f));
      e->invpcid.address = Get<v1::Invpcid::kLinearAddressFieldNumber>(f);
      e->invpcid.faulted = Get<v1::Invpcid::kFaultedFieldNumber>(f);
      break;
    default:
      return false;
  }
  return true;
}

// The named members of flush requests, their IPIs and acknowledgements; false for other kinds.
bool BuildFlush(Kind k, const Fields& s, CEvent* e) {
  const uint64_t* f = s.f;
  switch (k) {
    case Kind::kIpiSent:
      e->ipi_sent.targets = s.mask;
      e->ipi_sent.vector = U32(Get<v1::IpiSent::kVectorFieldNumber>(f));
      break;
    case Kind::kIpiReceived:
      e->ipi_received.source_cpu = U32(Get<v1::IpiReceived::kSourceCpuFieldNumber>(f));
      e->ipi_received.vector = U32(Get<v1::IpiReceived::kVectorFieldNumber>(f));
      break;
    case Kind::kFlushRequest:
      e->flush_request.mm = Get<v1::FlushRequest::kMmFieldNumber>(f);
      e->flush_request.start = Get<v1::FlushRequest::kStartFieldNumber>(f);
      e->flush_request.end = Get<v1::FlushRequest::kEndFieldNumber>(f);
      e->flush_request.stride_shift = U32(Get<v1::FlushRequest::kStrideShiftFieldNumber>(f));
      e->flush_request.freed_tables = Get<v1::FlushRequest::kFreedTablesFieldNumber>(f);
      e->flush_request.new_tlb_gen = Get<v1::FlushRequest::kNewTlbGenFieldNumber>(f);
      e->flush_request.targets = s.mask;
      break;
    case Kind::kFlushFunc:
      e->flush_func.mm = Get<v1::FlushFunc::kMmFieldNumber>(f);
      e->flush_func.local_gen_before = Get<v1::FlushFunc::kLocalGenBeforeFieldNumber>(f);
      e->flush_func.local_gen_after = Get<v1::FlushFunc::kLocalGenAfterFieldNumber>(f);
      e->flush_func.mm_gen = Get<v1::FlushFunc::kMmGenFieldNumber>(f);
      e->flush_func.full = Get<v1::FlushFunc::kFullFieldNumber>(f);
      e->flush_func.start = Get<v1::FlushFunc::kStartFieldNumber>(f);
      e->flush_func.end = Get<v1::FlushFunc::kEndFieldNumber>(f);
      e->flush_func.lazy_left = Get<v1::FlushFunc::kLazyLeftFieldNumber>(f);
      e->flush_func.not_loaded = Get<v1::FlushFunc::kNotLoadedFieldNumber>(f);
      e->flush_func.request_tlb_gen = Get<v1::FlushFunc::kRequestTlbGenFieldNumber>(f);
      break;
    case Kind::kFlushDone:
      e->flush_done.mm = Get<v1::FlushDone::kMmFieldNumber>(f);
      e->flush_done.tlb_gen = Get<v1::FlushDone::kTlbGenFieldNumber>(f);
      e->flush_done.acked = s.mask;
      break;
    default:
      return false;
  }
  return true;
}

// The named members of switches, lazy mode, returns to user, LAM and membarrier; false for other
// kinds.
bool BuildSwitch(Kind k, const Fields& s, CEvent* e) {
  const uint64_t* f = s.f;
  switch (k) {
    case Kind::kContextSwitch:
      e->cs.prev_mm = Get<v1::ContextSwitch::kPrevMmFieldNumber>(f);
      e->cs.next_mm = Get<v1::ContextSwitch::kNextMmFieldNumber>(f);
      e->cs.asid = U32(Get<v1::ContextSwitch::kAsidFieldNumber>(f));
      e->cs.need_flush = Get<v1::ContextSwitch::kNeedFlushFieldNumber>(f);
      e->cs.cr3 = Get<v1::ContextSwitch::kCr3FieldNumber>(f);
      e->cs.cpu_lam = Get<v1::ContextSwitch::kCpuLamFieldNumber>(f);
      e->cs.mm_lam = Get<v1::ContextSwitch::kMmLamFieldNumber>(f);
      e->cs.was_lazy = Get<v1::ContextSwitch::kWasLazyFieldNumber>(f);
      e->cs.reload = Get<v1::ContextSwitch::kReloadFieldNumber>(f);
      e->cs.raw = Get<v1::ContextSwitch::kRawFieldNumber>(f);
      break;
    case Kind::kLazyEnter:
    case Kind::kMembarrierRegister:
      e->mm_only.mm = Get<v1::MembarrierRegister::kMmFieldNumber>(f);
      break;
    case Kind::kLazyExit:
      e->lazy_exit.mm = Get<v1::LazyExit::kMmFieldNumber>(f);
      e->lazy_exit.flushed = Get<v1::LazyExit::kFlushedFieldNumber>(f);
      break;
    case Kind::kLamSet:
      e->lam_set.mm = Get<v1::LamSet::kMmFieldNumber>(f);
      e->lam_set.lam_cr3_bits = Get<v1::LamSet::kLamCr3BitsFieldNumber>(f);
      e->lam_set.untag_mask = Get<v1::LamSet::kUntagMaskFieldNumber>(f);
      break;
    case Kind::kSyncCore:
      e->sync_core.mm = Get<v1::SyncCore::kMmFieldNumber>(f);
      e->sync_core.reason = U32(Get<v1::SyncCore::kReasonFieldNumber>(f));
      break;
    case Kind::kUserEnter:
      e->user_enter.mm = Get<v1::UserEnter::kMmFieldNumber>(f);
      e->user_enter.local_gen = Get<v1::UserEnter::kLocalGenFieldNumber>(f);
      e->user_enter.mm_gen = Get<v1::UserEnter::kMmGenFieldNumber>(f);
      e->user_enter.cpu_lam = Get<v1::UserEnter::kCpuLamFieldNumber>(f);
      break;
    case Kind::kUserExit:
      e->user_exit.mm = Get<v1::UserExit::kMmFieldNumber>(f);
      e->user_exit.vector = U32(Get<v1::UserExit::kVectorFieldNumber>(f));
      break;
    case Kind::kCpumask:
      e->cpumask.mm = Get<v1::CpumaskChange::kMmFieldNumber>(f);
      e->cpumask.cpus = s.mask;
      e->cpumask.cpu = U32(Get<v1::CpumaskChange::kCpuFieldNumber>(f));
      e->cpumask.set = Get<v1::CpumaskChange::kSetFieldNumber>(f);
      break;
    default:
      return false;
  }
  return true;
}

// The named members of frees, gathers, stale reads and vCPU states; false for other kinds.
bool BuildFree(Kind k, const Fields& s, CEvent* e) {
  const uint64_t* f = s.f;
  switch (k) {
    case Kind::kPageTableFree:
      e->pt_free.mm = Get<v1::PageTableFree::kMmFieldNumber>(f);
      e->pt_free.table_address = Get<v1::PageTableFree::kTableAddressFieldNumber>(f);
      e->pt_free.level = U32(Get<v1::PageTableFree::kLevelFieldNumber>(f));
      e->pt_free.covering_tlb_gen = Get<v1::PageTableFree::kCoveringTlbGenFieldNumber>(f);
      break;
    case Kind::kStaleRead:
      e->stale.mm = Get<v1::StaleRead::kMmFieldNumber>(f);
      e->stale.address = Get<v1::StaleRead::kAddressFieldNumber>(f);
      e->stale.expected = Get<v1::StaleRead::kExpectedFieldNumber>(f);
      e->stale.observed = Get<v1::StaleRead::kObservedFieldNumber>(f);
      break;
    case Kind::kVcpuState:
      e->vcpu_state.state = U32(Get<v1::VcpuState::kStateFieldNumber>(f));
      break;
    case Kind::kPageFree:
      e->page_free.mm = Get<v1::PageFree::kMmFieldNumber>(f);
      e->page_free.address = Get<v1::PageFree::kAddressFieldNumber>(f);
      e->page_free.physical_address = Get<v1::PageFree::kPhysicalAddressFieldNumber>(f);
      e->page_free.covering_tlb_gen = Get<v1::PageFree::kCoveringTlbGenFieldNumber>(f);
      e->page_free.kernel_page = Get<v1::PageFree::kKernelPageFieldNumber>(f);
      break;
    case Kind::kGatherStart:
      e->gather_start.mm = Get<v1::GatherStart::kMmFieldNumber>(f);
      e->gather_start.start = Get<v1::GatherStart::kStartFieldNumber>(f);
      e->gather_start.end = Get<v1::GatherStart::kEndFieldNumber>(f);
      e->gather_start.pending = Get<v1::GatherStart::kPendingFieldNumber>(f);
      e->gather_start.gather = Get<v1::GatherStart::kGatherFieldNumber>(f);
      break;
    case Kind::kGatherEnd:
      e->gather_end.mm = Get<v1::GatherEnd::kMmFieldNumber>(f);
      e->gather_end.flushed_start = Get<v1::GatherEnd::kFlushedStartFieldNumber>(f);
      e->gather_end.flushed_end = Get<v1::GatherEnd::kFlushedEndFieldNumber>(f);
      e->gather_end.flush_tlb_gen = Get<v1::GatherEnd::kFlushTlbGenFieldNumber>(f);
      e->gather_end.levels = U32(Get<v1::GatherEnd::kLevelsFieldNumber>(f));
      e->gather_end.pending_seen = Get<v1::GatherEnd::kPendingSeenFieldNumber>(f);
      e->gather_end.nested = Get<v1::GatherEnd::kNestedFieldNumber>(f);
      e->gather_end.freed_tables = Get<v1::GatherEnd::kFreedTablesFieldNumber>(f);
      e->gather_end.own_freed_tables = Get<v1::GatherEnd::kOwnFreedTablesFieldNumber>(f);
      e->gather_end.gather = Get<v1::GatherEnd::kGatherFieldNumber>(f);
      break;
    default:
      return false;
  }
  return true;
}

void Build(Kind k, uint32_t mask_field, const Fields& s, CEvent* e) {
  e->kind = k;
  if (BuildTrapped(k, s, e) || BuildFlush(k, s, e) || BuildSwitch(k, s, e) || BuildFree(k, s, e)) {
    return;
  }
  BuildGeneric(k, mask_field, s, e);  // a kind without a named member
}

template <bool kNamed>
bool Decode(const uint8_t* p, size_t n, CEvent* out) {
  const uint8_t* end = p + n;
  CEvent& e = *out;
  // Zeroed by a fixed-size copy (inlined vector stores; a memset here
  // compiled to `rep stos`, a third of the decode time).
  static const CEvent kZero;
  std::memcpy(static_cast<void*>(&e), &kZero, sizeof(CEvent));
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(p, end, &tag)) return false;
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = tag & 7;
    if (num == 0) return false;
    if (wire == 0 && num <= v1::Event::kGuestTscFieldNumber) {
      uint64_t v;
      if (!ReadVarint(p, end, &v)) return false;
      switch (num) {
        case v1::Event::kVcpuFieldNumber:
          e.vcpu = static_cast<uint32_t>(v);
          break;
        case v1::Event::kSequenceFieldNumber:
          e.seq = v;
          break;
        case v1::Event::kVcpuSequenceFieldNumber:
          e.vcpu_seq = v;
          break;
        case v1::Event::kHostTimeNsFieldNumber:
          e.host_ns = static_cast<int64_t>(v);
          break;
        case v1::Event::kGuestTscFieldNumber:
          e.guest_tsc = v;
          break;
      }
      continue;
    }
    const KindInfo* kind = num >= kFirstKind ? KindInfoOf(num) : nullptr;
    if (wire == 2 && (num == v1::Event::kTrapFieldNumber || kind != nullptr)) {
      uint64_t len;
      if (!ReadVarint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
      const uint8_t* q = p;
      p += len;
      static const Fields kNone{};
      Fields s;
      std::memcpy(&s, &kNone, sizeof s);
      if (num == v1::Event::kTrapFieldNumber) {
        if (!ParseFields(q, p, 0, v1::TrapContext::kSiteClassFieldNumber, &s)) return false;
        e.rip = Get<v1::TrapContext::kRipFieldNumber>(s.f);
        e.boot_site = s.boot;
        continue;
      }
      Kind k = static_cast<Kind>(num);
      if (k == Kind::kGuestLog) {
        e.kind = k;
        continue;
      }
      if (!ParseFields(q, p, kind->mask_field, 0, &s)) return false;
      if constexpr (kNamed) {
        Build(k, kind->mask_field, s, &e);
      } else {
        BuildGeneric(k, kind->mask_field, s, &e);
      }
      continue;
    }
    if (!SkipField(p, end, wire)) return false;
  }
  return true;
}

}  // namespace

bool DecodeEvent(const uint8_t* p, size_t n, CEvent* out) { return Decode<true>(p, n, out); }

bool DecodeEventGeneric(const uint8_t* p, size_t n, CEvent* out) {
  return Decode<false>(p, n, out);
}

}  // namespace tlbscope::collect
