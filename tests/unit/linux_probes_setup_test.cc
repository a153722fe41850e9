// CreateLinuxProbes on bad or incomplete input, no KVM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file_bytes.h"
#include "vmm/linux/linux_probes.h"

namespace tlbscope {
namespace {

// The rule: knowledge that is incomplete, or a source that cannot
// be read, is one line naming it, and no probes (the run goes on).
TEST(CreateLinuxProbesTest, IncompleteKnowledgeIsOneLineNamingWhatIsMissing) {
  std::vector<uint8_t> elf =
      *ReadFileBytes(std::string(TEST_KERNELS_DIR) + "/linux_probe_fns.elf", "test");
  GuestMemory mem = *GuestMemory::Create(4 << 20);
  ProbePoints points(&mem);
  std::string why;
  // Symbols but no BTF or DWARF.
  EXPECT_EQ(CreateLinuxProbes({}, elf, &mem, &points, 1, &why), nullptr);
  EXPECT_THAT(why, ::testing::StartsWith("kernel knowledge: missing"));
  EXPECT_THAT(why, ::testing::HasSubstr("struct layouts"));
  EXPECT_EQ(why.find('\n'), std::string::npos);
  EXPECT_EQ(points.size(), 0u);
  why.clear();
  EXPECT_EQ(CreateLinuxProbes({"/nonexistent/System.map", ""}, elf, &mem, &points, 1, &why),
            nullptr);
  EXPECT_THAT(why, ::testing::HasSubstr("/nonexistent/System.map"));
  why.clear();
  std::vector<uint8_t> not_elf = {'n', 'o', 't', ' ', 'e', 'l', 'f'};
  EXPECT_EQ(CreateLinuxProbes({}, not_elf, &mem, &points, 1, &why), nullptr);
  EXPECT_THAT(why, ::testing::StartsWith("kernel knowledge: "));
}

}  // namespace
}  // namespace tlbscope
