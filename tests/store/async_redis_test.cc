// AsyncRedis against a real redis-server on a loopback port of its own:
// replies in order, many callers' commands sharing writes, AUTH and SELECT
// from the URL, Redis down (fast UNAVAILABLE, then recovery by itself),
// Redis frozen (each call answers by its deadline, the connection is
// dropped after the command timeout), and stopping with calls in flight.
#include "services/store/async_redis.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using Replies = absl::StatusOr<std::vector<RedisReply>>;

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::unique_ptr<AsyncRedis> Client(const std::string& url,
                                   AsyncRedis::Options options = {}) {
  absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(url);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  options.endpoint = *endpoint;
  absl::StatusOr<std::unique_ptr<AsyncRedis>> client =
      AsyncRedis::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

// Waits (in real time, bounded) until `f` holds: for recovery after a
// backoff, which the client runs on its own timers.
template <typename F>
bool Eventually(F f, absl::Duration bound = absl::Seconds(10)) {
  const absl::Time until = In(bound);
  while (absl::Now() < until) {
    if (f()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return f();
}

class AsyncRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start().ok()); }
  testing::RedisServer redis_;
};

TEST(AsyncRedisOptionsTest, NamesTheOptionOutOfRange) {
  AsyncRedis::Options loops;
  loops.loops = 0;
  EXPECT_EQ(AsyncRedis::Create(loops).status().message(),
            "loops: 0 is below 1");
  AsyncRedis::Options timeout;
  timeout.command_timeout = absl::ZeroDuration();
  EXPECT_EQ(AsyncRedis::Create(timeout).status().message(),
            "command_timeout: 0 is not positive");
}

