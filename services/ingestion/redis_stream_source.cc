#include "services/ingestion/redis_stream_source.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/hash_util.h"
#include "services/common/status_macros.h"
#include "services/ingestion/dead_letters.h"

namespace oppmatrix {
namespace {

absl::Status ReplyError(const RedisReply& r, absl::string_view what) {
  return absl::InternalError(absl::StrCat(
      "redis ", what, ": ", r.is_error() ? r.str : "unexpected reply"));
}

// [[id, [field, value, ...]], ...] -> events; entries whose fields are gone
// (trimmed from the stream while pending) have an empty payload.
void AppendEntries(const RedisReply& entries, std::vector<BusEvent>& out) {
  for (const RedisReply& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;
    BusEvent e;
    e.id = entry.elements[0].str;
    const std::vector<RedisReply>& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == kEventField) e.payload = fields[i + 1].str;
      if (fields[i].str == kContentTypeField) {
        e.content_type = fields[i + 1].str;
      }
    }
    out.push_back(std::move(e));
  }
}

int64_t Int(const RedisReply& r) {
  if (r.type == RedisReply::Type::kInteger) return r.integer;
  int64_t v = 0;
  absl::SimpleAtoi(r.str, &v);
  return v;
}

// KEYS: 1 the dead-letter stream, 2 the event stream. ARGV: 1 max length,
// 2 group, 3 the event's id, then the entry's field-value pairs
// (DeadLetterFields: the one place their names are written). One script:
// the dead letter and the acknowledgement happen together or not at all.
// A failed XADD raises an error before the XACK, and a crash can't fall
// between them (which would dead-letter the event twice).
constexpr char kDeadLetterScript[] = R"lua(
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                      unpack(ARGV, 4))
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
return id
)lua";

// KEYS: 1 the stream. ARGV: 1 group, 2 consumer. Removes the consumer
// only when it has nothing pending: XGROUP DELCONSUMER drops a consumer's
// pending entries, which would then never be delivered again. Returns 1
// when removed, 0 when it had pending entries or was not there.
constexpr char kRemoveSelfScript[] = R"lua(
local there = false
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  for i = 1, #c, 2 do
    if c[i] == 'name' and c[i + 1] == ARGV[2] then there = true end
  end
end
if not there then return 0 end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
)lua";

// KEYS: 1 the stream. ARGV: 1 group, 2 idle limit ms, 3 this consumer.
// Removes the other consumers with nothing pending idle past the limit, in
// one script (a consumer can't take events between the check and the
// removal). Returns how many.
constexpr char kRemoveIdleScript[] = R"lua(
local removed = 0
local limit = tonumber(ARGV[2])
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending, idle = nil, 1, 0
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and name ~= ARGV[3] and pending == 0 and idle > limit then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed = removed + 1
  end
end
return removed
)lua";

}  // namespace

RedisStreamSource::RedisStreamSource(AsyncRedis* redis, AsyncRedis* reads,
                                     Options options)
    : redis_(redis),
      reads_(reads),
      options_(std::move(options)),
      dead_letter_source_(kDeadLetterScript),
      dead_letter_sha_(Sha1Hex(kDeadLetterScript)) {}

absl::Status RedisStreamSource::EnsureGroup() {
  if (group_ready_) return absl::OkStatus();
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({{"XGROUP", "CREATE", options_.stream,
                             options_.group, "0", "MKSTREAM"}},
                           absl::Now() + options_.timeout));
  if (r[0].is_error() && !absl::StartsWith(r[0].str, "BUSYGROUP")) {
    return ReplyError(r[0], "XGROUP CREATE");
  }
  group_ready_ = true;
  return absl::OkStatus();
}

