#include "tlbflush.h"

#include "apic.h"
#include "cpu.h"
#include "events.h"
#include "probe.h"
#include "tlb.h"

struct tlb_state cpu_tlbstate[MAX_CPUS];
struct tlb_bugs tlb_bugs;
volatile uint32_t flush_waiting, flush_returned;
int tlb_pcid_enabled;

// CPUID once per CPU at bring-up (CPUID may exit to the hypervisor; every
// switch asks).
static int lam_present;

static int cpuid_lam(void) {
  uint32_t a, b, c, d;
  cpuid(0, 0, &a, &b, &c, &d);
  if (a < 7) return 0;
  cpuid(7, 1, &a, &b, &c, &d);
  return (a >> 26) & 1;
}

int cpu_has_lam(void) { return lam_present; }

static int cpu_has_pcid(void) {
  uint32_t a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  return (c >> 17) & 1;
}

void tlb_state_init_cpu(void) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  GUEST_ASSERT((read_cr3() & PTE_ADDR_MASK) == kernel_cr3());
  // CR3's PCID is 0 here (the boot load), as CR4.PCIDE requires.
  lam_present = cpuid_lam();
  if (cpu_has_pcid()) {
    write_cr4(read_cr4() | X86_CR4_PCIDE);
    tlb_pcid_enabled = 1;
  }
  ts->loaded_mm = &init_mm;
  ts->loaded_mm_asid = 0;
  ts->next_asid = 1;
  ts->is_lazy = 0;
  for (int i = 0; i < TLB_NR_DYN_ASIDS; i++) ts->ctxs[i].ctx_id = 0;
  ts->ctxs[0].ctx_id = init_mm.ctx_id;
  ts->ctxs[0].tlb_gen = __atomic_load_n(&init_mm.tlb_gen, __ATOMIC_RELAXED);
  ts->lam = 0;
}

// kern_pcid(): PCID 0 stays for the non-PCID world (boot, raw spaces).
static uint64_t build_cr3(const struct mm* mm, uint16_t asid, uint64_t lam, int noflush) {
  uint64_t cr3 = mm_cr3(mm) | (cpu_has_lam() ? lam : 0);
  if (!tlb_pcid_enabled) return cr3;
  return cr3 | (uint64_t)(asid + 1) | (noflush ? X86_CR3_PCID_NOFLUSH : 0);
}

// Linux's choose_new_asid(): reuse the slot that still holds next, or
// take the next one round robin (its old contents must be flushed).
static void choose_new_asid(struct tlb_state* ts, struct mm* next, uint64_t next_tlb_gen,
                            uint16_t* new_asid, int* need_flush) {
  if (!tlb_pcid_enabled) {
    *new_asid = 0;
    *need_flush = 1;
    return;
  }
  for (uint16_t asid = 0; asid < TLB_NR_DYN_ASIDS; asid++) {
    if (ts->ctxs[asid].ctx_id != next->ctx_id) continue;
    *new_asid = asid;
    *need_flush = ts->ctxs[asid].tlb_gen < next_tlb_gen;
    return;
  }
  *new_asid = ts->next_asid++;
  if (*new_asid >= TLB_NR_DYN_ASIDS) {
    *new_asid = 0;
    ts->next_asid = 1;
  }
  *need_flush = 1;
}

static uint64_t cpu_bit(int cpu) { return 1ull << cpu; }

static void cpumask_set(struct mm* mm, int cpu) {
  uint64_t after = __atomic_or_fetch(&mm->cpumask, cpu_bit(cpu), __ATOMIC_SEQ_CST);
  event_emit(TLBSCOPE_EV_CPUMASK, 1, mm->ctx_id, after, (uint64_t)cpu, 0);
}

