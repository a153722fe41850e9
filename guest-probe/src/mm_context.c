// The mm_struct's identity and registrations: init_mm, context ids
// (mm->context.ctx_id), the CR3 of an mm, membarrier SYNC_CORE.
#include "events.h"
#include "mm.h"
#include "tlbflush.h"

struct mm init_mm = {1, 1, 0, 0, 0, ~0ull, 0, 0, SPINLOCK_INIT};
static uint64_t last_mm_ctx_id = 1;

void mm_init(struct mm* mm, struct aspace* as) {
  mm->ctx_id = __atomic_add_fetch(&last_mm_ctx_id, 1, __ATOMIC_RELAXED);
  mm->tlb_gen = 1;
  mm->cpumask = 0;
  mm->as = as;
  mm->lam_cr3_mask = 0;
  mm->untag_mask = ~0ull;
  mm->tlb_flush_pending = 0;
  mm->membarrier_sync_core = 0;
  mm->page_table_lock.locked = 0;
  mm->page_table_lock.owner = -1;
}

uint64_t mm_cr3(const struct mm* mm) { return mm->as ? aspace_cr3(mm->as) : kernel_cr3(); }

void mm_register_sync_core(struct mm* mm) {
  WRITE_ONCE(mm->membarrier_sync_core, 1);
  event_emit(TLBSCOPE_EV_MEMBARRIER_REGISTER, 0, mm->ctx_id, 0, 0, 0);
}