TEST_F(AsyncRedisTest, RepliesComeInOrderWithRedisErrorsAsReplies) {
  auto client = Client(redis_.url());
  Replies r = client->PipelineSync({{"SET", "k", std::string("v\0w", 3)},
                                    {"GET", "k"},
                                    {"INCR", "k"},
                                    {"GET", "missing"},
                                    {"RPUSH", "l", "a", "b"},
                                    {"LRANGE", "l", "0", "-1"}},
                                   In(absl::Seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].type, RedisReply::Type::kStatus);
  EXPECT_EQ((*r)[1].str, std::string("v\0w", 3));
  EXPECT_TRUE((*r)[2].is_error());
  EXPECT_EQ((*r)[3].type, RedisReply::Type::kNil);
  EXPECT_EQ((*r)[4].integer, 2);
  ASSERT_EQ((*r)[5].elements.size(), 2u);
  EXPECT_EQ((*r)[5].elements[1].str, "b");
  // An empty pipeline needs no Redis.
  Replies empty = client->PipelineSync({}, In(absl::Seconds(5)));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(AsyncRedisTest, ConcurrentCallersShareWrites) {
  AsyncRedis::Options options;
  options.loops = 2;
  auto client = Client(redis_.url(), options);
  constexpr int kThreads = 4;
  constexpr int kCalls = 500;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  absl::Notification all;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const std::string key = absl::StrCat("k", t, "-", i);
        client->Pipeline({{"SET", key, key}, {"GET", key}},
                         In(absl::Seconds(10)), [&, key](Replies r) {
                           if (r.ok() && r->size() == 2 && (*r)[1].str == key) {
                             ++ok;
                           }
                           if (++done == kThreads * kCalls) all.Notify();
                         });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(ok.load(), kThreads * kCalls);
  AsyncRedis::Stats stats = client->stats();
  EXPECT_EQ(stats.pipelines, kThreads * kCalls);
  EXPECT_EQ(stats.commands, 2 * kThreads * kCalls);
  // Callers that queue while a loop is busy ride along in its next write.
  EXPECT_LT(stats.flushes, kThreads * kCalls) << "one write per call";
  EXPECT_TRUE(stats.healthy);
}

TEST_F(AsyncRedisTest, AFlushDelayGathersCallsIntoOneWrite) {
  AsyncRedis::Options options;
  options.flush_delay = absl::Milliseconds(300);
  auto client = Client(redis_.url(), options);
  // Connected first, so the 20 calls below meet a ready connection.
  ASSERT_TRUE(client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok());
  const int64_t flushes = client->stats().flushes;
  std::atomic<int> done{0};
  absl::Notification all;
  for (int i = 0; i < 20; ++i) {
    client->Pipeline({{"INCR", "n"}}, In(absl::Seconds(10)), [&](Replies r) {
      EXPECT_TRUE(r.ok());
      if (++done == 20) all.Notify();
    });
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(client->stats().flushes - flushes, 1);
  EXPECT_EQ(redis_.Command({"GET", "n"})->str, "20");
}

TEST_F(AsyncRedisTest, SelectsTheDatabaseOfTheUrl) {
  auto client = Client(redis_.url(3));
  ASSERT_TRUE(
      client->PipelineSync({{"SET", "where", "db3"}}, In(absl::Seconds(5)))
          .ok());
  EXPECT_EQ(redis_.Command({"GET", "where"}, 3)->str, "db3");
  EXPECT_EQ(redis_.Command({"GET", "where"}, 0)->type, RedisReply::Type::kNil);
}

TEST(AsyncRedisAuthTest, AuthenticatesAndNamesAWrongPassword) {
  testing::RedisServer redis({"--requirepass", "s3cret"});
  ASSERT_TRUE(redis.Start().ok());
  const std::string good =
      absl::StrCat("redis://:s3cret@127.0.0.1:", redis.port(), "/0");
  EXPECT_TRUE(
      Client(good)->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok());
  const std::string bad =
      absl::StrCat("redis://:wrong@127.0.0.1:", redis.port(), "/0");
  Replies r = Client(bad)->PipelineSync({{"PING"}}, In(absl::Seconds(5)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied)
      << r.status();
  EXPECT_NE(r.status().message().find("AUTH failed"), std::string::npos);
  EXPECT_EQ(r.status().message().find("wrong"), std::string::npos)
      << "the password is not in the error";
}

TEST_F(AsyncRedisTest, RedisDownFailsFastAndRecoversByItself) {
  AsyncRedis::Options options;
  options.min_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(200);
  auto client = Client(redis_.url(), options);
  ASSERT_TRUE(client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok());
  redis_.Kill();
  // The connection's loss fails the call; later ones fail at once.
  Replies lost = client->PipelineSync({{"PING"}}, In(absl::Seconds(5)));
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    Replies r = client->PipelineSync({{"PING"}}, In(absl::Seconds(5)));
    EXPECT_FALSE(r.ok());
  }
  // 100 calls on a down Redis, each at most one refused connect.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(client->stats().healthy);
  ASSERT_TRUE(redis_.Start().ok());
  EXPECT_TRUE(Eventually([&] {
    return client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok();
  }));
  EXPECT_TRUE(client->stats().healthy);
}

// Calls against a frozen Redis, `before` each: each answers
// DEADLINE_EXCEEDED by its deadline (plus a bound for a loaded machine),
// never later, and the calling thread is never held.
void ExpectDeadlinesKept(AsyncRedis& client, int calls) {
  std::atomic<int> answered{0};
  std::atomic<int> late{0};
  std::atomic<int> other{0};
  absl::Notification all;
  const absl::Time start = absl::Now();
  for (int i = 0; i < calls; ++i) {
    const absl::Time deadline = In(absl::Milliseconds(50 + i % 100));
    client.Pipeline({{"PING"}}, deadline, [&, deadline, calls](Replies r) {
      if (!absl::IsDeadlineExceeded(r.status())) ++other;
      if (absl::Now() > deadline + absl::Milliseconds(300)) ++late;
      if (++answered == calls) all.Notify();
    });
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "Pipeline() blocked";
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(AsyncRedisTest, AFrozenRedisDelaysNoCallPastItsDeadline) {
  // A command timeout far past the deadlines: they are kept by their own
  // timers, not by the hung connection being dropped.
  AsyncRedis::Options options;
  options.command_timeout = absl::Seconds(3);
  options.min_backoff = absl::Milliseconds(50);
  auto client = Client(redis_.url(), options);
  ASSERT_TRUE(client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok());
  redis_.Pause();
  ExpectDeadlinesKept(*client, 200);
  // Its replies 3 s overdue, the hung connection is dropped.
  EXPECT_TRUE(Eventually([&] { return client->stats().failures >= 1; }));
  EXPECT_FALSE(client->stats().healthy);
  redis_.Resume();
  EXPECT_TRUE(Eventually([&] {
    return client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok();
  }));
}

TEST_F(AsyncRedisTest, CallsWaitingForAConnectionKeepTheirDeadlines) {
  // A frozen Redis accepts the TCP connection but never answers the
  // handshake: the calls wait for a connection that does not come.
  redis_.Pause();
  AsyncRedis::Options options;
  options.connect_timeout = absl::Seconds(3);
  auto client = Client(redis_.url(), options);
  ExpectDeadlinesKept(*client, 200);
  EXPECT_FALSE(client->stats().healthy);
  EXPECT_EQ(client->stats().connects, 0);
  redis_.Resume();
}

TEST_F(AsyncRedisTest, TheConnectTimeoutBoundsAHungHandshake) {
  redis_.Pause();
  AsyncRedis::Options options;
  options.connect_timeout = absl::Milliseconds(200);
  auto client = Client(redis_.url(), options);
  const absl::Time start = absl::Now();
  Replies r = client->PipelineSync({{"PING"}}, absl::InfiniteFuture());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("within 200ms"), std::string::npos)
      << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  redis_.Resume();
}

TEST_F(AsyncRedisTest, RefusesCommandsAConnectionCannotShare) {
  auto client = Client(redis_.url());
  struct Case {
    std::vector<RedisCommand> commands;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{{"PING"}, {}}, "command 1 is empty"},
           {{{"subscribe", "news"}},
            "command 0: SUBSCRIBE is not for a connection every caller "
            "shares"},
           {{{"MONITOR"}},
            "command 0: MONITOR is not for a connection every caller shares"},
           {{{"SELECT", "2"}},
            "command 0: SELECT is not for a connection every caller shares"},
       }) {
    Replies r = client->PipelineSync(c.commands, In(absl::Seconds(5)));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.error);
  }
  // The connection is untouched.
  EXPECT_TRUE(client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok());
}

