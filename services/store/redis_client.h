// The types every Redis user here shares: a reply copied out of hiredis,
// a command, stream ids, and the NOSCRIPT re-run of a pipeline. The client
// itself is AsyncRedis (async_redis.h): there is no blocking pool; a tool
// or a test that wants an answer in hand waits on it (PipelineSync).
#ifndef OPPMATRIX_SERVICES_STORE_REDIS_CLIENT_H_
#define OPPMATRIX_SERVICES_STORE_REDIS_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "services/store/redis_url.h"

struct redisReply;

namespace oppmatrix {

// A Redis reply, copied out of hiredis.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::kError; }
};

// `r` (hiredis's) as a RedisReply.
RedisReply CopyReply(const redisReply* r);

// One command and its arguments (binary-safe).
using RedisCommand = std::vector<std::string>;

// A stream entry id "<ms>-<seq>" as a pair that orders like the stream;
// nullopt when `id` is not one.
std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(
    absl::string_view id);

// The NOSCRIPT re-run of PipelineLoadingScriptsAsync (async_redis.h): the
// indexes of the replies Redis answered NOSCRIPT; the pipeline that loads
// every source in `scripts` and runs those commands again; and that
// pipeline's replies put in place of the NOSCRIPT ones (INTERNAL when a
// SCRIPT LOAD failed).
std::vector<size_t> NoScriptReplies(const std::vector<RedisReply>& replies);
std::vector<RedisCommand> ScriptReloadPipeline(
    absl::Span<const std::string* const> scripts,
    const std::vector<RedisCommand>& commands,
    const std::vector<size_t>& missing);
absl::Status TakeReloadedReplies(size_t scripts,
                                 const std::vector<size_t>& missing,
                                 std::vector<RedisReply> again,
                                 std::vector<RedisReply>* replies);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_CLIENT_H_
