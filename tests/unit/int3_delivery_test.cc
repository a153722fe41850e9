// The #BP of a guest's own kernel-mode int3 delivered by tlbscope
// (vmm/trap/int3_delivery.h) on a made-up 64-bit guest: IDT, TSS and stacks
// in guest memory behind a 4-level page table.
#include "vmm/trap/int3_delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kBase = 0xffff888000000000ull;  // mapped to guest physical 0 (1 GiB page)
constexpr uint64_t kIdt = 0x10000, kTss = 0x11000, kStack = 0x20000, kIst2 = 0x30000;
constexpr uint64_t kHandler = 0xffffffff81a01230ull, kInt3At = kBase + 0x41234;
constexpr uint16_t kKernelCs = 0x10, kKernelSs = 0x18;

class Int3DeliveryTest : public ::testing::Test {
 public:
  void SetUp() override {
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(4 << 20));
    Put(0x1000 + ((kBase >> 39) & 0x1ff) * 8, uint64_t{0x2000 | 3});
    Put(0x2000 + ((kBase >> 30) & 0x1ff) * 8, uint64_t{0x0 | 3 | 0x80});  // 1 GiB page
    SetGate(kInterruptGate, 0);
    Put(kInt3At - kBase, uint8_t{0xcc});
    Put(kTss + 0x24 + 8, kBase + kIst2 + 8);  // IST2, not 16-byte aligned
    sregs_.efer = (1 << 10) | (1 << 8);
    sregs_.cr0 = (1u << 31) | 1;
    sregs_.cr3 = 0x1000;
    sregs_.cr4 = 1 << 5;
    sregs_.cs.selector = kKernelCs;
    sregs_.cs.l = 1;
    sregs_.ss.selector = kKernelSs;
    sregs_.idt.base = kBase + kIdt;
    sregs_.idt.limit = 0xfff;
    sregs_.tr.base = kBase + kTss;
    sregs_.tr.limit = 0x67;
    regs_.rip = kInt3At;
    regs_.rsp = kBase + kStack + 0x8;             // a frame below it is aligned down first
    regs_.rflags = 0x246 | (1 << 8) | (1 << 16);  // IF, ZF, PF, TF, RF
  }
  template <typename T>
  void Put(uint64_t gpa, T v) {
    ASSERT_TRUE(mem_->WriteObject(gpa, v).ok());
  }
  void SetGate(uint8_t type, uint8_t ist, uint16_t selector = kKernelCs, bool present = true) {
    std::array<uint8_t, 16> g{};
    g[0] = kHandler & 0xff;
    g[1] = (kHandler >> 8) & 0xff;
    g[2] = selector & 0xff;
    g[3] = selector >> 8;
    g[4] = ist;
    g[5] = static_cast<uint8_t>((present ? 0x80 : 0) | type);
    for (int i = 0; i < 2; ++i) g[6 + i] = (kHandler >> (16 + 8 * i)) & 0xff;
    for (int i = 0; i < 4; ++i) g[8 + i] = (kHandler >> (32 + 8 * i)) & 0xff;
    ASSERT_TRUE(mem_->Write(kIdt + 3 * 16, g).ok());
  }
  std::array<uint64_t, 5> FrameAt(uint64_t gpa) {
    std::array<uint64_t, 5> f{};
    EXPECT_TRUE(mem_->Read(gpa, {reinterpret_cast<uint8_t*>(f.data()), sizeof f}).ok());
    return f;
  }
  static constexpr uint8_t kInterruptGate = 0xe, kTrapGate = 0xf;
  std::unique_ptr<GuestMemory> mem_;
  kvm_regs regs_{};
  kvm_sregs sregs_{};
};

TEST_F(Int3DeliveryTest, AnInterruptGateGetsTheCpusFrameOnTheCurrentStack) {
  kvm_regs r = regs_;
  ASSERT_TRUE(DeliverKernelInt3(r, sregs_, *mem_).ok());
  EXPECT_EQ(r.rip, kHandler);
  EXPECT_EQ(r.rsp, kBase + kStack - 40) << "aligned down to 16, then five slots";
  EXPECT_EQ(r.rflags, 0x46u) << "IF, TF and RF cleared";
  EXPECT_EQ(FrameAt(kStack - 40),
            (std::array<uint64_t, 5>{kInt3At + 1, kKernelCs, regs_.rflags, regs_.rsp, kKernelSs}));
  EXPECT_EQ(r.rax, regs_.rax);
}

