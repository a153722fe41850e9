#include "tlbflush.h"

#include "apic.h"
#include "cpu.h"
#include "events.h"
#include "probe.h"
#include "tlb.h"

struct mm init_mm = {1, 1, 0, 0};
struct tlb_state cpu_tlbstate[MAX_CPUS];
static uint64_t last_mm_ctx_id = 1;

void mm_init(struct mm* mm, struct aspace* as) {
  mm->ctx_id = __atomic_add_fetch(&last_mm_ctx_id, 1, __ATOMIC_RELAXED);
  mm->tlb_gen = 1;
  mm->cpumask = 0;
  mm->as = as;
}

uint64_t mm_cr3(const struct mm* mm) { return mm->as ? aspace_cr3(mm->as) : kernel_cr3(); }

void tlb_state_init_cpu(void) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  GUEST_ASSERT((read_cr3() & PTE_ADDR_MASK) == kernel_cr3());
  ts->loaded_mm = &init_mm;
  ts->loaded_mm_asid = 0;
  ts->is_lazy = 0;
  ts->ctxs[0].ctx_id = init_mm.ctx_id;
  ts->ctxs[0].tlb_gen = __atomic_load_n(&init_mm.tlb_gen, __ATOMIC_RELAXED);
}

static uint64_t cpu_bit(int cpu) { return 1ull << cpu; }

void switch_mm_irqs_off(struct mm* unused, struct mm* next) {
  int cpu = this_cpu();
  struct tlb_state* ts = &cpu_tlbstate[cpu];
  struct mm* prev = ts->loaded_mm;
  int was_lazy = ts->is_lazy;
  uint64_t next_tlb_gen;

  if (was_lazy) WRITE_ONCE(ts->is_lazy, 0);

  if (prev == next) {
    // Same mm: only a lazy CPU can have missed flushes (their IPIs were
    // skipped); it catches up if mm->tlb_gen moved on.
    if (!was_lazy) return;
    smp_mb();
    next_tlb_gen = __atomic_load_n(&next->tlb_gen, __ATOMIC_ACQUIRE);
    if (ts->ctxs[0].tlb_gen == next_tlb_gen) {
      event_emit(TLBSCOPE_EV_LAZY_EXIT, 0, next->ctx_id, 0, 0, 0);
      return;
    }
  } else {
    // Join next's cpumask before reading its tlb_gen: either this read
    // sees the initiator's new gen or the initiator sees this CPU (the
    // atomic or is the barrier). prev's bit stays set, as on x86: a
    // later flush_tlb_func for prev clears it.
    WRITE_ONCE(ts->loaded_mm, (struct mm*)0);  // LOADED_MM_SWITCHING
    if (next != &init_mm && !(READ_ONCE(next->cpumask) & cpu_bit(cpu))) {
      __atomic_or_fetch(&next->cpumask, cpu_bit(cpu), __ATOMIC_SEQ_CST);
    } else {
      smp_mb();
    }
    next_tlb_gen = __atomic_load_n(&next->tlb_gen, __ATOMIC_ACQUIRE);
    // choose_new_asid() without PCID: ASID 0, need_flush always.
  }
  ts->ctxs[0].ctx_id = next->ctx_id;
  ts->ctxs[0].tlb_gen = next_tlb_gen;
  write_cr3(mm_cr3(next));
  barrier();
  WRITE_ONCE(ts->loaded_mm, next);
  ts->loaded_mm_asid = 0;
  if (was_lazy) event_emit(TLBSCOPE_EV_LAZY_EXIT, 1, prev->ctx_id, 0, 0, 0);
}

void enter_lazy_tlb(struct mm* mm) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  if (ts->loaded_mm == &init_mm) return;
  WRITE_ONCE(ts->is_lazy, 1);
  event_emit(TLBSCOPE_EV_LAZY_ENTER, 0, ts->loaded_mm->ctx_id, 0, 0, 0);
}

void leave_mm(void) {
  struct tlb_state* ts = &cpu_tlbstate[this_cpu()];
  if (ts->loaded_mm == &init_mm) return;
  uint64_t flags = irq_save();
  switch_mm_irqs_off(0, &init_mm);
  restore_flags(flags);
}

