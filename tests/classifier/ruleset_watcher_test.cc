#include "services/classifier/ruleset_watcher.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <regex>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/file_util.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string DefaultText() {
  return *ReadFileToString(OPPMATRIX_SOURCE_DIR "/rules/default.yaml");
}

std::string Renamed(const std::string& name) {
  return std::regex_replace(DefaultText(), std::regex("\nname: default"),
                            "\nname: " + name,
                            std::regex_constants::format_first_only);
}

class RulesetWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::MakeTempDir() + "/rules.yaml";
    testing::WriteFileAtomically(path_, DefaultText());
  }
  std::string path_;
};

TEST_F(RulesetWatcherTest, MissingFileFailsCreate) {
  auto w = RulesetWatcher::Create({.path = path_ + ".missing"});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RulesetWatcherTest, InvalidFileFailsCreateNamingTheKey) {
  testing::WriteFileAtomically(path_, "name: x\nbogus: 1\n");
  auto w = RulesetWatcher::Create({.path = path_});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(w.status().message()),
              HasSubstr("bogus: unknown key"));
}

TEST_F(RulesetWatcherTest, ReloadSwapsAGoodFileAndKeepsTheOldOnABadOne) {
  auto w = RulesetWatcher::Create({.path = path_, .poll_interval = {}});
  ASSERT_TRUE(w.ok()) << w.status();
  std::shared_ptr<const CompiledRuleset> first = (*w)->Current();
  EXPECT_THAT(first->version, StartsWith("default@"));

  // Unchanged file: nothing happens.
  EXPECT_TRUE((*w)->Reload().ok());
  EXPECT_EQ((*w)->Current(), first);
  EXPECT_EQ((*w)->stats().reloads_ok, 0);

  testing::WriteFileAtomically(path_, "name: broken\n");
  absl::Status bad = (*w)->Reload();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("base_currency"));
  EXPECT_EQ((*w)->Current(), first);
  EXPECT_EQ((*w)->stats().reloads_failed, 1);
  EXPECT_THAT((*w)->stats().last_error, HasSubstr("rules.yaml: "));
  // The same bad bytes again are not re-parsed or re-counted.
  EXPECT_FALSE((*w)->Reload().ok());
  EXPECT_EQ((*w)->stats().reloads_failed, 1);

  testing::WriteFileAtomically(path_, Renamed("next"));
  EXPECT_TRUE((*w)->Reload().ok());
  EXPECT_THAT((*w)->Current()->version, StartsWith("next@"));
  EXPECT_EQ((*w)->stats().reloads_ok, 1);
  EXPECT_EQ((*w)->stats().last_error, "");
  // A caller that took the old ruleset still holds a valid one.
  EXPECT_THAT(first->version, StartsWith("default@"));
}

TEST_F(RulesetWatcherTest, DeletedFileOnReloadKeepsTheOldRuleset) {
  auto w = RulesetWatcher::Create({.path = path_, .poll_interval = {}});
  ASSERT_TRUE(w.ok());
  std::remove(path_.c_str());
  EXPECT_EQ((*w)->Reload().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT((*w)->Current()->version, StartsWith("default@"));
}

// What an outside harness did: a 1 GiB sparse file in place of the rules.
// It is refused by its size, the old ruleset stays, and the next valid edit
// is picked up.
TEST_F(RulesetWatcherTest, SparseHugeFileIsRefusedBeforeItIsRead) {
  auto w = RulesetWatcher::Create({.path = path_, .poll_interval = {}});
  ASSERT_TRUE(w.ok());
  const std::string huge = path_ + ".huge";
  { std::ofstream f(huge); }
  ASSERT_EQ(::truncate(huge.c_str(), int64_t{1} << 30), 0);
  ASSERT_EQ(std::rename(huge.c_str(), path_.c_str()), 0);
  absl::Status s = (*w)->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("1073741824 bytes, more than the limit of 4194304"));
  EXPECT_THAT((*w)->Current()->version, StartsWith("default@"));
  testing::WriteFileAtomically(path_, Renamed("after"));
  EXPECT_TRUE((*w)->Reload().ok());
  EXPECT_THAT((*w)->Current()->version, StartsWith("after@"));
}

TEST_F(RulesetWatcherTest, PollingPicksUpAChangedFile) {
  auto w = RulesetWatcher::Create(
      {.path = path_, .poll_interval = absl::Milliseconds(10)});
  ASSERT_TRUE(w.ok());
  (*w)->Start();
  testing::WriteFileAtomically(path_, Renamed("polled"));
  // Wait for the condition, bounded; no timing is asserted.
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while ((*w)->Current()->version.rfind("polled@", 0) != 0 &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT((*w)->Current()->version, StartsWith("polled@"));
  (*w)->Stop();
}

}  // namespace
}  // namespace oppmatrix
