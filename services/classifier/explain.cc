#include "services/classifier/explain.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace oppmatrix {
namespace {

// 15.38, 15, -3.5: two decimals at most, no trailing zeros.
std::string Plain(double v) {
  std::string s = absl::StrFormat("%.2f", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

// As Plain, with the sign: +15.38, -3.5, 0.
std::string Signed(double v) {
  std::string s = Plain(v);
  return v > 0 && s != "0" ? absl::StrCat("+", s) : s;
}

// A change too small to show at two decimals is none.
bool Changed(double delta) { return std::fabs(delta) >= 0.005; }

// "Relationship 42.5 → 63.75 (+21.25): has_champion +15.38, …".
std::string ScoreSentence(absl::string_view name, double before, double after,
                          const std::vector<v1::FactorChange>& factors,
                          v1::Axis axis) {
  std::string s = absl::StrCat(name, " ", Plain(before), " → ", Plain(after),
                               " (", Signed(after - before), ")");
  std::vector<std::string> named;
  for (const v1::FactorChange& f : factors) {
    if (axis == v1::AXIS_UNSPECIFIED || f.axis() != axis ||
        !Changed(f.delta())) {
      continue;
    }
    if (static_cast<int>(named.size()) == kExplainFactorsPerScore) break;
    named.push_back(absl::StrCat(f.factor(), " ", Signed(f.delta())));
  }
  if (!named.empty()) absl::StrAppend(&s, ": ", absl::StrJoin(named, ", "));
  return s;
}

}  // namespace

absl::StatusOr<v1::ExplainResponse> ExplainChange(
    absl::Span<const v1::HistoryEntry> newest_first, int to_entry,
    int from_entry) {
  if (from_entry == 0) from_entry = to_entry + 1;
  const int n = static_cast<int>(newest_first.size());
  if (to_entry < 0 || from_entry <= to_entry || from_entry >= n) {
    return absl::FailedPreconditionError(
        absl::StrCat("the history holds ", n, n == 1 ? " state" : " states",
                     " (entries 0 to ", std::max(n - 1, 0), "): entries ",
                     to_entry, " and ", from_entry, " cannot be compared",
                     n < 2 ? "; a change needs two" : ""));
  }
  const v1::HistoryEntry& before = newest_first[from_entry];
  const v1::HistoryEntry& after = newest_first[to_entry];
  v1::ExplainResponse out;
  *out.mutable_before() = before;
  *out.mutable_after() = after;
  out.set_from_entry(from_entry);
  out.set_to_entry(to_entry);

  // The states after `before`, oldest first, up to `after`.
  std::vector<std::string> fields;
  for (int k = from_entry - 1; k >= to_entry; --k) {
    const v1::HistoryEntry& e = newest_first[k];
    for (absl::string_view c : absl::StrSplit(e.cause(), ',')) {
      if (c.empty()) continue;
      if (std::find(out.causes().begin(), out.causes().end(), c) ==
          out.causes().end()) {
        out.add_causes(std::string(c));
      }
    }
    fields.insert(fields.end(), e.changed_fields().begin(),
                  e.changed_fields().end());
  }
  std::sort(fields.begin(), fields.end());
  fields.erase(std::unique(fields.begin(), fields.end()), fields.end());
  for (std::string& f : fields) out.add_changed_fields(std::move(f));

  out.set_potential_delta(after.potential_score() - before.potential_score());
  out.set_relationship_delta(after.relationship_score() -
                             before.relationship_score());
  out.set_priority_delta(after.priority_score() - before.priority_score());

  const bool known =
      !before.contributions().empty() && !after.contributions().empty();
  if (known) {
    // By axis and name; a factor only one ruleset has counts 0 in the other.
    std::map<std::pair<int, std::string>, std::pair<double, double>> by_factor;
    for (const v1::Reason& r : before.contributions()) {
      by_factor[{r.axis(), r.factor()}].first += r.contribution();
    }
    for (const v1::Reason& r : after.contributions()) {
      by_factor[{r.axis(), r.factor()}].second += r.contribution();
    }
    std::vector<v1::FactorChange> factors;
    for (const auto& [key, value] : by_factor) {
      if (value.first == 0 && value.second == 0) continue;
      v1::FactorChange& f = factors.emplace_back();
      f.set_axis(static_cast<v1::Axis>(key.first));
      f.set_factor(key.second);
      f.set_before(value.first);
      f.set_after(value.second);
      f.set_delta(value.second - value.first);
    }
    std::stable_sort(factors.begin(), factors.end(),
                     [](const v1::FactorChange& a, const v1::FactorChange& b) {
                       const bool ca = Changed(a.delta()),
                                  cb = Changed(b.delta());
                       if (ca != cb) return ca;
                       const double ka = ca ? a.delta() : a.after();
                       const double kb = cb ? b.delta() : b.after();
                       return std::fabs(ka) > std::fabs(kb);
                     });
    for (v1::FactorChange& f : factors) *out.add_factors() = std::move(f);
  }

  // The sentences.
  out.add_summary(
      before.cell() == after.cell()
          ? absl::StrCat("Stayed in ", after.cell())
          : absl::StrCat("Moved from ", before.cell(), " to ", after.cell()));
  if (before.ruleset_version() != after.ruleset_version()) {
    out.add_summary(absl::StrCat("Ruleset ", before.ruleset_version(), " → ",
                                 after.ruleset_version()));
  }
  std::vector<v1::FactorChange> factors(out.factors().begin(),
                                        out.factors().end());
  if (Changed(out.potential_delta())) {
    out.add_summary(ScoreSentence("Potential", before.potential_score(),
                                  after.potential_score(), factors,
                                  v1::AXIS_POTENTIAL));
  }
  if (Changed(out.relationship_delta())) {
    out.add_summary(ScoreSentence("Relationship", before.relationship_score(),
                                  after.relationship_score(), factors,
                                  v1::AXIS_RELATIONSHIP));
  }
  if (Changed(out.priority_delta())) {
    out.add_summary(ScoreSentence("Priority", before.priority_score(),
                                  after.priority_score(), factors,
                                  v1::AXIS_UNSPECIFIED));
  }
  if (!out.changed_fields().empty()) {
    out.add_summary(absl::StrCat("Changed in the CRM: ",
                                 absl::StrJoin(out.changed_fields(), ", ")));
  }
  if (std::find(out.causes().begin(), out.causes().end(), "time") !=
      out.causes().end()) {
    out.add_summary(
        "Time passed: inputs that depend on it (signals with a half-life, "
        "days since the last interaction, time to the need or close date) "
        "moved");
  }
  if (!known) {
    out.add_summary(
        "Factor contributions are not known for these states (stored "
        "before they were kept, or their ruleset's factor names are gone)");
  }
  return out;
}

}  // namespace oppmatrix