absl::Status RedisStreamSource::CountDeliveries(std::vector<BusEvent>& events) {
  if (events.empty()) return absl::OkStatus();
  std::vector<RedisCommand> cmds;
  for (const BusEvent& e : events) {
    cmds.push_back(
        {"XPENDING", options_.stream, options_.group, e.id, e.id, "1"});
  }
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> replies,
      redis_->PipelineSync(cmds, absl::Now() + options_.timeout));
  for (size_t i = 0; i < events.size(); ++i) {
    // [[id, consumer, idle ms, deliveries]]
    const RedisReply& r = replies[i];
    if (r.elements.size() == 1 && r.elements[0].elements.size() == 4) {
      events[i].deliveries = Int(r.elements[0].elements[3]);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BusEvent>> RedisStreamSource::Read(
    int max, absl::Duration wait) {
  absl::MutexLock lock(&read_mu_);
  OPPMATRIX_RETURN_IF_ERROR(EnsureGroup());
  std::vector<BusEvent> out;
  const std::string count = absl::StrCat(max);
  // 1. What this consumer had before it restarted.
  if (!own_pending_drained_) {
    OPPMATRIX_ASSIGN_OR_RETURN(
        std::vector<RedisReply> r,
        redis_->PipelineSync(
            {{"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
              count, "STREAMS", options_.stream, pending_after_}},
            absl::Now() + options_.timeout));
    if (r[0].is_error()) {
      if (absl::StartsWith(r[0].str, "NOGROUP")) group_ready_ = false;
      return ReplyError(r[0], "XREADGROUP");
    }
    if (r[0].type == RedisReply::Type::kArray && !r[0].elements.empty()) {
      AppendEntries(r[0].elements[0].elements[1], out);
    }
    if (out.empty()) {
      own_pending_drained_ = true;
    } else {
      pending_after_ = out.back().id;
      OPPMATRIX_RETURN_IF_ERROR(CountDeliveries(out));
      return out;
    }
  }
  // Replicas gone for good (a rollout renames pods) leave their names in
  // the group; once idle long enough with nothing pending they go.
  if (options_.consumer_idle_limit > absl::ZeroDuration() &&
      absl::Now() >= next_cleanup_) {
    next_cleanup_ = absl::Now() + options_.claim_interval * 12;
    // A failure is tried again at the next interval.
    RemoveIdleConsumers().IgnoreError();
  }
  // 2. What a dead consumer left behind.
  if (absl::Now() >= next_claim_) {
    OPPMATRIX_ASSIGN_OR_RETURN(
        std::vector<RedisReply> r,
        redis_->PipelineSync(
            {{"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
              absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle)),
              "0-0", "COUNT", count}},
            absl::Now() + options_.timeout));
    if (r[0].is_error()) return ReplyError(r[0], "XAUTOCLAIM");
    // [next cursor, entries, deleted ids]
    if (r[0].elements.size() >= 2) AppendEntries(r[0].elements[1], out);
    // A full page: there may be more; look again on the next read.
    next_claim_ = static_cast<int>(out.size()) == max
                      ? absl::InfinitePast()
                      : absl::Now() + options_.claim_interval;
    if (!out.empty()) {
      OPPMATRIX_RETURN_IF_ERROR(CountDeliveries(out));
      return out;
    }
  }
  // 3. New events, batched by the bus itself: a read takes what the
  // stream holds, up to `max`, and returns at once; only an empty stream
  // is waited on, up to `wait`. Little traffic makes small batches with
  // no wait; a backlog makes full ones.
  const absl::Time until = absl::Now() + wait;
  do {
    // One BLOCK stays within half the reads connection's command timeout
    // (a longer one would be taken for a hung Redis); a longer wait is
    // several of them.
    const int64_t block_ms = std::max<int64_t>(
        1, absl::ToInt64Milliseconds(std::min(
               until - absl::Now(), reads_->options().command_timeout / 2)));
    OPPMATRIX_ASSIGN_OR_RETURN(
        std::vector<RedisReply> r,
        reads_->PipelineSync(
            {{"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
              absl::StrCat(max - static_cast<int>(out.size())), "BLOCK",
              absl::StrCat(block_ms), "STREAMS", options_.stream, ">"}},
            absl::Now() + absl::Milliseconds(block_ms) + options_.timeout));
    if (r[0].is_error()) {
      if (absl::StartsWith(r[0].str, "NOGROUP")) group_ready_ = false;
      // Events already read stay pending and come back after a restart;
      // hand over what is in hand rather than fail the read.
      if (!out.empty()) break;
      return ReplyError(r[0], "XREADGROUP");
    }
    if (r[0].type == RedisReply::Type::kArray && !r[0].elements.empty()) {
      AppendEntries(r[0].elements[0].elements[1], out);
    }
  } while (out.empty() && absl::Now() < until);
  return out;  // first deliveries: the count is 1
}

absl::StatusOr<bool> RedisStreamSource::RemoveSelf() {
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({{"EVAL", kRemoveSelfScript, "1", options_.stream,
                             options_.group, options_.consumer}},
                           absl::Now() + options_.timeout));
  if (r[0].is_error()) {
    if (absl::StartsWith(r[0].str, "NOGROUP")) return false;
    return ReplyError(r[0], "removing the consumer");
  }
  return r[0].integer == 1;
}

absl::StatusOr<int64_t> RedisStreamSource::RemoveIdleConsumers() {
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync(
          {{"EVAL", kRemoveIdleScript, "1", options_.stream, options_.group,
            absl::StrCat(
                absl::ToInt64Milliseconds(options_.consumer_idle_limit)),
            options_.consumer}},
          absl::Now() + options_.timeout));
  if (r[0].is_error()) {
    if (absl::StartsWith(r[0].str, "NOGROUP")) return 0;
    return ReplyError(r[0], "removing idle consumers");
  }
  return r[0].integer;
}

