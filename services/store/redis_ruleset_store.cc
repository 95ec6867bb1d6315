#include "services/store/redis_ruleset_store.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/hash_util.h"

namespace oppmatrix {
namespace {

// KEYS of every script: 1 yaml:<T>, 2 meta:<T>, 3 active, 4 stack:<T>,
// 5 log:<T>, 6 serial, 7 rescore:<T>, 8 rescoring. ARGV[1] is the tenant.
//
// Upload: ARGV 2 version, 3 yaml, 4 meta, 5 most versions.
// {1, meta} stored; {0, meta} stored before; {-1} full.
constexpr char kUpload[] = R"lua(
local old = redis.call('HGET', KEYS[2], ARGV[2])
if old then return {0, old} end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then
  local keep = {}
  local active = redis.call('HGET', KEYS[3], ARGV[1])
  if active then keep[active] = true end
  for _, v in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do keep[v] = true end
  local meta = redis.call('HGETALL', KEYS[2])
  local oldest, oldest_ms
  for i = 1, #meta, 2 do
    if not keep[meta[i]] then
      local ms = tonumber(string.match(meta[i + 1], '^(%d+)')) or 0
      if not oldest or ms < oldest_ms then oldest, oldest_ms = meta[i], ms end
    end
  end
  if not oldest then return {-1} end
  redis.call('HDEL', KEYS[1], oldest)
  redis.call('HDEL', KEYS[2], oldest)
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
return {1, ARGV[4]}
)lua";

// Publish: ARGV 2 version, 3 now ms, 4 author, 5 rollback depth, 6 log
// length. {-1} not uploaded; {0, previous, yaml} in force already; {1,
// previous, yaml, rescore id}, the rescore started.
constexpr char kPublish[] = R"lua(
local yaml = redis.call('HGET', KEYS[1], ARGV[2])
if not yaml then return {-1} end
local cur = redis.call('HGET', KEYS[3], ARGV[1]) or ''
if cur == ARGV[2] then return {0, cur, yaml} end
redis.call('LPUSH', KEYS[4], cur)
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('LPUSH', KEYS[5],
           table.concat({ARGV[3], 'p', ARGV[2], cur, ARGV[4]}, '|'))
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
local id = redis.call('INCR', KEYS[6])
-- A new rescore, in place of any before.
redis.call('DEL', KEYS[7])
redis.call('HSET', KEYS[7], 'id', id, 'v', ARGV[2], 'state', 'running',
           'start', ARGV[3], 'upd', ARGV[3], 'cur', '', 'done', 0, 'moved', 0,
           'skipped', 0, 'total', -1, 'owner', '', 'lease', 0)
redis.call('SADD', KEYS[8], ARGV[1])
return {1, cur, yaml, id}
)lua";

// Rollback: ARGV 2 now ms, 3 author, 4 log length.
// {-1} on the default already; {1, version, previous, yaml, rescore id}.
constexpr char kRollback[] = R"lua(
local cur = redis.call('HGET', KEYS[3], ARGV[1]) or ''
local to = redis.call('LPOP', KEYS[4])
if not to then
  if cur == '' then return {-1} end
  to = ''
end
local yaml = ''
if to ~= '' then yaml = redis.call('HGET', KEYS[1], to) or '' end
if to == '' or yaml == '' then
  to = ''
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[3], ARGV[1], to)
end
redis.call('LPUSH', KEYS[5], table.concat({ARGV[2], 'r', to, cur, ARGV[3]}, '|'))
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[4]) - 1)
local id = redis.call('INCR', KEYS[6])
redis.call('DEL', KEYS[7])
redis.call('HSET', KEYS[7], 'id', id, 'v', to, 'state', 'running',
           'start', ARGV[2], 'upd', ARGV[2], 'cur', '', 'done', 0, 'moved', 0,
           'skipped', 0, 'total', -1, 'owner', '', 'lease', 0)
redis.call('SADD', KEYS[8], ARGV[1])
return {1, to, cur, yaml, id}
)lua";

// Claim a rescore: ARGV 2 owner, 3 now ms, 4 lease ms. {0} finished or
// another's; {1, the job's HGETALL}.
constexpr char kClaim[] = R"lua(
local j = redis.call('HMGET', KEYS[7], 'state', 'owner', 'lease')
if j[1] ~= 'running' then
  redis.call('SREM', KEYS[8], ARGV[1])
  return {0}
end
local owner = j[2] or ''
if owner ~= '' and owner ~= ARGV[2] and
    (tonumber(j[3]) or 0) > tonumber(ARGV[3]) then
  return {0}
