// Console output, PASS/FAIL lines, the kernel's counters, and the VM exit.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <termios.h>
#include <unistd.h>

#include "tlbscope/probe_abi.h"
#include "tlbwork.h"

// One write(2) per line, so lines from threads and processes do not mix.
static void vsay(const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  ssize_t unused = write(1, buf, (size_t)n);
  (void)unused;
}

void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
}

int check(bool pass, const char* name, const char* fmt, ...) {
  char detail[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  say("%s %s: %s\n", pass ? "PASS" : "FAIL", name, detail);
  return pass ? 0 : 1;
}

static int read_file(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (len == size - 1) break;
  }
  close(fd);
  buf[len] = 0;
  return (int)len;
}

// Calls fn(label, values, count) for each /proc/interrupts row whose label
// is not a number (the IPI rows: TLB, CAL, RES, ...).
static void each_irq_row(void (*fn)(const char*, const uint64_t*, int, void*), void* ctx) {
  static char buf[16384];
  if (read_file("/proc/interrupts", buf, sizeof buf) <= 0) return;
  char* save = NULL;
  strtok_r(buf, "\n", &save);  // the CPU header
  for (char* line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ') line++;
    char* colon = strchr(line, ':');
    if (!colon || colon - line > 15) continue;
    *colon = 0;
    uint64_t v[64];
    int n = 0;
    char* p = colon + 1;
    while (n < 64) {
      char* end;
      errno = 0;
      unsigned long long x = strtoull(p, &end, 10);
      if (end == p || errno) break;
      v[n++] = x;
      p = end;
    }
    fn(line, v, n, ctx);
  }
}

static void sum_irq(const char* label, const uint64_t* v, int n, void* ctx) {
  struct tlb_counters* c = ctx;
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += v[i];
  if (strcmp(label, "TLB") == 0) c->tlb_irqs = total;
  if (strcmp(label, "CAL") == 0) c->cal_irqs = total;
}

struct irq_pick {
  const char* label;
  int cpu;
  uint64_t value;
};

static void pick_irq(const char* label, const uint64_t* v, int n, void* ctx) {
  struct irq_pick* p = ctx;
  if (strcmp(label, p->label) == 0 && p->cpu < n) p->value = v[p->cpu];
}

uint64_t cpu_irq_count(const char* label, int cpu) {
  struct irq_pick p = {label, cpu, 0};
  each_irq_row(pick_irq, &p);
  return p.value;
}

static uint64_t vmstat_value(const char* all, const char* name) {
  size_t len = strlen(name);
  for (const char* p = all; (p = strstr(p, name)) != NULL; p += len) {
    if ((p == all || p[-1] == '\n') && p[len] == ' ') return strtoull(p + len + 1, NULL, 10);
  }
  return 0;
}

// /proc/vmstat; run by hand (not as init), $TLBWORK_VMSTAT may name another
// file (tlbscope's tests check the printed lines against its parser).
static const char* vmstat_path(void) {
  const char* p = getpid() != 1 ? getenv("TLBWORK_VMSTAT") : NULL;
  return p && *p ? p : "/proc/vmstat";
}

void read_counters(struct tlb_counters* c) {
  static char buf[16384];
  memset(c, 0, sizeof *c);
  if (read_file(vmstat_path(), buf, sizeof buf) > 0) {
    c->remote_flush = vmstat_value(buf, "nr_tlb_remote_flush");
    c->remote_flush_received = vmstat_value(buf, "nr_tlb_remote_flush_received");
    c->local_flush_all = vmstat_value(buf, "nr_tlb_local_flush_all");
    c->local_flush_one = vmstat_value(buf, "nr_tlb_local_flush_one");
  }
  each_irq_row(sum_irq, c);
}

static void print_irq(const char* label, const uint64_t* v, int n, void* ctx) {
  (void)ctx;
  if (strcmp(label, "TLB") != 0 && strcmp(label, "CAL") != 0) return;
  char line[1024];
  int len = snprintf(line, sizeof line, "TLBWORK counter interrupts %s", label);
  for (int i = 0; i < n && len < (int)sizeof line - 24; i++)
    len += snprintf(line + len, sizeof line - (size_t)len, " %llu", (unsigned long long)v[i]);
  say("%s\n", line);
}

// Marks a point in this vCPU's event order (a GuestMark event; as /init
// under tlbscope only: run by hand the port would be the host's).
static void mark(enum tlbscope_guest_mark m) {
  static int allowed = -1;
  if (allowed < 0) allowed = getpid() == 1 && ioperm(TLBSCOPE_MARK_PORT, 1, 1) == 0;
  if (allowed) outb((unsigned char)m, TLBSCOPE_MARK_PORT);
}

// The parseable form tlbscope reads from the console (`phase` "counter" at
// the end, "counter-begin" when /init starts; tlbscope compares the end
// values, counted from boot, with its own counts at the marks around that
// read, and uses the begin values to say what happened before user space):
//   TLBWORK counter vmstat NAME VALUE
//   TLBWORK counter interrupts LABEL VALUE_CPU0 VALUE_CPU1 ...
void print_counters(const char* phase) {
  static char buf[16384];
  bool end = strcmp(phase, "counter") == 0;
  if (end) mark(TLBSCOPE_MARK_COUNTERS_READ_BEGIN);
  int n = read_file(vmstat_path(), buf, sizeof buf);
  if (end) mark(TLBSCOPE_MARK_COUNTERS_READ_END);
  if (n <= 0) {
    say("TLBWORK error: cannot read %s: %s\n", vmstat_path(), strerror(errno));
  } else {
    char* save = NULL;
    for (char* line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
      if (strncmp(line, "nr_tlb_", 7) == 0) say("TLBWORK %s vmstat %s\n", phase, line);
  }
  if (end) each_irq_row(print_irq, NULL);
}

// The console is a tty: write(2) returns once the line is in the tty's
// buffer, and the UART drains it by interrupts afterwards. The exit port
// stops the VM at once, so without tcdrain the last lines (the kernel's
// counters, the exit code) were lost in most runs.
void vm_exit(int code) {
  say("TLBWORK exit %d\n", code);
  tcdrain(1);
  if (ioperm(0xf4, 1, 1) == 0) {
    outb((unsigned char)code, 0xf4);
  } else {
    say("TLBWORK error: ioperm(0xf4): %s; rebooting instead\n", strerror(errno));
  }
  sync();
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}
