#include "services/ingestion/dead_letters.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

DeadLetterEntry ToEntry(const RedisReply& entry) {
  DeadLetterEntry e;
  e.id = entry.elements[0].str;
  const std::vector<RedisReply>& f = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    const std::string& k = f[i].str;
    const std::string& v = f[i + 1].str;
    int64_t n = 0;
    if (k == "event") e.event = v;
    if (k == "reason") e.reason = v;
    if (k == "deliveries" && absl::SimpleAtoi(v, &n)) e.deliveries = n;
    if (k == "source_id") e.source_id = v;
    if (k == "time" && absl::SimpleAtoi(v, &n))
      e.time = absl::FromUnixMillis(n);
  }
  return e;
}

}  // namespace

DeadLetterQueue::DeadLetterQueue(RedisPool* pool, Options options)
    : pool_(pool), options_(std::move(options)) {}

absl::StatusOr<std::vector<DeadLetterEntry>> DeadLetterQueue::List(
    int count, const std::string& after) {
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      pool_->Pipeline({{"XRANGE", options_.dead_letter_stream,
                        after.empty() ? "-" : absl::StrCat("(", after), "+",
                        "COUNT", absl::StrCat(count)}},
                      absl::Now() + options_.timeout));
  if (r[0].is_error()) {
    return absl::InvalidArgumentError(absl::StrCat("XRANGE: ", r[0].str));
  }
  std::vector<DeadLetterEntry> out;
  for (const RedisReply& entry : r[0].elements) {
    if (entry.elements.size() == 2) out.push_back(ToEntry(entry));
  }
  return out;
}

absl::StatusOr<int> DeadLetterQueue::Replay(absl::Span<const std::string> ids) {
  std::vector<RedisCommand> reads;
  for (const std::string& id : ids) {
    reads.push_back({"XRANGE", options_.dead_letter_stream, id, id});
  }
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> found,
      pool_->Pipeline(reads, absl::Now() + options_.timeout));
  std::vector<RedisCommand> writes;
  int replayed = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (found[i].is_error() || found[i].elements.size() != 1) {
      return absl::NotFoundError(absl::StrCat("no entry ", ids[i], " in ",
                                              options_.dead_letter_stream));
    }
    DeadLetterEntry e = ToEntry(found[i].elements[0]);
    if (e.event.empty()) continue;
    writes.push_back({"XADD", options_.stream, "*", "event", e.event});
    writes.push_back({"XDEL", options_.dead_letter_stream, e.id});
    ++replayed;
  }
  if (writes.empty()) return 0;
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      pool_->Pipeline(writes, absl::Now() + options_.timeout));
  for (const RedisReply& reply : r) {
    if (reply.is_error()) {
      return absl::InternalError(absl::StrCat("replaying: ", reply.str));
    }
  }
  return replayed;
}

}  // namespace oppmatrix