static void cpumask_clear(struct mm* mm, int cpu) {
  uint64_t after = __atomic_and_fetch(&mm->cpumask, ~cpu_bit(cpu), __ATOMIC_SEQ_CST);
  event_emit(TLBSCOPE_EV_CPUMASK, 0, mm->ctx_id, after, (uint64_t)cpu, 0);
}

void sync_core_for(struct mm* mm, uint32_t reason) {
  event_emit(TLBSCOPE_EV_SYNC_CORE, 0, mm->ctx_id, reason, 0, 0);
  iret_to_self();
  cpu_tlbstate[this_cpu()].need_sync_core = 0;
}

// A lazy CPU returns to `mm` without writing CR3. membarrier's SYNC_CORE
// needs a core serializing instruction before user mode, and a CR3 write
// would have been one (switch_mm_irqs_off's comment in Linux).
static void unlazy_no_cr3(struct tlb_state* ts, struct mm* mm) {
  if (!mm->membarrier_sync_core) return;
  ts->need_sync_core = 1;
  // The bug: "a skipped flush IPI means the unlazy flushes, and a CR3
  // write serializes" -- but that flush already happened, or never will.
  if (tlb_bugs.unlazy_skip_sync && ts->flush_skipped) return;
  sync_core_for(mm, 1);
}

void switch_mm_irqs_off(struct mm* unused, struct mm* next) {
  int cpu = this_cpu();
  struct tlb_state* ts = &cpu_tlbstate[cpu];
  struct mm* prev = ts->loaded_mm;
  uint16_t prev_asid = ts->loaded_mm_asid;
  int was_lazy = ts->is_lazy;
  uint64_t next_tlb_gen;
  uint64_t next_lam = READ_ONCE(next->lam_cr3_mask);
  uint16_t new_asid;
  int need_flush;

  if (was_lazy) {
    WRITE_ONCE(ts->unlazying, 1);
    smp_mb();  // seen by check_free no later than is_lazy's clearing
    WRITE_ONCE(ts->is_lazy, 0);
  }

  if (prev == next) {
    // Same mm: only a lazy CPU can have missed flushes (their IPIs were
    // skipped); it catches up if mm->tlb_gen moved on. Its LAM may be
    // stale too (another thread enabled LAM meanwhile): seed 002's fix.
    if (!was_lazy) return;
    smp_mb();
    next_tlb_gen = __atomic_load_n(&next->tlb_gen, __ATOMIC_ACQUIRE);
    int need_lam_update = ts->lam != next_lam && !tlb_bugs.lam_skip_on_unlazy;
    if (ts->ctxs[prev_asid].tlb_gen == next_tlb_gen && !need_lam_update) {
      event_emit6(TLBSCOPE_EV_CONTEXT_SWITCH, TLBSCOPE_CS_WAS_LAZY, prev->ctx_id, next->ctx_id, 0,
                  prev_asid, ts->lam, next_lam);
      event_emit(TLBSCOPE_EV_LAZY_EXIT, 0, next->ctx_id, 0, 0, 0);
      unlazy_no_cr3(ts, next);
      WRITE_ONCE(ts->unlazying, 0);
      return;
    }
    new_asid = prev_asid;
    need_flush = ts->ctxs[prev_asid].tlb_gen != next_tlb_gen;  // else only LAM changed
  } else {
    // Join next's cpumask before reading its tlb_gen: either this read
    // sees the initiator's new gen or the initiator sees this CPU (the
    // atomic or is the barrier). prev's bit stays set, as on x86: a
    // later flush_tlb_func for prev clears it.
    WRITE_ONCE(ts->loaded_mm, (struct mm*)0);  // LOADED_MM_SWITCHING
    if (next != &init_mm && !(READ_ONCE(next->cpumask) & cpu_bit(cpu))) {
      cpumask_set(next, cpu);
    } else {
      smp_mb();
    }
    next_tlb_gen = __atomic_load_n(&next->tlb_gen, __ATOMIC_ACQUIRE);
    choose_new_asid(ts, next, next_tlb_gen, &new_asid, &need_flush);
  }
  if (need_flush) {
    ts->ctxs[new_asid].ctx_id = next->ctx_id;
    ts->ctxs[new_asid].tlb_gen = next_tlb_gen;
  }
  ts->lam = next_lam;
  // Without LAM in the CPU the bits would make the CR3 write #GP: they
  // stay software state (ts->lam), as the events say. Without PCID every
  // write flushes, so need_flush is always set.
  uint64_t cr3 = build_cr3(next, new_asid, next_lam, !need_flush);
  uint16_t flags =
      (need_flush ? TLBSCOPE_CS_NEED_FLUSH : 0) | (was_lazy ? TLBSCOPE_CS_WAS_LAZY : 0);
  write_cr3_mm(cr3, flags, prev->ctx_id, next->ctx_id, new_asid, ts->lam, next_lam);
  ts->need_sync_core = 0;  // a CR3 write serializes
  barrier();
  WRITE_ONCE(ts->loaded_mm, next);
  ts->loaded_mm_asid = new_asid;
  if (was_lazy) event_emit(TLBSCOPE_EV_LAZY_EXIT, need_flush, prev->ctx_id, 0, 0, 0);
  WRITE_ONCE(ts->unlazying, 0);
}

