#include "services/store/redis_client.h"

#include <hiredis/hiredis.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace oppmatrix {

RedisReply CopyReply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(CopyReply(r->element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

std::vector<size_t> NoScriptReplies(const std::vector<RedisReply>& replies) {
  std::vector<size_t> missing;
  for (size_t i = 0; i < replies.size(); ++i) {
    const RedisReply& r = replies[i];
    if (r.is_error() && absl::StartsWith(r.str, "NOSCRIPT")) {
      missing.push_back(i);
    }
  }
  return missing;
}

std::vector<RedisCommand> ScriptReloadPipeline(
    absl::Span<const std::string* const> scripts,
    const std::vector<RedisCommand>& commands,
    const std::vector<size_t>& missing) {
  std::vector<RedisCommand> retry;
  retry.reserve(scripts.size() + missing.size());
  for (const std::string* source : scripts) {
    retry.push_back({"SCRIPT", "LOAD", *source});
  }
  for (size_t i : missing) retry.push_back(commands[i]);
  return retry;
}

absl::Status TakeReloadedReplies(size_t scripts,
                                 const std::vector<size_t>& missing,
                                 std::vector<RedisReply> again,
                                 std::vector<RedisReply>* replies) {
  for (size_t i = 0; i < scripts; ++i) {
    if (again[i].is_error()) {
      return absl::InternalError(
          absl::StrCat("redis SCRIPT LOAD: ", again[i].str));
    }
  }
  for (size_t j = 0; j < missing.size(); ++j) {
    (*replies)[missing[j]] = std::move(again[scripts + j]);
  }
  return absl::OkStatus();
}

std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(
    absl::string_view id) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(id, absl::MaxSplits('-', 1));
  std::pair<uint64_t, uint64_t> out;
  if (!absl::SimpleAtoi(parts.first, &out.first) ||
      !absl::SimpleAtoi(parts.second, &out.second)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace oppmatrix
