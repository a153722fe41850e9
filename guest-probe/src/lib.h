// Minimal freestanding string/memory routines (gcc may also emit calls to
// memcpy/memset for struct copies, so these names are required).
#pragma once

#include <stddef.h>
#include <stdint.h>

void* memcpy(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
// Copies at most size-1 bytes and always NUL-terminates (size > 0).
void strlcpy(char* dst, const char* src, size_t size);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

// A decimal number with no sign or spaces: 1 and *out set, or 0.
int parse_u64(const char* s, uint64_t* out);