void enter_lazy_tlb(struct mm* mm) {
  int cpu = this_cpu();
  struct tlb_state* ts = &cpu_tlbstate[cpu];
  if (ts->loaded_mm == &init_mm) return;
  WRITE_ONCE(ts->is_lazy, 1);
  event_emit(TLBSCOPE_EV_LAZY_ENTER, 0, ts->loaded_mm->ctx_id, 0, 0, 0);
  // The bug (seed 000): stop taking this mm's flush IPIs by leaving its
  // cpumask, but keep its page tables loaded.
  if (tlb_bugs.lazy_drop_cpumask) cpumask_clear(ts->loaded_mm, cpu);
}

void leave_mm(void) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  if (ts->loaded_mm == &init_mm) return;
  uint64_t flags = irq_save();
  switch_mm_irqs_off(0, &init_mm);
  restore_flags(flags);
}

void mm_enable_lam(struct mm* mm) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  WRITE_ONCE(mm->untag_mask, ~(0x3full << 57));
  WRITE_ONCE(mm->lam_cr3_mask, X86_CR3_LAM_U57);
  event_emit(TLBSCOPE_EV_LAM_SET, 0, mm->ctx_id, mm->lam_cr3_mask, mm->untag_mask, 0);
  if (ts->loaded_mm != mm) return;
  uint64_t flags = irq_save();
  ts->lam = mm->lam_cr3_mask;
  if (cpu_has_lam()) {
    write_cr3_mm(build_cr3(mm, ts->loaded_mm_asid, ts->lam, 1), TLBSCOPE_CS_RELOAD, mm->ctx_id,
                 mm->ctx_id, ts->loaded_mm_asid, ts->lam, mm->lam_cr3_mask);
  }
  restore_flags(flags);
}

uint64_t current_mm_id(void) {
  struct mm* mm = cpu_tlbstate[this_cpu()].loaded_mm;
  if (!mm || (read_cr3() & PTE_ADDR_MASK) != (mm_cr3(mm) & PTE_ADDR_MASK)) return 0;
  return mm->ctx_id;
}

void tlb_user_enter(void) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  struct mm* mm = ts->loaded_mm;
  uint64_t id = current_mm_id();
  event_emit(TLBSCOPE_EV_USER_ENTER, 0, id, tlb_local_gen(ts),
             mm ? __atomic_load_n(&mm->tlb_gen, __ATOMIC_ACQUIRE) : 0, ts->lam);
  if (!id) return;
  if (ts->lam != READ_ONCE(mm->lam_cr3_mask)) ts->lam_mismatch_entries++;
  if (ts->need_sync_core) {
    ts->unserialized_entries++;
    ts->need_sync_core = 0;
  }
}

