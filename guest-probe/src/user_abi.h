// Syscall numbers and user address-space layout, shared by C and asm.
#pragma once

// int $SYSCALL_VECTOR: rax = number, rdi = argument, rax = result.
#define SYSCALL_VECTOR 0x80
#define SYS_EXIT 0    // end the task; rdi = value returned by user_run()
#define SYS_YIELD 1   // call the run's on_yield hook; rax = hook's result
#define SYS_GETCPU 2  // rax = CPU index
// The mm calls (vm.h), on the mmap area; rdi = va, rsi = npages, rdx = the
// third argument. rax = 0, or -1 for a bad range.
#define SYS_MMAP 3  // rdx = value of page 0's first qword (page i: value + i)
#define SYS_MUNMAP 4
#define SYS_MADVISE 5     // MADV_DONTNEED
#define SYS_MPROTECT 6    // rdx = writable (0/1)
#define SYS_LAM_ENABLE 7  // prctl(ARCH_ENABLE_TAGGED_ADDR): LAM_U57 for this mm
#define SYS_MEMBARRIER 8  // membarrier(REGISTER_PRIVATE_EXPEDITED_SYNC_CORE)
#define SYS_SCENARIO 9    // the running scenario's own hook (user.h); rdi = argument

// user_run_*() results for a task that did not exit by itself.
#define USER_FAULTED 0xfa17fa17fa17fa17  // a #PF at CPL3 in the user window

// Every user address space maps one 2 MiB window at PML4 slot 1, away from
// the kernel's identity map in slot 0 (which all spaces share, supervisor
// only).
#define USER_BASE 0x0000008000000000
#define USER_CODE_VA (USER_BASE + 0x000000)    // .user_text, read-only
#define USER_DATA_VA (USER_BASE + 0x100000)    // one data page per space
#define USER_PROBE_VA (USER_BASE + 0x101000)   // page the invlpg test flips
#define USER_STACK_TOP (USER_BASE + 0x200000)  // one stack page below this
