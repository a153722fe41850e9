#pragma once
// For tests that load a real kernel and build its Linux probes: the int3s
// on the returns of its exits to user mode wait for the kernel's boot-time
// patching (vmm/linux/boot_placement.h). Checks that they alone are not
// in, then writes SYSTEM_SCHEDULING into the kernel's system_state as
// rest_init() would and lets a trapped instruction place them (nothing in
// the code changed: each plan stays the file's).
#include <gtest/gtest.h>

#include "vmm/linux/linux_probes.h"

namespace tlbscope::testing {

inline void PassBootGate(LinuxProbes& probes, GuestMemory& mem, const ProbePoints& points) {
  ASSERT_TRUE(probes.waits_for_boot());
  EXPECT_FALSE(probes.placed());
  size_t returns = 0;
  for (const PlannedProbe& p : probes.plan().probes) returns += p.at_return;
  EXPECT_EQ(points.size() + returns, probes.plan().probes.size() + probes.plan().loads.size() +
                                         probes.plan().sync_cores.size())
      << "only the returns wait for the kernel's boot-time patching";
  const std::optional<BootGate>& gate = probes.plan().gate;
  ASSERT_TRUE(gate.has_value());
  ASSERT_TRUE(mem.WriteObject(gate->paddr, gate->scheduling).ok());
  probes.OnTrap();
  ASSERT_TRUE(probes.placed());
  for (const std::string& late : probes.late_problems()) ADD_FAILURE() << late;
}

}  // namespace tlbscope::testing
