#include "services/store/snapshot_store.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/hash_util.h"
#include "services/common/status_macros.h"
#include "services/common/wait_for.h"

namespace oppmatrix {
namespace {

// KEYS: the snapshot hashes (of one tenant). ARGV: 4 per key: expected
// revision, new revision, snapshot bytes, TTL ms (0: none). Returns per
// key 1 when written, 0 when the stored revision is no longer the expected
// one. One call for many keys: the script's own cost, not the writes,
// was most of a lone compare-and-set.
constexpr char kCompareAndSet[] = R"lua(
local out = {}
for i = 1, #KEYS do
  local b = (i - 1) * 4
  local v = tonumber(redis.call('HGET', KEYS[i], 'v') or '0')
  if v ~= tonumber(ARGV[b + 1]) or tonumber(ARGV[b + 2]) <= v then
    out[i] = 0
  else
    redis.call('HSET', KEYS[i], 'v', ARGV[b + 2], 's', ARGV[b + 3])
    if tonumber(ARGV[b + 4]) > 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[b + 4])
    else
      redis.call('PERSIST', KEYS[i])
    end
    out[i] = 1
  end
end
return out
)lua";

// Writes per script call.
constexpr size_t kCasChunk = 200;

}  // namespace

RedisSnapshotStore::RedisSnapshotStore(AsyncRedis* redis, Options options)
    : redis_(redis),
      options_(std::move(options)),
      cas_source_(kCompareAndSet),
      cas_sha_(Sha1Hex(kCompareAndSet)) {}

std::string RedisSnapshotStore::Key(absl::string_view tenant_id,
                                    absl::string_view id) const {
  return absl::StrCat(options_.key_prefix, ":{", tenant_id, "}:snap:", id);
}

void RedisSnapshotStore::HashField(absl::Span<const SnapshotKey> keys,
                                   absl::string_view field, absl::Time deadline,
                                   FieldCallback done) {
  if (keys.empty()) {
    std::move(done)(std::vector<RedisReply>());
    return;
  }
  std::vector<RedisCommand> cmds;
  cmds.reserve(keys.size());
  for (const SnapshotKey& k : keys) {
    cmds.push_back(
        {"HGET", Key(k.tenant_id, k.opportunity_id), std::string(field)});
  }
  redis_->Pipeline(
      std::move(cmds), deadline,
      [done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (replies.ok()) {
          for (const RedisReply& r : *replies) {
            if (r.is_error()) {
              std::move(done)(
                  absl::InternalError(absl::StrCat("redis HGET: ", r.str)));
              return;
            }
          }
        }
        std::move(done)(std::move(replies));
      });
}

void RedisSnapshotStore::GetAsync(absl::Span<const SnapshotKey> keys,
                                  absl::Time deadline, GetCallback done) {
  std::vector<std::string> ids;
  ids.reserve(keys.size());
  for (const SnapshotKey& k : keys) ids.push_back(k.opportunity_id);
  HashField(keys, "s", deadline,
            [ids = std::move(ids), done = std::move(done)](
                absl::StatusOr<std::vector<RedisReply>> replies) mutable {
              if (!replies.ok()) {
                std::move(done)(replies.status());
                return;
              }
              Snapshots out(ids.size());
              for (size_t i = 0; i < ids.size(); ++i) {
                const RedisReply& r = (*replies)[i];
                if (r.type != RedisReply::Type::kString) continue;
                v1::OpportunitySnapshot s;
                if (!s.ParseFromString(r.str)) {
                  std::move(done)(absl::DataLossError(absl::StrCat(
                      "redis: the snapshot of ", ids[i], " does not parse")));
                  return;
                }
                out[i] = std::move(s);
              }
              std::move(done)(std::move(out));
            });
}

absl::StatusOr<RedisSnapshotStore::Page> RedisSnapshotStore::ScanTenant(
    absl::string_view tenant_id, const std::string& cursor, int count,
    absl::Time deadline) {
  // The tenant's hash tag and key prefix, with glob characters escaped.
  std::string pattern;
  for (char c : Key(tenant_id, "")) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      pattern += '\\';
    }
    pattern += c;
  }
  pattern += '*';
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> r,
      redis_->PipelineSync({{"SCAN", cursor.empty() ? "0" : cursor, "MATCH",
                             pattern, "COUNT", absl::StrCat(count)}},
                           deadline));
  if (r[0].is_error() || r[0].elements.size() != 2) {
    return absl::InternalError(absl::StrCat("redis SCAN: ", r[0].str));
  }
  Page page;
  page.cursor = r[0].elements[0].str;
  std::vector<RedisCommand> gets;
  for (const RedisReply& key : r[0].elements[1].elements) {
    gets.push_back({"HGET", key.str, "s"});
  }
  if (gets.empty()) return page;
  OPPMATRIX_ASSIGN_OR_RETURN(std::vector<RedisReply> values,
                             redis_->PipelineSync(std::move(gets), deadline));
  for (const RedisReply& v : values) {
    if (v.is_error()) {
      return absl::InternalError(absl::StrCat("redis HGET: ", v.str));
    }
    if (v.type != RedisReply::Type::kString) continue;  // gone meanwhile
    v1::OpportunitySnapshot snapshot;
    if (!snapshot.ParseFromString(v.str)) {
      return absl::DataLossError("redis: a snapshot does not parse");
    }
    page.snapshots.push_back(std::move(snapshot));
  }
  return page;
}

