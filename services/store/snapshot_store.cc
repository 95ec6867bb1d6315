#include "services/store/snapshot_store.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/hash_util.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

// KEYS[1] the snapshot hash. ARGV: 1 expected revision, 2 new revision,
// 3 snapshot bytes, 4 TTL ms (0: none). Returns 1 when written, 0 when the
// stored revision is no longer the expected one.
constexpr char kCompareAndSet[] = R"lua(
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) or tonumber(ARGV[2]) <= v then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
if tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('PERSIST', KEYS[1])
end
return 1
)lua";

}  // namespace

RedisSnapshotStore::RedisSnapshotStore(RedisPool* pool, Options options)
    : pool_(pool),
      options_(std::move(options)),
      cas_source_(kCompareAndSet),
      cas_sha_(Sha1Hex(kCompareAndSet)) {}

std::string RedisSnapshotStore::Key(absl::string_view tenant_id,
                                    absl::string_view id) const {
  return absl::StrCat(options_.key_prefix, ":{", tenant_id, "}:snap:", id);
}

absl::StatusOr<std::vector<std::optional<v1::OpportunitySnapshot>>>
RedisSnapshotStore::Get(absl::Span<const SnapshotKey> keys,
                        absl::Time deadline) {
  std::vector<std::optional<v1::OpportunitySnapshot>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<RedisCommand> cmds;
  cmds.reserve(keys.size());
  for (const SnapshotKey& k : keys) {
    cmds.push_back({"HGET", Key(k.tenant_id, k.opportunity_id), "s"});
  }
  OPPMATRIX_ASSIGN_OR_RETURN(std::vector<RedisReply> replies,
                             pool_->Pipeline(cmds, deadline));
  for (size_t i = 0; i < keys.size(); ++i) {
    const RedisReply& r = replies[i];
    if (r.is_error()) {
      return absl::InternalError(absl::StrCat("redis HGET: ", r.str));
    }
    if (r.type != RedisReply::Type::kString) continue;
    v1::OpportunitySnapshot s;
    if (!s.ParseFromString(r.str)) {
      return absl::DataLossError(absl::StrCat("redis: the snapshot of ",
                                              keys[i].opportunity_id,
                                              " does not parse"));
    }
    out[i] = std::move(s);
  }
  return out;
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
      pool_->Pipeline({{"SCAN", cursor.empty() ? "0" : cursor, "MATCH", pattern,
                        "COUNT", absl::StrCat(count)}},
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
                             pool_->Pipeline(gets, deadline));
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

absl::StatusOr<std::vector<bool>> RedisSnapshotStore::CompareAndSet(
    absl::Span<const SnapshotWrite> writes, absl::Time deadline) {
  std::vector<bool> out(writes.size(), false);
  if (writes.empty()) return out;
  const int64_t tombstone_ms =
      absl::ToInt64Milliseconds(options_.tombstone_ttl);
  std::vector<RedisCommand> cmds;
  cmds.reserve(writes.size());
  for (const SnapshotWrite& w : writes) {
    cmds.push_back(
        {"EVALSHA", cas_sha_, "1", Key(w.tenant_id, w.opportunity_id),
         absl::StrCat(w.expected_revision),
         absl::StrCat(w.snapshot->revision()), w.snapshot->SerializeAsString(),
         absl::StrCat(w.snapshot->deleted() ? tombstone_ms : 0)});
  }
  const std::string* scripts[] = {&cas_source_};
  OPPMATRIX_ASSIGN_OR_RETURN(
      std::vector<RedisReply> replies,
      PipelineLoadingScripts(*pool_, cmds, scripts, deadline));
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].type != RedisReply::Type::kInteger) {
      return absl::InternalError(
          absl::StrCat("redis storing a snapshot: ", replies[i].str));
    }
    out[i] = replies[i].integer == 1;
  }
  return out;
}

}  // namespace oppmatrix
