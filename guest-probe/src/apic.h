// Local APIC access: x2APIC MSRs when CPUID.1:ECX[21] says so (no MMIO
// exits), xAPIC MMIO at 0xfee00000 otherwise (e.g. QEMU TCG 7.2).
#pragma once

#include <stdint.h>

#define ICR_FIXED 0x00000
#define ICR_INIT 0x00500
#define ICR_STARTUP 0x00600
#define ICR_ASSERT 0x04000

// Detects the APIC mode; call once on the BSP before apic_init_cpu().
void apic_detect(void);
int apic_is_x2apic(void);
// Enables this CPU's APIC (SVR), masks LINT0/LINT1/timer.
void apic_init_cpu(void);
uint32_t apic_id(void);
void apic_eoi(void);
void apic_send_ipi(uint32_t dest_apic_id, uint32_t icr_low);
