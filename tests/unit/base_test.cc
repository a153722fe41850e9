// The base library's owners and containers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "base/bounded_queue.h"
#include "base/unique_file.h"
#include "common/log.h"

namespace tlbscope {
namespace {

TEST(BoundedQueueTest, KeepsTheNewestAndCountsWhatItDropped) {
  BoundedQueue<int> q(3);
  EXPECT_FALSE(q.Push(1));
  EXPECT_FALSE(q.Push(2));
  EXPECT_FALSE(q.Push(3));
  EXPECT_TRUE(q.Push(4)) << "full: the oldest goes";
  EXPECT_TRUE(q.Push(5));
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q.front(), 3);
  EXPECT_EQ(q[2], 5);
  EXPECT_EQ(q.dropped(), 2u);
  q.PopFront();
  EXPECT_EQ(q.front(), 4);
  EXPECT_FALSE(q.Push(6)) << "room again";
  EXPECT_EQ(q.dropped(), 2u);
}

TEST(BoundedQueueTest, ACapacityOfZeroHoldsOne) {
  BoundedQueue<std::string> q(0);
  EXPECT_EQ(q.capacity(), 1u);
  q.Push("a");
  EXPECT_TRUE(q.Push("b"));
  EXPECT_EQ(q.front(), "b");
}

TEST(UniqueFileTest, ClosesAndReleases) {
  std::string path = ::testing::TempDir() + "/unique_file_test";
  {
    UniqueFile f(std::fopen(path.c_str(), "w"));
    ASSERT_NE(f, nullptr);
    EXPECT_GT(std::fputs("x", f.get()), 0);
  }  // closed here: the byte is on disk
  UniqueFile r(std::fopen(path.c_str(), "r"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(std::fgetc(r.get()), 'x');
  EXPECT_EQ(std::fclose(r.release()), 0);
  EXPECT_EQ(r, nullptr);
  std::remove(path.c_str());
}

// What Log and LogError write to stderr, captured in a file.
std::string CapturedStderr(void (*write)()) {
  std::string path = ::testing::TempDir() + "/log_test";
  int saved = ::dup(STDERR_FILENO);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  write();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path.c_str());
  return text.str();
}

TEST(LogTest, OneLineInTheProjectsFormat) {
  EXPECT_EQ(CapturedStderr([] { Log("serving on %s, %d events", "[::1]:7", 42); }),
            "tlbscope: serving on [::1]:7, 42 events\n");
  EXPECT_EQ(CapturedStderr([] { LogError("run", "--smp must be between 1 and 64"); }),
            "tlbscope run: error: --smp must be between 1 and 64\n");
  EXPECT_EQ(CapturedStderr([] { LogError("", "no command"); }), "tlbscope: error: no command\n");
}

}  // namespace
}  // namespace tlbscope
