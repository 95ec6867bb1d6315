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
// 5 log:<T>, 6 serial. ARGV[1] is the tenant.
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
// length. {-1} not uploaded; {0|1, previous, yaml}.
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
redis.call('INCR', KEYS[6])
return {1, cur, yaml}
)lua";

// Rollback: ARGV 2 now ms, 3 author, 4 log length.
// {-1} on the default already; {1, version, previous, yaml}.
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
redis.call('INCR', KEYS[6])
return {1, to, cur, yaml}
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
      rollback_sha_(Sha1Hex(rollback_)) {}

std::string RedisRulesetStore::Key(absl::string_view name) const {
  return absl::StrCat(options_.key_prefix, ":{rulesets}:", name);
}

RedisCommand RedisRulesetStore::Eval(const std::string& sha,
                                     absl::string_view tenant_id,
                                     std::vector<std::string> args) const {
  RedisCommand cmd = {"EVALSHA",
                      sha,
                      "6",
                      Key(absl::StrCat("yaml:", tenant_id)),
                      Key(absl::StrCat("meta:", tenant_id)),
                      Key("active"),
                      Key(absl::StrCat("stack:", tenant_id)),
                      Key(absl::StrCat("log:", tenant_id)),
                      Key("serial"),
                      std::string(tenant_id)};
  for (std::string& a : args) cmd.push_back(std::move(a));
  return cmd;
}

void RedisRulesetStore::Run(std::vector<RedisCommand> commands,
                            absl::Time deadline, AsyncRedis::Callback done) {
  const std::string* scripts[] = {&upload_, &publish_, &rollback_};
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
            .yaml = std::move(r.elements[2].str)});
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
            .yaml = std::move(r.elements[3].str)});
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

}  // namespace oppmatrix
