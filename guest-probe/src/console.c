#include "console.h"

#include <stdint.h>
#include <tlbscope/probe_abi.h>

#include "cpu.h"
#include "smp.h"
#include "spinlock.h"

#define COM1_LSR (TLBSCOPE_COM1_PORT + 5)
#define LSR_THR_EMPTY 0x20

static struct spinlock console_lock = SPINLOCK_INIT;

static void serial_putc(char c) {
  while (!(inb(COM1_LSR) & LSR_THR_EMPTY)) cpu_relax();
  outb((uint8_t)c, TLBSCOPE_COM1_PORT);
}

void console_write(const char* s) {
  int cpu = this_cpu();
  uint64_t flags;
  int reentered = READ_ONCE(console_lock.owner) == cpu;
  if (reentered) {
    flags = irq_save();
  } else {
    flags = spin_lock_irqsave(&console_lock, cpu);
  }
  for (; *s; s++) serial_putc(*s);
  if (reentered) {
    restore_flags(flags);
  } else {
    spin_unlock_irqrestore(&console_lock, flags);
  }
}

struct out {
  char* buf;
  size_t size;
  size_t len;  // characters produced (may exceed size)
};

static void put(struct out* o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void put_num(struct out* o, uint64_t v, unsigned base, int negative, int width, char pad) {
  char tmp[24];
  int n = 0;
  do {
    unsigned d = v % base;
    tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  if (negative) tmp[n++] = '-';
  for (int i = n; i < width; i++) put(o, pad);
  while (n) put(o, tmp[--n]);
}

int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
  struct out o = {buf, size, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0;
    int left = 0;
    if (*fmt == '-') {
      left = 1;
      fmt++;
    }
    if (*fmt == '0') {
      pad = '0';
      fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    int longs = 0;
    while (*fmt == 'l') {
      longs++;
      fmt++;
    }
    switch (*fmt) {
      case 'd':
      case 'i': {
        int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
        put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
        break;
      }
      case 'u':
        put_num(&o, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0, width, pad);
        break;
      case 'x':
        put_num(&o, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, 0, width, pad);
        break;
      case 'p':
        put(&o, '0');
        put(&o, 'x');
        put_num(&o, (uintptr_t)va_arg(ap, void*), 16, 0, width, pad);
        break;
      case 'c':
        put(&o, (char)va_arg(ap, int));
        break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        int n = 0;
        while (s[n]) n++;
        for (int i = n; !left && i < width; i++) put(&o, ' ');
        for (int i = 0; i < n; i++) put(&o, s[i]);
        for (int i = n; left && i < width; i++) put(&o, ' ');
        break;
      }
      case '%':
        put(&o, '%');
        break;
      case '\0':
        fmt--;
        break;
      default:
        put(&o, '%');
        put(&o, *fmt);
        break;
    }
  }
  if (size) buf[o.len < size ? o.len : size - 1] = '\0';
  return (int)o.len;
}

int snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

void printf(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  console_write(buf);
}
