// RedisPool against a real redis-server: pipelining (one round trip for many
// commands, counted on both sides), AUTH and SELECT from the URL, the
// connection bound, fail-fast while Redis is down and recovery after it
// returns.
#include "services/store/redis_client.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testing::RedisServer;
using ::testing::HasSubstr;

absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

RedisPool::Options PoolOptions(const std::string& url) {
  RedisPool::Options o;
  o.endpoint = *ParseRedisUrl(url);
  return o;
}

TEST(RedisPoolTest, PipelineIsOneRoundTrip) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  RedisPool pool(PoolOptions(redis.url()));
  std::vector<RedisCommand> cmds;
  for (int i = 0; i < 1000; ++i) {
    cmds.push_back({"SET", absl::StrCat("k", i), absl::StrCat(i)});
  }
  int64_t before = *redis.InfoValue("stats", "total_commands_processed");
  absl::StatusOr<std::vector<RedisReply>> replies = pool.Pipeline(cmds, Soon());
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 1000u);
  EXPECT_EQ((*replies)[999].str, "OK");
  EXPECT_EQ(pool.stats().round_trips, 1);
  EXPECT_EQ(pool.stats().commands, 1000);
  // The server saw the 1000 SETs (and the INFO that reads the counter).
  EXPECT_EQ(*redis.InfoValue("stats", "total_commands_processed") - before,
            1000 + 1);
}

TEST(RedisPoolTest, RepliesOfEveryType) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  RedisPool pool(PoolOptions(redis.url()));
  auto r = pool.Pipeline({{"SET", "k", std::string("a\0b", 3)},
                          {"GET", "k"},
                          {"GET", "missing"},
                          {"INCR", "n"},
                          {"RPUSH", "l", "x", "y"},
                          {"LRANGE", "l", "0", "-1"},
                          {"INCR", "k"}},
                         Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].type, RedisReply::Type::kStatus);
  EXPECT_EQ((*r)[1].str, std::string("a\0b", 3));  // binary safe
  EXPECT_EQ((*r)[2].type, RedisReply::Type::kNil);
  EXPECT_EQ((*r)[3].integer, 1);
  ASSERT_EQ((*r)[5].elements.size(), 2u);
  EXPECT_EQ((*r)[5].elements[1].str, "y");
  EXPECT_TRUE((*r)[6].is_error());  // a Redis error is a reply, not a status
}

TEST(RedisPoolTest, AuthAndDatabaseFromTheUrl) {
  RedisServer redis({"--requirepass", "s3cret"});
  ASSERT_TRUE(redis.Start().ok());
  std::string base = absl::StrCat("redis://:s3cret@127.0.0.1:", redis.port());
  RedisPool db3(PoolOptions(base + "/3"));
  ASSERT_TRUE(db3.Pipeline({{"SET", "where", "db3"}}, Soon()).ok());
  RedisPool db0(PoolOptions(base + "/0"));
  auto r = db0.Pipeline({{"GET", "where"}}, Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].type, RedisReply::Type::kNil);

  RedisPool wrong(PoolOptions(
      absl::StrCat("redis://:nope@127.0.0.1:", redis.port(), "/0")));
  auto denied = wrong.Pipeline({{"PING"}}, Soon());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), ::testing::Not(HasSubstr("nope")));
}

TEST(RedisPoolTest, NeverMoreConnectionsThanTheBound) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  RedisPool::Options o = PoolOptions(redis.url());
  o.max_connections = 2;
  RedisPool pool(o);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&pool] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(pool.Pipeline({{"INCR", "n"}}, Soon()).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(redis.Command({"GET", "n"})->str, "400");
  EXPECT_LE(pool.stats().connects, 2);
  // connected_clients counts this INFO connection too.
  EXPECT_LE(*redis.InfoValue("clients", "connected_clients"), 3);
}

TEST(RedisPoolTest, DownFailsFastThenRecoversByItself) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  RedisPool::Options o = PoolOptions(redis.url());
  o.min_backoff = absl::Milliseconds(50);
  o.max_backoff = absl::Milliseconds(200);
  RedisPool pool(o);
  ASSERT_TRUE(pool.Pipeline({{"SET", "a", "1"}}, Soon()).ok());

  redis.Kill();
  auto down = pool.Pipeline({{"GET", "a"}}, Soon());
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(pool.stats().healthy);
  // In the backoff: refused at once, without trying to connect.
  int64_t connects = pool.stats().connects;
  absl::Time start = absl::Now();
  auto fast = pool.Pipeline({{"GET", "a"}}, Soon());
  EXPECT_EQ(fast.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(fast.status().message(), HasSubstr("retrying in"));
  EXPECT_EQ(pool.stats().connects, connects);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));

  ASSERT_TRUE(redis.Start().ok());
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  absl::StatusOr<std::vector<RedisReply>> back;
  do {
    absl::SleepFor(absl::Milliseconds(20));
    back = pool.Pipeline({{"SET", "b", "2"}}, Soon());
  } while (!back.ok() && absl::Now() < give_up);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(pool.stats().healthy);
}

TEST(RedisPoolTest, StaleConnectionAfterARestartIsReplacedInTheSameCall) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  RedisPool pool(PoolOptions(redis.url()));
  ASSERT_TRUE(pool.Pipeline({{"PING"}}, Soon()).ok());  // one idle conn
  redis.Kill();
  ASSERT_TRUE(redis.Start().ok());
  // The idle connection is dead; the call retries once on a new one.
  auto r = pool.Pipeline({{"PING"}}, Soon());
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST(RedisPoolTest, RefusedConnectionIsUnavailableWithinTheDeadline) {
  RedisPool::Options o;
  o.endpoint = *ParseRedisUrl("redis://127.0.0.1:1/0");  // nothing listens
  RedisPool pool(o);
  absl::Time start = absl::Now();
  auto r = pool.Pipeline({{"PING"}}, absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

}  // namespace
}  // namespace oppmatrix