end
redis.call('HSET', KEYS[7], 'owner', ARGV[2],
           'lease', tonumber(ARGV[3]) + tonumber(ARGV[4]))
return {1, redis.call('HGETALL', KEYS[7])}
)lua";

// A rescore's step: ARGV 2 owner, 3 job id, 4 cursor, 5-7 done, moved and
// skipped to add, 8 total ('' unchanged), 9 now ms, 10 lease ms (0: give it
// up), 11 finished (1/0). 0 when the job is not the owner's; 1.
constexpr char kAdvance[] = R"lua(
local j = redis.call('HMGET', KEYS[7], 'state', 'owner', 'id')
if j[1] ~= 'running' or j[2] ~= ARGV[2] or j[3] ~= ARGV[3] then return 0 end
redis.call('HINCRBY', KEYS[7], 'done', ARGV[5])
redis.call('HINCRBY', KEYS[7], 'moved', ARGV[6])
redis.call('HINCRBY', KEYS[7], 'skipped', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[7], 'total', ARGV[8]) end
local lease = tonumber(ARGV[10])
redis.call('HSET', KEYS[7], 'cur', ARGV[4], 'upd', ARGV[9],
           'lease', lease > 0 and tonumber(ARGV[9]) + lease or 0)
if lease == 0 then redis.call('HSET', KEYS[7], 'owner', '') end
if ARGV[11] == '1' then
  redis.call('HSET', KEYS[7], 'state', 'done', 'end', ARGV[9], 'owner', '')
  redis.call('SREM', KEYS[8], ARGV[1])
end
return 1
)lua";

absl::Status ReplyError(const RedisReply& reply, absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("redis ", what, ": ",
                   reply.is_error() ? reply.str : "unexpected reply type"));
}

absl::Time FromMillis(absl::string_view ms) {
  int64_t v = 0;
  return absl::SimpleAtoi(ms, &v) ? absl::FromUnixMillis(v) : absl::UnixEpoch();
}

// "<ms>|<author>" of a meta entry.
StoredRulesetVersion ParseMeta(std::string version, absl::string_view meta) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(meta, absl::MaxSplits('|', 1));
  return {std::move(version), FromMillis(parts.first),
          std::string(parts.second)};
}

// "<ms>|p or r|<version>|<previous>|<author>" of a log entry.
RulesetChange ParseLogEntry(absl::string_view entry) {
  std::vector<absl::string_view> p =
      absl::StrSplit(entry, absl::MaxSplits('|', 4));
  p.resize(5);
  return {.time = FromMillis(p[0]),
          .author = std::string(p[4]),
          .version = std::string(p[2]),
          .previous_version = std::string(p[3]),
          .rollback = p[1] == "r"};
}

// A rescore's hash, as HGETALL's flat field/value list.
RescoreJob ParseRescore(std::string tenant_id,
                        const std::vector<RedisReply>& kv) {
  RescoreJob j{.tenant_id = std::move(tenant_id)};
  auto number = [](const std::string& v) {
    int64_t n = 0;
    return absl::SimpleAtoi(v, &n) ? n : 0;
  };
  for (size_t i = 0; i + 1 < kv.size(); i += 2) {
    const std::string& k = kv[i].str;
    const std::string& v = kv[i + 1].str;
    if (k == "id")
      j.id = number(v);
    else if (k == "v")
      j.version = v;
    else if (k == "state")
      j.finished = v == "done";
    else if (k == "cur")
      j.cursor = v;
    else if (k == "done")
      j.done = number(v);
    else if (k == "moved")
      j.moved = number(v);
    else if (k == "skipped")
      j.skipped = number(v);
    else if (k == "total")
      j.total = v.empty() ? -1 : number(v);
    else if (k == "start")
      j.started_time = FromMillis(v);
    else if (k == "upd")
      j.updated_time = FromMillis(v);
    else if (k == "end")
      j.finished_time = FromMillis(v);
    else if (k == "owner")
      j.owner = v;
    else if (k == "lease")
      j.lease_until = FromMillis(v);
  }
  return j;
}

// An array reply of at least `n` elements whose first is an integer.
bool IsScriptReply(const RedisReply& r, size_t n) {
  return r.type == RedisReply::Type::kArray && r.elements.size() >= n &&
         r.elements[0].type == RedisReply::Type::kInteger;
}

}  // namespace