// flush_tlb_info, plus the completion count the initiator waits on.
struct flush_info {
  struct mm* mm;
  uint64_t start, end;
  unsigned stride_shift;
  int freed_tables;
  uint64_t new_tlb_gen;
  int initiating_cpu;
  int async;  // the async-flush bug: nobody waits, nothing to count
  volatile uint32_t pending;
};

static void emit_flush_func(uint16_t flags, struct mm* mm, uint64_t before, uint64_t after,
                            uint64_t mm_gen, const struct flush_info* f) {
  event_emit_aux(TLBSCOPE_EV_FLUSH_FUNC, flags, (uint32_t)f->new_tlb_gen, mm->ctx_id, before, after,
                 mm_gen, f->start, f->end);
}

// Interrupts off (IPI handler, or the initiator with them off).
static void flush_tlb_func(struct flush_info* f) {
  int cpu = this_cpu();
  struct tlb_state* ts = &cpu_tlbstate[cpu];
  struct mm* loaded_mm = ts->loaded_mm;
  uint64_t local_tlb_gen = tlb_local_gen(ts);
  ts->flush_funcs++;

  // Left in the cpumask of an mm it no longer runs: trim it.
  if (f->mm != loaded_mm) {
    cpumask_clear(f->mm, cpu);
    emit_flush_func(TLBSCOPE_FF_NOT_LOADED, f->mm, 0, 0, READ_ONCE(f->mm->tlb_gen), f);
    return;
  }
  if (ts->is_lazy) {
    // Lazy and the tables may be gone (freed_tables): drop them now.
    switch_mm_irqs_off(0, &init_mm);
    emit_flush_func(TLBSCOPE_FF_LAZY_LEFT, f->mm, local_tlb_gen, local_tlb_gen,
                    READ_ONCE(f->mm->tlb_gen), f);
    return;
  }

  uint64_t mm_tlb_gen = __atomic_load_n(&loaded_mm->tlb_gen, __ATOMIC_ACQUIRE);
  if (f->new_tlb_gen <= local_tlb_gen || local_tlb_gen == mm_tlb_gen) {
    emit_flush_func(0, loaded_mm, local_tlb_gen, local_tlb_gen, mm_tlb_gen, f);
    return;  // already caught up
  }
  // Partial only if this request is the one step that brings the CPU
  // fully up to date; otherwise catch up all the way with a full flush.
  uint16_t full = 0;
  if (f->end != TLB_FLUSH_ALL && f->new_tlb_gen == local_tlb_gen + 1 &&
      f->new_tlb_gen == mm_tlb_gen) {
    for (uint64_t addr = f->start; addr < f->end; addr += 1ull << f->stride_shift) {
      invlpg(addr);
    }
  } else {
    // flush_tlb_local(): reload CR3 without NOFLUSH (this PCID only).
    full = TLBSCOPE_FF_FULL;
    write_cr3_mm(build_cr3(loaded_mm, ts->loaded_mm_asid, ts->lam, 0),
                 TLBSCOPE_CS_NEED_FLUSH | TLBSCOPE_CS_RELOAD, loaded_mm->ctx_id, loaded_mm->ctx_id,
                 ts->loaded_mm_asid, ts->lam, READ_ONCE(loaded_mm->lam_cr3_mask));
    ts->need_sync_core = 0;
  }
  ts->ctxs[ts->loaded_mm_asid].tlb_gen = mm_tlb_gen;
  emit_flush_func(full, loaded_mm, local_tlb_gen, mm_tlb_gen, mm_tlb_gen, f);
}

// The async-flush bug's "inlined" flush info: a copy per target, since the
// initiator's frame is gone by the time the target runs.
static struct flush_info async_copies[MAX_CPUS];