absl::StatusOr<int64_t> RedisStreamSource::TrimAcknowledged() {
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> groups,
      redis_->PipelineSync({{"XINFO", "GROUPS", options_.stream}},
                           absl::Now() + options_.timeout));
  if (groups[0].is_error()) return ReplyError(groups[0], "XINFO GROUPS");
  if (groups[0].elements.empty()) return 0;  // no reader yet: keep all
  // Per group: the oldest event it still needs is its oldest pending one,
  // or, with none pending, the one after the last it was given.
  std::vector<std::string> names;
  std::vector<std::string> floors;
  for (const RedisReply& group : groups[0].elements) {
    const std::vector<RedisReply>& f = group.elements;
    std::string name, last;
    int64_t pending = 0;
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str == "name") name = f[i + 1].str;
      if (f[i].str == "pending") pending = Int(f[i + 1]);
      if (f[i].str == "last-delivered-id") last = f[i + 1].str;
    }
    if (pending > 0) {
      names.push_back(name);
    } else {
      floors.push_back(last);
    }
  }
  if (!names.empty()) {
    std::vector<RedisCommand> cmds;
    for (const std::string& name : names) {
      cmds.push_back({"XPENDING", options_.stream, name});
    }
    OPPMATRIX_ASSIGN_OR_RETURN(
        std::vector<RedisReply> r,
        redis_->PipelineSync(cmds, absl::Now() + options_.timeout));
    for (const RedisReply& summary : r) {
      // [count, smallest id, greatest id, [[consumer, count], ...]]
      if (summary.is_error() || summary.elements.size() < 2) {
        return ReplyError(summary, "XPENDING");
      }
      floors.push_back(summary.elements[1].str);
    }
  }
  // The lowest floor; "0-0" (a group that has read nothing) or anything
  // unreadable keeps everything.
  std::string floor;
  std::pair<uint64_t, uint64_t> lowest{UINT64_MAX, UINT64_MAX};
  for (const std::string& f : floors) {
    std::optional<std::pair<uint64_t, uint64_t>> id = ParseStreamId(f);
    if (!id.has_value() || *id == std::pair<uint64_t, uint64_t>{0, 0}) {
      return 0;
    }
    if (*id < lowest) {
      lowest = *id;
      floor = f;
    }
  }
  // Entries below the floor: every group has acknowledged them.
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({{"XTRIM", options_.stream, "MINID", floor}},
                           absl::Now() + options_.timeout));
  if (r[0].is_error()) return ReplyError(r[0], "XTRIM");
  return Int(r[0]);
}

absl::Status RedisStreamSource::KeepClaimed(absl::Span<const std::string> ids) {
  if (ids.empty()) return absl::OkStatus();
  // XCLAIM to ourselves with min-idle 0 resets the idle time; JUSTID does
  // not count a delivery.
  RedisCommand cmd = {"XCLAIM", options_.stream, options_.group,
                      options_.consumer, "0"};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  cmd.push_back("JUSTID");
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({cmd}, absl::Now() + options_.timeout));
  if (r[0].is_error()) return ReplyError(r[0], "XCLAIM");
  return absl::OkStatus();
}

absl::Status RedisStreamSource::Ack(absl::Span<const std::string> ids) {
  if (ids.empty()) return absl::OkStatus();
  RedisCommand cmd = {"XACK", options_.stream, options_.group};
  cmd.insert(cmd.end(), ids.begin(), ids.end());
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({cmd}, absl::Now() + options_.timeout));
  if (r[0].is_error()) return ReplyError(r[0], "XACK");
  bool trim = false;
  if (options_.trim_interval > absl::ZeroDuration()) {
    absl::MutexLock lock(&trim_mu_);
    trim = absl::Now() >= next_trim_;
    if (trim) next_trim_ = absl::Now() + options_.trim_interval;
  }
  if (trim) {
    // A failed trim is tried again at the next interval; the events are
    // acknowledged either way.
    TrimAcknowledged().IgnoreError();
  }
  return absl::OkStatus();
}

RedisCommand RedisStreamSource::DeadLetterCommand(
    const BusEvent& event, absl::string_view reason) const {
  RedisCommand cmd = {"EVALSHA",
                      dead_letter_sha_,
                      "2",
                      options_.dead_letter_stream,
                      options_.stream,
                      absl::StrCat(options_.dead_letter_max_len),
                      options_.group,
                      event.id};
  for (std::string& f :
       DeadLetterFields(event, reason, options_.stream, absl::Now())) {
    cmd.push_back(std::move(f));
  }
  return cmd;
}

absl::Status RedisStreamSource::DeadLetter(const BusEvent& event,
                                           absl::string_view reason) {
  const DeadLetterItem item{&event, std::string(reason)};
  return DeadLetterAll({&item, 1})[0];
}

