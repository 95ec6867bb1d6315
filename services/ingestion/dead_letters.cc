#include "services/ingestion/dead_letters.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
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

// The eventId of a JSON payload; "" when it has none or is not JSON.
std::string EventIdOf(const std::string& payload) {
  google::protobuf::Struct event;
  if (!google::protobuf::util::JsonStringToMessage(payload, &event).ok()) {
    return "";
  }
  auto it = event.fields().find("eventId");
  if (it == event.fields().end()) it = event.fields().find("event_id");
  if (it == event.fields().end()) return "";
  return it->second.string_value();
}

}  // namespace

std::string ReasonPattern(absl::string_view reason) {
  std::string out;
  out.reserve(reason.size());
  for (size_t i = 0; i < reason.size(); ++i) {
    const char c = reason[i];
    if (c == '"') {
      const size_t close = reason.find('"', i + 1);
      if (close == absl::string_view::npos) {
        absl::StrAppend(&out, reason.substr(i));
        break;
      }
      out.append("\"…\"");
      i = close;
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && i + 1 < reason.size() &&
                absl::ascii_isdigit(
                    static_cast<unsigned char>(reason[i + 1])) &&
                (i == 0 || reason[i - 1] == ' '))) {
      // A number (with its sign and decimals) is one "N".
      size_t j = i + 1;
      while (j < reason.size() &&
             (absl::ascii_isdigit(static_cast<unsigned char>(reason[j])) ||
              reason[j] == '.')) {
        ++j;
      }
      // Inside a word (e.g. "iso_3166" or "v2") digits stay.
      const bool in_word =
          i > 0 &&
          (absl::ascii_isalpha(static_cast<unsigned char>(reason[i - 1])) ||
           reason[i - 1] == '_');
      if (in_word) {
        absl::StrAppend(&out, reason.substr(i, j - i));
      } else {
        out.push_back('N');
      }
      i = j - 1;
    } else if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      // Parser messages span lines; one space keeps a group on one line.
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::vector<DeadLetterGroup> SummarizeDeadLetters(
    const std::vector<DeadLetterEntry>& entries) {
  absl::flat_hash_map<std::string, DeadLetterGroup> groups;
  for (const DeadLetterEntry& e : entries) {
    std::string pattern = ReasonPattern(e.reason);
    DeadLetterGroup& g = groups[pattern];
    if (g.count == 0) {
      g.reason = pattern;
      g.example_reason = e.reason;
      g.example_id = e.id;
      g.example_event_id = EventIdOf(e.event);
    }
    ++g.count;
    g.first = std::min(g.first, e.time);
    g.last = std::max(g.last, e.time);
  }
  std::vector<DeadLetterGroup> out;
  out.reserve(groups.size());
  for (auto& [pattern, g] : groups) out.push_back(std::move(g));
  std::sort(out.begin(), out.end(),
            [](const DeadLetterGroup& a, const DeadLetterGroup& b) {
              if (a.count != b.count) return a.count > b.count;
              return a.reason < b.reason;
            });
  return out;
}

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

absl::StatusOr<DeadLetterQueue::Summary> DeadLetterQueue::Summarize(
    int64_t max_entries) {
  constexpr int kPage = 500;
  std::vector<DeadLetterEntry> all;
  std::string after;
  Summary summary;
  while (static_cast<int64_t>(all.size()) < max_entries) {
    const int want = static_cast<int>(std::min<int64_t>(
        kPage, max_entries - static_cast<int64_t>(all.size())));
    OPPMATRIX_ASSIGN_OR_RETURN(std::vector<DeadLetterEntry> page,
                               List(want, after));
    if (page.empty()) break;
    after = page.back().id;
    for (DeadLetterEntry& e : page) all.push_back(std::move(e));
    if (static_cast<int>(page.size()) < want) break;
  }
  if (static_cast<int64_t>(all.size()) == max_entries) {
    OPPMATRIX_ASSIGN_OR_RETURN(std::vector<DeadLetterEntry> more,
                               List(1, after));
    summary.truncated = !more.empty();
  }
  summary.entries = static_cast<int64_t>(all.size());
  summary.groups = SummarizeDeadLetters(all);
  return summary;
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
