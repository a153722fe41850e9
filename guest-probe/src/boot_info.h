// What the loader told us: which protocol, and the kernel command line.
#pragma once

#include <stdint.h>

#define BOOT_PROTO_UNKNOWN 0
#define BOOT_PROTO_MULTIBOOT 1
#define BOOT_PROTO_PVH 2

// Copies the command line out of loader memory (call before anything
// overwrites low memory, e.g. the AP trampoline at 0x8000).
void boot_info_init(void);
uint32_t boot_protocol(void);
const char* boot_protocol_name(void);
const char* boot_cmdline(void);
// Value of `key=value` on the command line copied into buf, or def.
const char* boot_param(const char* key, const char* def, char* buf, uint32_t size);
