#include "tlb.h"

#include "console.h"
#include "cpu.h"
#include "probe.h"
#include "smp.h"

// Runs on the CPU whose counts it sends, from its VEC_CALL handler (or
// directly on the BSP). That CPU is inside this call, so it has finished
// every earlier stub call (including user_run()'s CR3 write back to the
// kernel tables) and makes none while sending.
static void send_own_counts(void* arg) {
  struct tlb_counts* sent = arg;
  *sent = this_percpu()->tlb;
  probe_tlb_counts(sent);
}

void tlb_report_counts(void) {
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!READ_ONCE(percpus[c].online)) continue;
    struct tlb_counts sent;
    on_cpu((int)c, send_own_counts, &sent);
    printf("TLB_COUNTS cpu %u apic %u: cr3 %lu invlpg %lu invpcid %lu\n", c, percpus[c].apic_id,
           sent.cr3_writes, sent.invlpgs, sent.invpcids);
  }
}