RedisRulesetStore::RedisRulesetStore(AsyncRedis* redis, Options options)
    : redis_(redis),
      options_(std::move(options)),
      upload_(kUpload),
      upload_sha_(Sha1Hex(upload_)),
      publish_(kPublish),
      publish_sha_(Sha1Hex(publish_)),
      rollback_(kRollback),
      rollback_sha_(Sha1Hex(rollback_)),
      claim_(kClaim),
      claim_sha_(Sha1Hex(claim_)),
      advance_(kAdvance),
      advance_sha_(Sha1Hex(advance_)) {}

std::string RedisRulesetStore::Key(absl::string_view name) const {
  return absl::StrCat(options_.key_prefix, ":{rulesets}:", name);
}

RedisCommand RedisRulesetStore::Eval(const std::string& sha,
                                     absl::string_view tenant_id,
                                     std::vector<std::string> args) const {
  RedisCommand cmd = {"EVALSHA",
                      sha,
                      "8",
                      Key(absl::StrCat("yaml:", tenant_id)),
                      Key(absl::StrCat("meta:", tenant_id)),
                      Key("active"),
                      Key(absl::StrCat("stack:", tenant_id)),
                      Key(absl::StrCat("log:", tenant_id)),
                      Key("serial"),
                      Key(absl::StrCat("rescore:", tenant_id)),
                      Key("rescoring"),
                      std::string(tenant_id)};
  for (std::string& a : args) cmd.push_back(std::move(a));
  return cmd;
}

void RedisRulesetStore::Run(std::vector<RedisCommand> commands,
                            absl::Time deadline, AsyncRedis::Callback done) {
  const std::string* scripts[] = {&upload_, &publish_, &rollback_, &claim_,
                                  &advance_};
  PipelineLoadingScriptsAsync(*redis_, std::move(commands), scripts, deadline,
                              std::move(done));
}

void RedisRulesetStore::UploadAsync(absl::string_view tenant_id,
                                    absl::string_view version,
                                    absl::string_view yaml,
                                    absl::string_view author, absl::Time now,
                                    absl::Time deadline,
                                    Callback<RulesetUploadOutcome> done) {
  Run({Eval(upload_sha_, tenant_id,
            {std::string(version), std::string(yaml),
             absl::StrCat(absl::ToUnixMillis(now), "|", author),
             absl::StrCat(kMaxRulesetVersions)})},
      deadline,
      [version = std::string(version), done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        const RedisReply& r = (*replies)[0];
        if (!IsScriptReply(r, 1)) {
          return std::move(done)(ReplyError(r, "ruleset upload"));
        }
        if (r.elements[0].integer < 0 || r.elements.size() < 2) {
          return std::move(done)(absl::ResourceExhaustedError(absl::StrCat(
              kMaxRulesetVersions,
              " versions are kept and each is in force or one a rollback "
              "returns to")));
        }
        std::move(done)(RulesetUploadOutcome{
            .version = ParseMeta(std::move(version), r.elements[1].str),
            .created = r.elements[0].integer == 1});
      });
}

void RedisRulesetStore::PublishAsync(absl::string_view tenant_id,
                                     absl::string_view version,
                                     absl::string_view author, absl::Time now,
                                     absl::Time deadline,
                                     Callback<RulesetPublishOutcome> done) {
  Run({Eval(publish_sha_, tenant_id,
            {std::string(version), absl::StrCat(absl::ToUnixMillis(now)),
             std::string(author), absl::StrCat(kMaxRollbackDepth),
             absl::StrCat(kMaxRulesetLog)})},
      deadline,
      [tenant = std::string(tenant_id), version = std::string(version),
       author = std::string(author), now, done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        RedisReply& r = (*replies)[0];
        if (!IsScriptReply(r, 1)) {
          return std::move(done)(ReplyError(r, "ruleset publish"));
        }
        if (r.elements[0].integer < 0 || r.elements.size() < 3) {
          return std::move(done)(absl::NotFoundError(absl::StrCat(
              "tenant ", tenant, " has no uploaded version ", version)));
        }
        std::move(done)(RulesetPublishOutcome{
            .change = {.time = now,
                       .author = std::move(author),
                       .version = std::move(version),
                       .previous_version = std::move(r.elements[1].str)},
            .changed = r.elements[0].integer == 1,
            .yaml = std::move(r.elements[2].str),
            .rescore_id = r.elements.size() > 3 ? r.elements[3].integer : 0});
      });
}