void RedisSnapshotStore::RevisionsAsync(absl::Span<const SnapshotKey> keys,
                                        absl::Time deadline,
                                        RevisionsCallback done) {
  std::vector<std::string> ids;
  ids.reserve(keys.size());
  for (const SnapshotKey& k : keys) ids.push_back(k.opportunity_id);
  HashField(keys, "v", deadline,
            [ids = std::move(ids), done = std::move(done)](
                absl::StatusOr<std::vector<RedisReply>> replies) mutable {
              if (!replies.ok()) {
                std::move(done)(replies.status());
                return;
              }
              std::vector<int64_t> out(ids.size(), 0);
              for (size_t i = 0; i < ids.size(); ++i) {
                const RedisReply& r = (*replies)[i];
                if (r.type == RedisReply::Type::kString &&
                    !absl::SimpleAtoi(r.str, &out[i])) {
                  std::move(done)(absl::DataLossError(absl::StrCat(
                      "redis: the revision of ", ids[i], " is not a number")));
                  return;
                }
              }
              std::move(done)(std::move(out));
            });
}

void RedisSnapshotStore::CompareAndSetAsync(
    absl::Span<const SnapshotWrite> writes, absl::Time deadline,
    CompareAndSetCallback done) {
  if (writes.empty()) {
    std::move(done)(std::vector<bool>());
    return;
  }
  const int64_t tombstone_ms =
      absl::ToInt64Milliseconds(options_.tombstone_ttl);
  // The writes of each tenant (its hash slot), in order of first
  // appearance, kCasChunk per script call.
  std::vector<std::vector<size_t>> groups;
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  for (size_t i = 0; i < writes.size(); ++i) {
    auto [it, added] = group_of.try_emplace(writes[i].tenant_id, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<RedisCommand> cmds;
  std::vector<std::vector<size_t>> members;
  for (const std::vector<size_t>& group : groups) {
    for (size_t start = 0; start < group.size(); start += kCasChunk) {
      const size_t end = std::min(group.size(), start + kCasChunk);
      RedisCommand cmd = {"EVALSHA", cas_sha_, absl::StrCat(end - start)};
      cmd.reserve(3 + 5 * (end - start));
      for (size_t j = start; j < end; ++j) {
        const SnapshotWrite& w = writes[group[j]];
        cmd.push_back(Key(w.tenant_id, w.opportunity_id));
      }
      for (size_t j = start; j < end; ++j) {
        const SnapshotWrite& w = writes[group[j]];
        cmd.push_back(absl::StrCat(w.expected_revision));
        cmd.push_back(absl::StrCat(w.snapshot->revision()));
        cmd.push_back(w.snapshot->SerializeAsString());
        cmd.push_back(absl::StrCat(w.snapshot->deleted() ? tombstone_ms : 0));
      }
      cmds.push_back(std::move(cmd));
      members.emplace_back(group.begin() + start, group.begin() + end);
    }
  }
  const std::string* scripts[] = {&cas_source_};
  PipelineLoadingScriptsAsync(
      *redis_, std::move(cmds), scripts, deadline,
      [n = writes.size(), members = std::move(members), done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) {
          std::move(done)(replies.status());
          return;
        }
        std::vector<bool> out(n, false);
        for (size_t k = 0; k < replies->size(); ++k) {
          const RedisReply& r = (*replies)[k];
          if (r.type != RedisReply::Type::kArray ||
              r.elements.size() != members[k].size()) {
            std::move(done)(absl::InternalError(
                absl::StrCat("redis storing snapshots: ",
                             r.is_error() ? r.str : "bad reply")));
            return;
          }
          for (size_t j = 0; j < members[k].size(); ++j) {
            out[members[k][j]] = r.elements[j].integer == 1;
          }
        }
        std::move(done)(std::move(out));
      });
}

absl::StatusOr<SnapshotStore::Snapshots> SnapshotStore::Get(
    absl::Span<const SnapshotKey> keys, absl::Time deadline) {
  return WaitFor<Snapshots>(
      [&](GetCallback done) { GetAsync(keys, deadline, std::move(done)); });
}

absl::StatusOr<std::vector<int64_t>> SnapshotStore::Revisions(
    absl::Span<const SnapshotKey> keys, absl::Time deadline) {
  return WaitFor<std::vector<int64_t>>([&](RevisionsCallback done) {
    RevisionsAsync(keys, deadline, std::move(done));
  });
}

absl::StatusOr<std::vector<bool>> SnapshotStore::CompareAndSet(
    absl::Span<const SnapshotWrite> writes, absl::Time deadline) {
  return WaitFor<std::vector<bool>>([&](CompareAndSetCallback done) {
    CompareAndSetAsync(writes, deadline, std::move(done));
  });
}

}  // namespace oppmatrix