TEST_F(Int3DeliveryTest, ATrapGateWithAnIstUsesThatStackAndKeepsIf) {
  SetGate(kTrapGate, 2);
  kvm_regs r = regs_;
  ASSERT_TRUE(DeliverKernelInt3(r, sregs_, *mem_).ok());
  EXPECT_EQ(r.rsp, kBase + kIst2 - 40);
  EXPECT_EQ(r.rflags, 0x246u);
  EXPECT_EQ(FrameAt(kIst2 - 40)[3], regs_.rsp) << "the interrupted stack";
  EXPECT_EQ(FrameAt(kStack - 40)[0], 0u) << "nothing on the current stack";
}

// Each case tlbscope leaves to KVM's injection: refused with the reason,
// the registers and guest memory untouched.
TEST_F(Int3DeliveryTest, WhatItDoesNotHandleIsRefusedAndLeftAlone) {
  struct Case {
    const char* why;
    std::function<void(Int3DeliveryTest*, kvm_sregs*, kvm_regs*)> spoil;
  };
  const Case cases[] = {
      {"not at CPL 0", [](auto*, kvm_sregs* s, auto*) { s->cs.selector = 0x33; }},
      {"not in 64-bit mode", [](auto*, kvm_sregs* s, auto*) { s->cs.l = 0; }},
      {"FRED", [](auto*, kvm_sregs* s, auto*) { s->cr4 |= 1ull << 32; }},
      {"IDT too short", [](auto*, kvm_sregs* s, auto*) { s->idt.limit = 0x2f; }},
      {"not a present",
       [](Int3DeliveryTest* t, auto*, auto*) { t->SetGate(kInterruptGate, 0, kKernelCs, false); }},
      {"not a present interrupt or trap gate (type 0xc)",
       [](Int3DeliveryTest* t, auto*, auto*) { t->SetGate(0xc, 0); }},
      {"selector 0x8 is not the current CS",
       [](Int3DeliveryTest* t, auto*, auto*) { t->SetGate(kInterruptGate, 0, 0x8); }},
      {"IDT gate 3 unreadable", [](auto*, kvm_sregs* s, auto*) { s->idt.base = 0x1234000; }},
      {"TSS IST2 unreadable",
       [](Int3DeliveryTest* t, kvm_sregs* s, auto*) {
         t->SetGate(kInterruptGate, 2);
         s->tr.base = 0x7770000;
       }},
      {"TSS too short for the gate's IST",
       [](Int3DeliveryTest* t, kvm_sregs* s, auto*) {
         t->SetGate(kInterruptGate, 2);
         s->tr.limit = 0x2b;  // ends inside IST2
       }},
      {"frame at", [](auto*, auto*, kvm_regs* r) { r->rsp = 0x7ff000001000; }},  // unmapped
      {"no int3 at RIP", [](auto*, auto*, kvm_regs* r) { r->rip += 1; }},
      {"outside guest memory", [](auto*, auto*, kvm_regs* r) { r->rsp = kBase + (64 << 20); }},
  };
  for (const Case& c : cases) {
    SetUp();
    kvm_sregs s = sregs_;
    kvm_regs r = regs_;
    c.spoil(this, &s, &r);
    kvm_regs before = r;
    absl::Status st = DeliverKernelInt3(r, s, *mem_);
    EXPECT_FALSE(st.ok()) << c.why;
    EXPECT_THAT(st.message(), HasSubstr(c.why));
    EXPECT_EQ(std::memcmp(&r, &before, sizeof r), 0) << c.why;
    EXPECT_EQ(FrameAt(kStack - 40)[0], 0u) << c.why;
  }
}

}  // namespace
}  // namespace tlbscope