static void flush_ipi(void* arg) {
  struct flush_info* f = arg;
  flush_tlb_func(f);
  if (f->async) return;
  int initiator = f->initiating_cpu;
  // The initiator may free f (its stack frame) once pending reaches 0.
  __atomic_sub_fetch(&f->pending, 1, __ATOMIC_RELEASE);
  apic_send_ipi(percpus[initiator].apic_id, VEC_WAKE);
}

// should_flush_tlb() for a remote CPU.
static int should_flush_tlb(int cpu, const struct flush_info* f) {
  smp_mb();
  if (READ_ONCE(cpu_tlbstate[cpu].is_lazy)) return 0;  // flushes at its next switch
  struct mm* loaded = READ_ONCE(cpu_tlbstate[cpu].loaded_mm);
  return loaded == 0 || loaded == f->mm;  // switching: assume the worst
}

uint64_t flush_tlb_mm_range(struct mm* mm, uint64_t start, uint64_t end, unsigned stride_shift,
                            int freed_tables, uint64_t* new_gen) {
  int cpu = this_cpu();
  struct flush_info f;
  // inc_mm_tlb_gen: the atomic is the barrier against switch_mm's read.
  f.new_tlb_gen = __atomic_add_fetch(&mm->tlb_gen, 1, __ATOMIC_SEQ_CST);
  if (new_gen) *new_gen = f.new_tlb_gen;
  if (end != TLB_FLUSH_ALL && ((end - start) >> stride_shift) > TLB_SINGLE_PAGE_FLUSH_CEILING) {
    start = 0;
    end = TLB_FLUSH_ALL;
  }
  f.mm = mm;
  f.start = start;
  f.end = end;
  f.stride_shift = stride_shift;
  f.freed_tables = freed_tables;
  f.initiating_cpu = cpu;
  f.async = tlb_bugs.async_flush;
  f.pending = 0;

  uint64_t cpumask = __atomic_load_n(&mm->cpumask, __ATOMIC_SEQ_CST);
  uint64_t targets = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if ((int)c == cpu || !(cpumask & cpu_bit((int)c))) continue;
    // Freed page tables: every CPU, lazy or not (speculative walks).
    if (freed_tables || should_flush_tlb((int)c, &f)) {
      targets |= cpu_bit((int)c);
    } else {
      WRITE_ONCE(cpu_tlbstate[c].flush_skipped, 1);
    }
  }
  int local = cpu_tlbstate[cpu].loaded_mm == mm;
  uint64_t asked = targets | (local ? cpu_bit(cpu) : 0);
  event_emit6(TLBSCOPE_EV_FLUSH_REQUEST, (uint16_t)(freed_tables ? 1 : 0), mm->ctx_id, start, end,
              stride_shift, f.new_tlb_gen, asked);

  uint32_t n = 0;
  for (uint64_t m = targets; m; m &= m - 1) n++;
  f.pending = n;
  smp_mb();
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!(targets & cpu_bit((int)c))) continue;
    if (f.async) {
      async_copies[c] = f;
      on_cpu_async((int)c, flush_ipi, &async_copies[c]);
    } else {
      on_cpu_async((int)c, flush_ipi, &f);
    }
  }
  uint64_t flags = irq_save();
  if (local) flush_tlb_func(&f);
  if (!f.async) {
    // Sleep until every target has run flush_tlb_func (each sends VEC_WAKE).
    __atomic_add_fetch(&flush_waiting, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&f.pending, __ATOMIC_ACQUIRE)) {
      sti_hlt();
      cli();
    }
  }
  restore_flags(flags);
  uint64_t acked = f.async ? (local ? cpu_bit(cpu) : 0) : asked;
  event_emit(TLBSCOPE_EV_FLUSH_DONE, 0, mm->ctx_id, f.new_tlb_gen, acked, 0);
  __atomic_add_fetch(&flush_returned, 1, __ATOMIC_SEQ_CST);
  return asked;
}
