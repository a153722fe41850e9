// Linked (with -g) into fake_kernel.elf: one object of each struct so the
// compiler emits their DWARF.
#include "fake_kernel_types.h"
struct mm_struct fake_mm;
struct tlb_state cpu_tlbstate;
struct tlb_state_shared cpu_tlbstate_shared;
struct flush_tlb_info fake_info;
struct mmu_gather fake_gather;
enum fake_membarrier_state fake_membarrier;
// Not named system_state: a test opts into the boot-state check by adding
// that symbol where it wants it.
enum system_states fake_system_state;
struct page fake_page;
struct alt_instr fake_alt;
void _start(void) {}