void RedisRulesetStore::RollbackAsync(absl::string_view tenant_id,
                                      absl::string_view author, absl::Time now,
                                      absl::Time deadline,
                                      Callback<RulesetPublishOutcome> done) {
  Run({Eval(rollback_sha_, tenant_id,
            {absl::StrCat(absl::ToUnixMillis(now)), std::string(author),
             absl::StrCat(kMaxRulesetLog)})},
      deadline,
      [tenant = std::string(tenant_id), author = std::string(author), now,
       done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        RedisReply& r = (*replies)[0];
        if (!IsScriptReply(r, 1)) {
          return std::move(done)(ReplyError(r, "ruleset rollback"));
        }
        if (r.elements[0].integer < 0 || r.elements.size() < 4) {
          return std::move(done)(absl::FailedPreconditionError(
              absl::StrCat("tenant ", tenant,
                           " uses the default ruleset: nothing to roll back")));
        }
        std::move(done)(RulesetPublishOutcome{
            .change = {.time = now,
                       .author = std::move(author),
                       .version = std::move(r.elements[1].str),
                       .previous_version = std::move(r.elements[2].str),
                       .rollback = true},
            .changed = true,
            .yaml = std::move(r.elements[3].str),
            .rescore_id = r.elements.size() > 4 ? r.elements[4].integer : 0});
      });
}

void RedisRulesetStore::HistoryAsync(absl::string_view tenant_id,
                                     absl::Time deadline,
                                     Callback<RulesetHistory> done) {
  Run({{"HGET", Key("active"), std::string(tenant_id)},
       {"HGETALL", Key(absl::StrCat("meta:", tenant_id))},
       {"LRANGE", Key(absl::StrCat("log:", tenant_id)), "0",
        absl::StrCat(kMaxRulesetLog - 1)}},
      deadline,
      [done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        const RedisReply& active = (*replies)[0];
        const RedisReply& meta = (*replies)[1];
        const RedisReply& log = (*replies)[2];
        if (active.is_error())
          return std::move(done)(ReplyError(active, "HGET"));
        if (meta.type != RedisReply::Type::kArray) {
          return std::move(done)(ReplyError(meta, "HGETALL"));
        }
        if (log.type != RedisReply::Type::kArray) {
          return std::move(done)(ReplyError(log, "LRANGE"));
        }
        RulesetHistory h;
        h.active = active.str;
        for (size_t i = 0; i + 1 < meta.elements.size(); i += 2) {
          h.versions.push_back(
              ParseMeta(meta.elements[i].str, meta.elements[i + 1].str));
        }
        std::sort(
            h.versions.begin(), h.versions.end(),
            [](const StoredRulesetVersion& a, const StoredRulesetVersion& b) {
              return a.uploaded_time != b.uploaded_time
                         ? a.uploaded_time > b.uploaded_time
                         : a.version < b.version;
            });
        for (const RedisReply& e : log.elements) {
          h.changes.push_back(ParseLogEntry(e.str));
        }
        std::move(done)(std::move(h));
      });
}

void RedisRulesetStore::TextAsync(
    absl::string_view tenant_id, absl::string_view version, absl::Time deadline,
    Callback<std::pair<StoredRulesetVersion, std::string>> done) {
  Run({{"HGET", Key(absl::StrCat("meta:", tenant_id)), std::string(version)},
       {"HGET", Key(absl::StrCat("yaml:", tenant_id)), std::string(version)}},
      deadline,
      [tenant = std::string(tenant_id), version = std::string(version),
       done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        RedisReply& meta = (*replies)[0];
        RedisReply& yaml = (*replies)[1];
        if (meta.is_error()) return std::move(done)(ReplyError(meta, "HGET"));
        if (yaml.is_error()) return std::move(done)(ReplyError(yaml, "HGET"));
        if (meta.type != RedisReply::Type::kString ||
            yaml.type != RedisReply::Type::kString) {
          return std::move(done)(absl::NotFoundError(absl::StrCat(
              "tenant ", tenant, " has no uploaded version ", version)));
        }
        std::move(done)(std::make_pair(ParseMeta(std::move(version), meta.str),
                                       std::move(yaml.str)));
      });
}

void RedisRulesetStore::ActiveAsync(absl::Time deadline,
                                    Callback<ActiveRulesets> done) {
  Run({{"GET", Key("serial")}, {"HGETALL", Key("active")}}, deadline,
      [done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        const RedisReply& serial = (*replies)[0];
        const RedisReply& active = (*replies)[1];
        if (serial.is_error())
          return std::move(done)(ReplyError(serial, "GET"));
        if (active.type != RedisReply::Type::kArray) {
          return std::move(done)(ReplyError(active, "HGETALL"));
        }
        ActiveRulesets out;
        if (!serial.str.empty() && !absl::SimpleAtoi(serial.str, &out.serial)) {
          return std::move(done)(
              absl::InternalError("ruleset serial: not a number"));
        }
        for (size_t i = 0; i + 1 < active.elements.size(); i += 2) {
          out.by_tenant[active.elements[i].str] = active.elements[i + 1].str;
        }
        std::move(done)(std::move(out));
      });
}

