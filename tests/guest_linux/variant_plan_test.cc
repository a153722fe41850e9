// The seed variants of the test kernel (guest-linux/patches/variants, built
// by the linux_seed_variants test: the guest_linux_variants fixture) as the
// Linux probes see them, no KVM: each variant's bug shows in its plan where
// it changes what the probes read. A missing variant is a failure (the
// fixture did not build it), never a skip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/integration/run_helper.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/cli/linux_guest.h"
#include "vmm/linux/linux_probes.h"

namespace tlbscope::testing {
namespace {

using ::testing::Contains;

struct Planned {
  std::unique_ptr<GuestMemory> mem;
  std::unique_ptr<ProbePoints> points;
  std::unique_ptr<LinuxProbes> probes;
};

Planned Plan(const std::string& dir) {
  Planned p;
  std::string kernel = dir + "/bzImage";
  EXPECT_EQ(::access(kernel.c_str(), R_OK), 0) << kernel << " is missing";
  std::string bytes = ReadFile(kernel);
  std::span<const uint8_t> image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  p.mem = std::make_unique<GuestMemory>(*GuestMemory::Create(256 << 20));
  absl::StatusOr<LoadedKernel> k = LoadKernelBytes(image, kernel, BootProtocol::kAuto, "", *p.mem);
  EXPECT_TRUE(k.ok()) << k.status();
  if (!k.ok()) return p;
  p.points = std::make_unique<ProbePoints>(p.mem.get());
  std::string why;
  p.probes = CreateLinuxProbes({dir + "/System.map", dir + "/vmlinux.btf"}, k->vmlinux, p.mem.get(),
                               p.points.get(), 2, &why);
  EXPECT_NE(p.probes, nullptr) << why;
  return p;
}

// Seed 004 drops finish_task_switch()'s sync_core: the plan reads the
// function whole, finds no serializing instruction, and says the kernel
// never serializes there, so the membarrier invariant is still judged
// (and finds the bug) instead of being "not checked".
TEST(GuestLinuxVariantPlanTest, Seed004NeverSerializesAndIsStillJudged) {
  Planned stock = Plan(LinuxKernelDir());
  Planned bug = Plan(LinuxKernelDir() + "-seed-004-unlazy-sync");
  ASSERT_TRUE(stock.probes && bug.probes);
  EXPECT_EQ(stock.probes->plan().sync_cores.size(), 2u);
  EXPECT_FALSE(stock.probes->plan().no_sync_core_proven);
  EXPECT_TRUE(bug.probes->plan().sync_cores.empty());
  EXPECT_TRUE(bug.probes->plan().no_sync_core_proven);
  EXPECT_THAT(bug.probes->plan().problems, ::testing::IsEmpty());
  for (const Planned* p : {&stock, &bug}) {
    EXPECT_THAT(p->probes->SuppliedEvents(), Contains("membarrier"));
  }
}

}  // namespace
}  // namespace tlbscope::testing
