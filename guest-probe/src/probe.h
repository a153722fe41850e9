// Results and fatal reports: a line on COM1 plus a probe message to the VMM
// (port 0xf0, see probe_abi.h), and the exit port.
#pragma once

#include <stdint.h>
#include <tlbscope/probe_abi.h>

// Exit codes written to TLBSCOPE_EXIT_PORT.
#define GUEST_EXIT_PASS 0       // every check passed
#define GUEST_EXIT_FAIL 1       // a check failed, or unknown scenario
#define GUEST_EXIT_ASSERT 2     // GUEST_ASSERT failed
#define GUEST_EXIT_EXCEPTION 3  // unexpected exception/interrupt

void __attribute__((noreturn)) guest_exit(int code);

void probe_hello(uint32_t cpus, const char* scenario, uint32_t boot_proto);
void probe_cpu_online(uint32_t apic_id);
// True when a tlbscope VMM serves the probe channel.
int probe_present(void);
// Registers this CPU's event ring (events.c) with the VMM.
void probe_ring(uint64_t ring_pa);
void probe_log(const char* text);
void probe_exception(uint64_t vector, uint64_t rip, uint64_t error, uint64_t cr2);
struct tlb_counts;
// This CPU's TLB stub counts (TLBSCOPE_PROBE_TLB_COUNTS); no TLB operation.
void probe_tlb_counts(const struct tlb_counts* counts);
void probe_done(void);

// One check result: "PASS name: detail" / "FAIL name: detail" on serial and
// a RESULT message. Returns pass.
int report(const char* name, int pass, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
uint32_t report_passed(void);
uint32_t report_failed(void);

void __attribute__((noreturn)) guest_assert_fail(const char* file, int line, const char* expr);

#define GUEST_ASSERT(expr)                                          \
  do {                                                              \
    if (!(expr)) guest_assert_fail(__FILE_NAME__, __LINE__, #expr); \
  } while (0)
