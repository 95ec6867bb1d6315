// The --redis URL forms: TCP with optional credentials and database, unix
// sockets with query parameters, and the errors for everything else.
#include "services/store/redis_url.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedisUrlTest, HostPortAndDatabase) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://cache:6380/2");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "cache");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 2);
  EXPECT_EQ(e->password, "");
  EXPECT_EQ(e->ToSafeString(), "cache:6380/2");
}

TEST(RedisUrlTest, Defaults) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://127.0.0.1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);
}

TEST(RedisUrlTest, PasswordOnlyAndUserPassword) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://:s3cret@h:1/0");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->username, "");
  EXPECT_EQ(e->password, "s3cret");
  EXPECT_THAT(e->ToSafeString(), Not(HasSubstr("s3cret")));

  e = ParseRedisUrl("redis://svc:p%40ss@h:1/3");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->username, "svc");
  EXPECT_EQ(e->password, "p@ss");
  EXPECT_EQ(e->db, 3);
}

TEST(RedisUrlTest, UnixSocket) {
  absl::StatusOr<RedisEndpoint> e =
      ParseRedisUrl("unix:///run/redis.sock?db=4&password=pw");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->unix_path, "/run/redis.sock");
  EXPECT_EQ(e->db, 4);
  EXPECT_EQ(e->password, "pw");
  EXPECT_EQ(e->ToSafeString(), "unix:/run/redis.sock/4");
}

TEST(RedisUrlTest, ErrorsNameTheProblemWithoutThePassword) {
  struct Case {
    const char* url;
    const char* error;
  } cases[] = {
      {"http://h:1", "must start with redis:// or unix://"},
      {"redis://h:99999", "bad port"},
      {"redis://h:1/x", "database must be a non-negative number"},
      {"redis://:pw@", "missing host"},
      {"unix://relative.sock", "absolute socket path"},
      {"unix:///s.sock?colour=red", "unknown parameter \"colour\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<RedisEndpoint> e = ParseRedisUrl(c.url);
    ASSERT_FALSE(e.ok()) << c.url;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(e.status().message(), HasSubstr(c.error)) << c.url;
    EXPECT_THAT(e.status().message(), Not(HasSubstr("pw"))) << c.url;
  }
}

}  // namespace
}  // namespace oppmatrix
