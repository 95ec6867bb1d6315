// ReadFileToString's limit holds before the file is read: a huge sparse file
// or an endless pipe costs at most the limit in memory.
#include "services/common/file_util.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;

int64_t PeakRssKb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(ReadFileToStringTest, ReadsAFileWithinTheLimit) {
  const std::string path = testing::MakeTempDir() + "/small";
  testing::WriteFileAtomically(path, "hello");
  absl::StatusOr<std::string> text = ReadFileToString(path, 5);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "hello");
  EXPECT_EQ(ReadFileToString(path, 4).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ReadFileToStringTest, SparseGigabyteFileIsRefusedByItsSize) {
  const std::string path = testing::MakeTempDir() + "/sparse";
  { std::ofstream f(path); }
  ASSERT_EQ(::truncate(path.c_str(), int64_t{1} << 30), 0);
  const int64_t before = PeakRssKb();
  absl::Status s = ReadFileToString(path, 4 << 20).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("1073741824 bytes, more than the limit of 4194304"));
  // Nothing near the file's size was allocated.
  EXPECT_LT(PeakRssKb() - before, 64 * 1024);
}

TEST(ReadFileToStringTest, EndlessDeviceStopsAtTheLimit) {
  absl::Status s = ReadFileToString("/dev/zero", 1 << 20).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("over 1048576 bytes, more than the limit"));
}

// A FIFO nobody writes to reads as empty instead of blocking the caller
// (a ruleset reload) in open(2).
TEST(ReadFileToStringTest, FifoWithoutAWriterDoesNotBlock) {
  const std::string path = testing::MakeTempDir() + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "");
}

TEST(ReadFileToStringTest, MissingFileAndDirectoryNameThePath) {
  const std::string dir = testing::MakeTempDir();
  absl::Status missing = ReadFileToString(dir + "/nope").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("/nope"));
  absl::Status directory = ReadFileToString(dir).status();
  EXPECT_EQ(directory.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(directory.message()), HasSubstr("Is a directory"));
}

}  // namespace
}  // namespace oppmatrix