TEST_F(AsyncRedisTest, StoppingWithSeveralLoopsAnswersFollowUpCalls) {
  std::atomic<int> answered{0};
  std::atomic<int> follow_ups{0};
  {
    AsyncRedis::Options options;
    options.loops = 2;
    auto client = Client(redis_.url(), options);
    ASSERT_TRUE(client->PipelineSync({{"PING"}}, In(absl::Seconds(5))).ok());
    redis_.Pause();
    AsyncRedis* raw = client.get();
    for (int i = 0; i < 40; ++i) {
      client->Pipeline({{"PING"}}, absl::InfiniteFuture(), [&, raw](Replies) {
        ++answered;
        // A retry, as a caller might: to whichever loop is next.
        raw->Pipeline({{"PING"}}, absl::InfiniteFuture(), [&](Replies again) {
          EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
          ++follow_ups;
        });
      });
    }
  }
  EXPECT_EQ(answered.load(), 40);
  EXPECT_EQ(follow_ups.load(), 40);
  redis_.Resume();
}

TEST_F(AsyncRedisTest, StoppingAnswersEveryCallInFlight) {
  std::atomic<int> answered{0};
  {
    auto client = Client(redis_.url());
    redis_.Pause();
    for (int i = 0; i < 50; ++i) {
      client->Pipeline({{"PING"}}, absl::InfiniteFuture(), [&](Replies r) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
        ++answered;
      });
    }
  }
  EXPECT_EQ(answered.load(), 50);
  redis_.Resume();
}

}  // namespace
}  // namespace oppmatrix
