// scenario=invpcid: INVPCID of all four types on every CPU, each made
// observable the way selftest's invlpg check is. The development host's
// CPU has no INVPCID: there each one surfaces in the VMM as an emulation
// failure that the VMM emulates. CPUID is reported, never used to skip it.
#include <stddef.h>

#include "console.h"
#include "cpu.h"
#include "mm.h"
#include "probe.h"
#include "scenarios.h"
#include "smp.h"
#include "tlb.h"
#include "user.h"

#define INVPCID_TYPES 4
#define VAL_OLD 0x3333000033330003ul
#define VAL_NEW 0x4444000044440004ul

static const char* const kResultNames[INVPCID_TYPES] = {"invpcid_type0", "invpcid_type1",
                                                        "invpcid_type2", "invpcid_type3"};
static const char* const kTypeNames[INVPCID_TYPES] = {"address", "single context", "all + globals",
                                                      "all but globals"};

// One CPU's four runs (index = INVPCID type). The descriptor sits 32 bytes
// into a 64-byte-aligned slot: 16-byte aligned, so it never straddles a
// page, and never at a page's first byte.
struct invpcid_cpu {
  uint64_t first[INVPCID_TYPES];  // the task's read before the PTE change
  struct invpcid_desc desc;
  uint64_t before[INVPCID_TYPES];  // after the PTE change, before INVPCID
  uint64_t after[INVPCID_TYPES];   // after INVPCID: must be VAL_NEW
  uint32_t type;                   // the run in progress
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct invpcid_cpu, desc) == 32, "INVPCID descriptor placement");

static struct invpcid_cpu results[MAX_CPUS];
static struct aspace as_probe;
static uint64_t *old_page, *new_page;

// CPUID.7.0:EBX[10] (INVPCID), or -1 without leaf 7. Reported only.
static int cpuid_invpcid(void) {
  uint32_t a, b, c, d;
  cpuid(0, 0, &a, &b, &c, &d);
  if (a < 7) return -1;
  cpuid(7, 0, &a, &b, &c, &d);
  return (int)((b >> 10) & 1);
}

// uprog_read3 yields after its first read (repoint the PTE, no flush) and
// after its second (INVPCID of this run's type, with the task's CR3 live);
// its third read is its exit value.
static uint64_t invpcid_yield(struct user_run* run, uint32_t n, uint64_t value) {
  struct invpcid_cpu* r = run->ctx;
  uint32_t t = r->type;
  if (n == 1) {
    r->first[t] = value;
    aspace_map(run->as, USER_PROBE_VA, (uintptr_t)new_page, PTE_U | PTE_W);
  } else if (n == 2) {
    r->before[t] = value;
    r->desc.pcid = 0;
    r->desc.addr = USER_PROBE_VA;
    invpcid(t, &r->desc);
  }
  return 0;
}

static void invpcid_on_cpu(void* unused) {
  struct invpcid_cpu* r = &results[this_cpu()];
  for (uint32_t t = 0; t < INVPCID_TYPES; t++) {
    r->type = t;
    // as_probe is live on no CPU now, and user_run's CR3 load drops any
    // old translation (no PCID), so a plain store is enough here.
    aspace_map(&as_probe, USER_PROBE_VA, (uintptr_t)old_page, PTE_U | PTE_W);
    struct user_run run = {&as_probe, invpcid_yield, r, 0};
    r->after[t] = user_run(&run, uprog_read3, USER_PROBE_VA);
  }
}

static void report_type(uint32_t t, int cpuid_bit) {
  uint32_t cpus = 0, good = 0, stale = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!READ_ONCE(percpus[c].online)) continue;
    struct invpcid_cpu* r = &results[c];
    int ok = r->first[t] == VAL_OLD && r->after[t] == VAL_NEW;
    if (!ok) {
      printf("invpcid: type %u on cpu %u read 0x%lx, then 0x%lx, then 0x%lx after INVPCID\n", t, c,
             r->first[t], r->before[t], r->after[t]);
    }
    cpus++;
    good += ok;
    stale += r->before[t] == VAL_OLD;
  }
  report(kResultNames[t], good == cpus,
         "type %u (%s): %u of %u CPUs read the new page; stale before on %u; "
         "CPUID.7.0:EBX[10]=%d",
         t, kTypeNames[t], good, cpus, stale, cpuid_bit);
}

void scenario_invpcid(void) {
  int cpuid_bit = cpuid_invpcid();
  printf(
      "invpcid: CPUID.7.0:EBX[10] = %d (%s); executing INVPCID types 0-3 anyway, "
      "descriptors at %p + %u * cpu (pcid 0, addr 0x%lx)\n",
      cpuid_bit, cpuid_bit == 1 ? "advertised" : "not advertised", &results[0].desc,
      (uint32_t)sizeof(results[0]), USER_PROBE_VA);
  aspace_init(&as_probe);
  old_page = page_alloc();
  new_page = page_alloc();
  *old_page = VAL_OLD;
  *new_page = VAL_NEW;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (READ_ONCE(percpus[c].online)) on_cpu((int)c, invpcid_on_cpu, 0);
  }
  for (uint32_t t = 0; t < INVPCID_TYPES; t++) report_type(t, cpuid_bit);
}