// flush_tlb_info, plus the completion count the initiator waits on.
struct flush_info {
  struct mm* mm;
  uint64_t start, end;
  unsigned stride_shift;
  int freed_tables;
  uint64_t new_tlb_gen;
  int initiating_cpu;
  volatile uint32_t pending;
};

// Interrupts off (IPI handler, or the initiator with them off).
static void flush_tlb_func(struct flush_info* f) {
  int cpu = this_cpu();
  struct tlb_state* ts = &cpu_tlbstate[cpu];
  struct mm* loaded_mm = ts->loaded_mm;
  ts->flush_funcs++;

  // Left in the cpumask of an mm it no longer runs: trim it.
  if (f->mm != loaded_mm) {
    __atomic_and_fetch(&f->mm->cpumask, ~cpu_bit(cpu), __ATOMIC_SEQ_CST);
    return;
  }
  if (loaded_mm == &init_mm) return;

  if (ts->is_lazy) {
    // Lazy and the tables may be gone (freed_tables): drop them now.
    switch_mm_irqs_off(0, &init_mm);
    return;
  }

  uint64_t local_tlb_gen = ts->ctxs[0].tlb_gen;
  if (f->new_tlb_gen <= local_tlb_gen) return;  // already caught up

  uint64_t mm_tlb_gen = __atomic_load_n(&loaded_mm->tlb_gen, __ATOMIC_ACQUIRE);
  int full = 0;
  if (local_tlb_gen != mm_tlb_gen) {
    // Partial only if this request is the one step that brings the CPU
    // fully up to date; otherwise catch up all the way with a full flush.
    if (f->end != TLB_FLUSH_ALL && f->new_tlb_gen == local_tlb_gen + 1 &&
        f->new_tlb_gen == mm_tlb_gen) {
      for (uint64_t addr = f->start; addr < f->end; addr += 1ull << f->stride_shift) {
        invlpg(addr);
      }
    } else {
      full = 1;
      write_cr3(mm_cr3(loaded_mm));
    }
    ts->ctxs[0].tlb_gen = mm_tlb_gen;
  }
  event_emit6(TLBSCOPE_EV_FLUSH_FUNC, (uint16_t)full, loaded_mm->ctx_id, local_tlb_gen,
              ts->ctxs[0].tlb_gen, mm_tlb_gen, f->start, f->end);
}

static void flush_ipi(void* arg) {
  struct flush_info* f = arg;
  flush_tlb_func(f);
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
                            int freed_tables) {
  int cpu = this_cpu();
  struct flush_info f;
  // inc_mm_tlb_gen: the atomic is the barrier against switch_mm's read.
  f.new_tlb_gen = __atomic_add_fetch(&mm->tlb_gen, 1, __ATOMIC_SEQ_CST);
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
  f.pending = 0;

  uint64_t cpumask = __atomic_load_n(&mm->cpumask, __ATOMIC_SEQ_CST);
  uint64_t targets = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if ((int)c == cpu || !(cpumask & cpu_bit((int)c))) continue;
    // Freed page tables: every CPU, lazy or not (speculative walks).
    if (freed_tables || should_flush_tlb((int)c, &f)) targets |= cpu_bit((int)c);
  }
  int local = cpu_tlbstate[cpu].loaded_mm == mm;
  event_emit6(TLBSCOPE_EV_FLUSH_REQUEST, (uint16_t)(freed_tables ? 1 : 0), mm->ctx_id, start, end,
              stride_shift, f.new_tlb_gen, targets | (local ? cpu_bit(cpu) : 0));

  uint32_t n = 0;
  for (uint64_t m = targets; m; m &= m - 1) n++;
  f.pending = n;
  smp_mb();
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (targets & cpu_bit((int)c)) on_cpu_async((int)c, flush_ipi, &f);
  }
  uint64_t flags = irq_save();
  if (local) flush_tlb_func(&f);
  // Sleep until every target has run flush_tlb_func (each sends VEC_WAKE).
  while (__atomic_load_n(&f.pending, __ATOMIC_ACQUIRE)) {
    sti_hlt();
    cli();
  }
  restore_flags(flags);
  return targets | (local ? cpu_bit(cpu) : 0);
}