std::vector<absl::Status> RedisStreamSource::DeadLetterAll(
    absl::Span<const DeadLetterItem> items) {
  if (items.empty()) return {};
  std::vector<RedisCommand> cmds;
  cmds.reserve(items.size());
  for (const DeadLetterItem& item : items) {
    cmds.push_back(DeadLetterCommand(*item.event, item.reason));
  }
  const std::string* scripts[] = {&dead_letter_source_};
  absl::StatusOr<std::vector<RedisReply>> r = PipelineLoadingScriptsSync(
      *redis_, std::move(cmds), scripts, absl::Now() + options_.timeout);
  if (!r.ok()) return std::vector<absl::Status>(items.size(), r.status());
  std::vector<absl::Status> out;
  out.reserve(items.size());
  for (const RedisReply& reply : *r) {
    out.push_back(reply.is_error() ? ReplyError(reply, "dead letter")
                                   : absl::OkStatus());
  }
  return out;
}

absl::StatusOr<SourceStats> RedisStreamSource::Stats() {
  OPPMATRIX_RETURN_IF_ERROR(EnsureGroup());
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({{"XINFO", "GROUPS", options_.stream}},
                           absl::Now() + options_.timeout));
  return StatsReply(r[0]);
}

void RedisStreamSource::StatsAsync(StatsCallback done) {
  // The group is made first if missing, in the same round trip.
  std::vector<RedisCommand> cmds;
  const bool create = !group_ready_;
  if (create) {
    cmds.push_back(
        {"XGROUP", "CREATE", options_.stream, options_.group, "0", "MKSTREAM"});
  }
  cmds.push_back({"XINFO", "GROUPS", options_.stream});
  redis_->Pipeline(
      std::move(cmds), absl::Now() + options_.timeout,
      [this, create, done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> r) mutable {
        if (!r.ok()) {
          std::move(done)(r.status());
          return;
        }
        if (create) {
          const RedisReply& made = r->front();
          if (made.is_error() && !absl::StartsWith(made.str, "BUSYGROUP")) {
            std::move(done)(ReplyError(made, "XGROUP CREATE"));
            return;
          }
          group_ready_ = true;
        }
        std::move(done)(StatsReply(r->back()));
      });
}

absl::StatusOr<SourceStats> RedisStreamSource::StatsReply(
    const RedisReply& reply) const {
  if (reply.is_error()) return ReplyError(reply, "XINFO GROUPS");
  SourceStats stats;
  for (const RedisReply& group : reply.elements) {
    const std::vector<RedisReply>& f = group.elements;
    bool ours = false;
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str == "name" && f[i + 1].str == options_.group) ours = true;
    }
    if (!ours) continue;
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str == "pending") stats.pending = Int(f[i + 1]);
      if (f[i].str == "consumers") stats.consumers = Int(f[i + 1]);
      if (f[i].str == "lag") stats.lag = Int(f[i + 1]);
    }
  }
  return stats;
}

RedisStreamSink::RedisStreamSink(AsyncRedis* redis, Options options)
    : redis_(redis), options_(std::move(options)) {}

std::vector<RedisCommand> RedisStreamSink::AppendCommands(
    absl::Span<const std::string> payloads) const {
  std::vector<RedisCommand> cmds;
  cmds.reserve(payloads.size());
  for (const std::string& p : payloads) {
    RedisCommand cmd = {"XADD", options_.stream};
    if (options_.max_len > 0) {
      cmd.insert(cmd.end(), {"MAXLEN", "~", absl::StrCat(options_.max_len)});
    }
    cmd.insert(cmd.end(), {"*", kEventField, p});
    if (!options_.content_type.empty()) {
      cmd.insert(cmd.end(), {kContentTypeField, options_.content_type});
    }
    cmds.push_back(std::move(cmd));
  }
  return cmds;
}

absl::Status RedisStreamSink::AppendReplies(
    const std::vector<RedisReply>& replies) {
  for (const RedisReply& reply : replies) {
    if (reply.is_error()) return ReplyError(reply, "XADD");
  }
  return absl::OkStatus();
}

absl::Status RedisStreamSink::Append(absl::Span<const std::string> payloads) {
  if (payloads.empty()) return absl::OkStatus();
  const absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<std::vector<RedisReply>> r =
      redis_->PipelineSync(AppendCommands(payloads), deadline);
  if (!r.ok()) return r.status();
  return AppendReplies(*r);
}

void RedisStreamSink::AppendAsync(std::vector<std::string> payloads,
                                  AppendCallback done) {
  if (payloads.empty()) {
    EventSink::AppendAsync(std::move(payloads), std::move(done));
    return;
  }
  redis_->Pipeline(AppendCommands(payloads), absl::Now() + options_.timeout,
                   [done = std::move(done)](
                       absl::StatusOr<std::vector<RedisReply>> r) mutable {
                     std::move(done)(r.ok() ? AppendReplies(*r) : r.status());
                   });
}

}  // namespace oppmatrix