void RedisRulesetStore::TextsAsync(
    std::vector<std::pair<std::string, std::string>> versions,
    absl::Time deadline, Callback<std::vector<std::string>> done) {
  std::vector<RedisCommand> cmds;
  cmds.reserve(versions.size());
  for (const auto& [tenant, version] : versions) {
    cmds.push_back({"HGET", Key(absl::StrCat("yaml:", tenant)), version});
  }
  Run(std::move(cmds), deadline,
      [done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        std::vector<std::string> out;
        out.reserve(replies->size());
        for (RedisReply& r : *replies) {
          if (r.is_error()) return std::move(done)(ReplyError(r, "HGET"));
          out.push_back(std::move(r.str));
        }
        std::move(done)(std::move(out));
      });
}

void RedisRulesetStore::RescoringAsync(
    absl::Time deadline, Callback<std::vector<std::string>> done) {
  Run({{"SMEMBERS", Key("rescoring")}}, deadline,
      [done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        RedisReply& r = (*replies)[0];
        if (r.type != RedisReply::Type::kArray) {
          return std::move(done)(ReplyError(r, "SMEMBERS"));
        }
        std::vector<std::string> out;
        for (RedisReply& e : r.elements) out.push_back(std::move(e.str));
        std::sort(out.begin(), out.end());
        std::move(done)(std::move(out));
      });
}

void RedisRulesetStore::RescoreAsync(absl::string_view tenant_id,
                                     absl::Time deadline,
                                     Callback<RescoreJob> done) {
  Run({{"HGETALL", Key(absl::StrCat("rescore:", tenant_id))}}, deadline,
      [tenant = std::string(tenant_id), done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        const RedisReply& r = (*replies)[0];
        if (r.type != RedisReply::Type::kArray) {
          return std::move(done)(ReplyError(r, "HGETALL"));
        }
        if (r.elements.empty()) {
          return std::move(done)(absl::NotFoundError(absl::StrCat(
              "tenant ", tenant, " has published no ruleset: no rescore")));
        }
        std::move(done)(ParseRescore(std::move(tenant), r.elements));
      });
}

void RedisRulesetStore::ClaimRescoreAsync(
    absl::string_view tenant_id, absl::string_view owner, absl::Time now,
    absl::Duration lease, absl::Time deadline,
    Callback<std::optional<RescoreJob>> done) {
  Run({Eval(claim_sha_, tenant_id,
            {std::string(owner), absl::StrCat(absl::ToUnixMillis(now)),
             absl::StrCat(
                 std::max<int64_t>(1, absl::ToInt64Milliseconds(lease)))})},
      deadline,
      [tenant = std::string(tenant_id), done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        const RedisReply& r = (*replies)[0];
        if (!IsScriptReply(r, 1)) {
          return std::move(done)(ReplyError(r, "rescore claim"));
        }
        if (r.elements[0].integer != 1) {
          return std::move(done)(std::optional<RescoreJob>());
        }
        if (r.elements.size() < 2 ||
            r.elements[1].type != RedisReply::Type::kArray) {
          return std::move(done)(ReplyError(r, "rescore claim"));
        }
        std::move(done)(std::optional<RescoreJob>(
            ParseRescore(std::move(tenant), r.elements[1].elements)));
      });
}

void RedisRulesetStore::AdvanceRescoreAsync(
    absl::string_view tenant_id, absl::string_view owner, int64_t job_id,
    const RescoreStep& step, absl::Time now, absl::Duration lease,
    absl::Time deadline, Callback<bool> done) {
  Run({Eval(
          advance_sha_, tenant_id,
          {std::string(owner), absl::StrCat(job_id), step.cursor,
           absl::StrCat(step.done), absl::StrCat(step.moved),
           absl::StrCat(step.skipped),
           step.total >= 0 ? absl::StrCat(step.total) : std::string(),
           absl::StrCat(absl::ToUnixMillis(now)),
           absl::StrCat(std::max<int64_t>(0, absl::ToInt64Milliseconds(lease))),
           step.finished ? "1" : "0"})},
      deadline,
      [done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) return std::move(done)(replies.status());
        const RedisReply& r = (*replies)[0];
        if (r.type != RedisReply::Type::kInteger) {
          return std::move(done)(ReplyError(r, "rescore step"));
        }
        std::move(done)(r.integer == 1);
      });
}

}  // namespace oppmatrix
