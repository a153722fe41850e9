#include "boot_info.h"

#include "lib.h"

#define MULTIBOOT_LOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define PVH_START_MAGIC 0x336ec578u

extern uint32_t boot_magic, boot_info;  // saved by start32.S

static uint32_t proto;
static char cmdline[256];

void boot_info_init(void) {
  const uint8_t* info = (const uint8_t*)(uintptr_t)boot_info;
  const char* src = 0;
  // PVH leaves EAX undefined, so test for multiboot's EAX first and only
  // then look for the PVH start-info magic at EBX.
  if (boot_magic == MULTIBOOT_LOADER_MAGIC && info) {
    proto = BOOT_PROTO_MULTIBOOT;
    if (*(const uint32_t*)info & MULTIBOOT_INFO_CMDLINE) {
      src = (const char*)(uintptr_t) * (const uint32_t*)(info + 16);
    }
  } else if (info && *(const uint32_t*)info == PVH_START_MAGIC) {
    proto = BOOT_PROTO_PVH;
    src = (const char*)(uintptr_t) * (const uint64_t*)(info + 24);
  }
  if (src) strlcpy(cmdline, src, sizeof(cmdline));
}

uint32_t boot_protocol(void) { return proto; }

const char* boot_protocol_name(void) {
  switch (proto) {
    case BOOT_PROTO_MULTIBOOT:
      return "multiboot";
    case BOOT_PROTO_PVH:
      return "pvh";
    default:
      return "unknown";
  }
}

const char* boot_cmdline(void) { return cmdline; }

const char* boot_param(const char* key, const char* def, char* buf, uint32_t size) {
  size_t klen = strlen(key);
  const char* p = cmdline;
  while (*p) {
    while (*p == ' ') p++;
    const char* tok = p;
    while (*p && *p != ' ') p++;
    if ((size_t)(p - tok) > klen && memcmp(tok, key, klen) == 0 && tok[klen] == '=') {
      uint32_t n = (uint32_t)(p - tok - klen - 1);
      if (n >= size) n = size - 1;
      memcpy(buf, tok + klen + 1, n);
      buf[n] = '\0';
      return buf;
    }
  }
  return def;
}
