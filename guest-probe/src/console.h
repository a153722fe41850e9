// COM1 text output and a tiny printf (%d %i %u %x %lx %lu %ld %s %p %c,
// widths, 0 and - flags),
// serialized per line so CPUs do not interleave.
#pragma once

#include <stdarg.h>
#include <stddef.h>

int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap);
int snprintf(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Writes s under the console lock (taken over if this CPU already holds
// it, e.g. when an exception hits while printing).
void console_write(const char* s);
