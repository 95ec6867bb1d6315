#include "services/engine/whatif.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "services/common/enum_names.h"
#include "services/engine/engine.h"

namespace oppmatrix {
namespace {

using v1::Lever;
using v1::Opportunity;

// Each lever: the signal its field feeds, and the field. The one list of
// levers: "all levers", their fields and signals come from it.
struct LeverInfo {
  Lever lever;
  v1::Signal signal;
  absl::string_view field;
};
constexpr LeverInfo kLevers[] = {
    {v1::LEVER_MEETINGS, v1::SIGNAL_MEETINGS_LAST_90_DAYS,
     "relationship.meetings_last_90_days"},
    {v1::LEVER_CONTACTS, v1::SIGNAL_CONTACTS_ENGAGED,
     "relationship.contacts_engaged"},
    {v1::LEVER_CHAMPION, v1::SIGNAL_HAS_CHAMPION, "relationship.has_champion"},
    {v1::LEVER_EXECUTIVE_SPONSOR, v1::SIGNAL_EXECUTIVE_SPONSOR,
     "relationship.executive_sponsor"},
    {v1::LEVER_STAGE, v1::SIGNAL_BUYING_STAGE, "stage"},
};

const LeverInfo* Info(Lever lever) {
  for (const LeverInfo& l : kLevers) {
    if (l.lever == lever) return &l;
  }
  return nullptr;
}

// A summed effect is off the engine's own sum by far less than this, so
// a combination within it of its target bands (after rounding to two
// decimals, as the engine does) is classified to decide.
constexpr double kSumError = 1e-9;
// Combinations that the sum lets through and the engine does not confirm,
// at most, before the search stops: a ruleset whose bands all fall on a
// rounding edge cannot make one call classify each combination.
constexpr int kMaxUnconfirmed = 64;

// The factors of both axes that read `signal`.
std::vector<const CompiledFactor*> FactorsOf(const CompiledRuleset& rules,
                                             v1::Signal signal) {
  std::vector<const CompiledFactor*> out;
  for (const CompiledAxis* axis : {&rules.potential, &rules.relationship}) {
    for (const CompiledFactor& f : axis->factors) {
      if (f.signal == signal && f.weight > 0) out.push_back(&f);
    }
  }
  return out;
}

// A CRM stage name the ruleset maps to `stage`: its first alias, else the
// stage's own name; "" when the ruleset maps neither.
std::string StageName(const CompiledRuleset& rules, v1::BuyingStage stage) {
  for (const v1::StageAliases& s : rules.proto.stages()) {
    if (s.stage() != stage) continue;
    for (const std::string& alias : s.aliases()) {
      if (rules.LookupStage(alias) == stage) return alias;
    }
  }
  std::string own =
      ShortEnumName(v1::BuyingStage_descriptor()->FindValueByNumber(stage));
  return rules.LookupStage(own) == stage ? own : "";
}

bool IsOpen(v1::BuyingStage stage) {
  return stage == v1::BUYING_STAGE_UNSPECIFIED ||
         stage == v1::BUYING_STAGE_AWARENESS ||
         stage == v1::BUYING_STAGE_CONSIDERATION ||
         stage == v1::BUYING_STAGE_DECISION;
}

// One value a lever can take other than its own.
struct Candidate {
  int64_t value = 0;  // the count, 0/1, or the BuyingStage number
  std::string text;   // as LeverChange.to shows it
  int steps = 0;      // > 0
  int direction = 0;  // +1 or -1
  double dp = 0;      // the change of the raw potential score
  double dr = 0;      // and of the raw relationship score
};

struct LeverSpace {
  Lever lever = v1::LEVER_UNSPECIFIED;
  std::string from;
  std::vector<Candidate> candidates;
};

// Sets the lever's input as of `now`: a changed relationship signal is
// recorded now (its SignalTimes entry), so a half-life counts from there.
void Apply(Lever lever, const Candidate& c, absl::Time now, Opportunity* o) {
  v1::Relationship* r = o->mutable_relationship();
  v1::SignalTimes* t = o->mutable_signal_times();
  google::protobuf::Timestamp* at = nullptr;
  switch (lever) {
    case v1::LEVER_MEETINGS:
      r->set_meetings_last_90_days(static_cast<int32_t>(c.value));
      at = t->mutable_meetings_last_90_days_time();
      break;
    case v1::LEVER_CONTACTS:
      r->set_contacts_engaged(static_cast<int32_t>(c.value));
      at = t->mutable_contacts_engaged_time();
      break;
    case v1::LEVER_CHAMPION:
      r->set_has_champion(c.value != 0);
      at = t->mutable_has_champion_time();
      break;
    case v1::LEVER_EXECUTIVE_SPONSOR:
      r->set_executive_sponsor(c.value != 0);
      at = t->mutable_executive_sponsor_time();
      break;
    case v1::LEVER_STAGE:
      o->set_stage(c.text);
      break;
    default:
      break;
  }
  if (at != nullptr) {
    *at = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(now));
  }
  if (o->signal_times().ByteSizeLong() == 0) o->clear_signal_times();
}

// The values `lever` can take, each with its effect on the raw scores;
// values without an effect, or with the same effect as a smaller change,
// are left out.
LeverSpace Space(Lever lever, const Opportunity& opp,
                 const CompiledRuleset& rules, absl::Time now,
                 const AxisScores& base) {
  LeverSpace space;
  space.lever = lever;
  std::vector<const CompiledFactor*> factors =
      FactorsOf(rules, Info(lever)->signal);
  const v1::Relationship& rel = opp.relationship();
  std::vector<Candidate> raw;
  auto counts = [&](int64_t current) {
    // Every value within kWhatIfMaxCountSteps, up to where the curves
    // end; past that window, where they start and end.
    std::vector<int64_t> values;
    const double near = static_cast<double>(
        std::max<int64_t>(0, current - kWhatIfMaxCountJump));
    const double far = static_cast<double>(current + kWhatIfMaxCountJump);
    double last = 0;
    for (const CompiledFactor* f : factors) {
      if (f->curve.empty()) continue;
      for (const auto& point : {f->curve.front(), f->curve.back()}) {
        const double at = std::clamp(std::ceil(point.first), near, far);
        values.push_back(static_cast<int64_t>(at));
        last = std::max(last, at);
      }
    }
    const int64_t lo = std::max<int64_t>(0, current - kWhatIfMaxCountSteps);
    const int64_t hi = std::clamp<int64_t>(static_cast<int64_t>(last), current,
                                           current + kWhatIfMaxCountSteps);
    for (int64_t v = lo; v <= hi; ++v) values.push_back(v);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    for (int64_t v : values) {
      if (v == current || v > INT32_MAX) continue;
      raw.push_back({.value = v,
                     .text = absl::StrCat(v),
                     .steps = static_cast<int>(std::llabs(v - current)),
                     .direction = v > current ? 1 : -1});
    }
    space.from = absl::StrCat(current);
  };
  auto flag = [&](bool current) {
    raw.push_back({.value = current ? 0 : 1,
                   .text = current ? "false" : "true",
                   .steps = 1,
                   .direction = current ? -1 : 1});
    space.from = current ? "true" : "false";
  };
  switch (lever) {
    case v1::LEVER_MEETINGS:
      counts(rel.meetings_last_90_days());
      break;
    case v1::LEVER_CONTACTS:
      counts(rel.contacts_engaged());
      break;
    case v1::LEVER_CHAMPION:
      flag(rel.has_champion());
      break;
    case v1::LEVER_EXECUTIVE_SPONSOR:
      flag(rel.executive_sponsor());
      break;
    case v1::LEVER_STAGE: {
      space.from = opp.stage();
      v1::BuyingStage current = rules.LookupStage(opp.stage());
      if (!IsOpen(current)) break;
      for (v1::BuyingStage s :
           {v1::BUYING_STAGE_AWARENESS, v1::BUYING_STAGE_CONSIDERATION,
            v1::BUYING_STAGE_DECISION}) {
        if (s == current) continue;
        std::string name = StageName(rules, s);
        if (name.empty()) continue;
        raw.push_back({.value = s,
                       .text = std::move(name),
                       .steps = std::abs(s - current),
                       .direction = s > current ? 1 : -1});
      }
      break;
    }
    default:
      break;
  }
  if (factors.empty()) return space;
  Opportunity changed = opp;
  for (Candidate& c : raw) {
    Apply(lever, c, now, &changed);
    AxisScores s = ScoreAxes(changed, rules, now);
    c.dp = s.potential - base.potential;
    c.dr = s.relationship - base.relationship;
  }
  // Smallest changes first, so a value whose effect a smaller change of
  // the same direction already has is dropped.
  std::stable_sort(
      raw.begin(), raw.end(),
      [](const Candidate& a, const Candidate& b) { return a.steps < b.steps; });
  for (Candidate& c : raw) {
    if (c.dp == 0 && c.dr == 0) continue;
    bool same = std::any_of(space.candidates.begin(), space.candidates.end(),
                            [&](const Candidate& k) {
                              return k.direction == c.direction &&
                                     k.dp == c.dp && k.dr == c.dr;
                            });
    if (!same) space.candidates.push_back(std::move(c));
  }
  return space;
}

// The score interval [lo, hi) of band `band` of `thresholds`.
std::pair<double, double> BandRange(
    int band, const google::protobuf::RepeatedField<double>& thresholds) {
  double lo = band == 0 ? -1e300 : thresholds[band - 1];
  double hi = band == thresholds.size() ? 1e300 : thresholds[band];
  return {lo, hi};
}

bool Near(double raw, std::pair<double, double> range) {
  for (double d : {-kSumError, kSumError}) {
    const double score = RoundScore(std::clamp(raw + d, 0.0, 100.0));
    if (score >= range.first && score < range.second) return true;
  }
  return false;
}

// A combination: per lever space, the candidate taken (-1: unchanged).
// A space has at most 2 * kWhatIfMaxCountSteps + 4 candidates.
static_assert(2 * kWhatIfMaxCountSteps + 4 < INT16_MAX);
constexpr size_t kLeverCount = std::size(kLevers);
struct Combination {
  std::array<int16_t, kLeverCount> pick;
  int levers = 0;
  int steps = 0;
};

// Whether `a` changes a part of `b`'s levers, each in the same direction
// by no more.
bool Dominates(const Combination& a, const Combination& b,
               const std::vector<LeverSpace>& spaces) {
  for (size_t i = 0; i < spaces.size(); ++i) {
    if (a.pick[i] < 0) continue;
    if (b.pick[i] < 0) return false;
    const Candidate& x = spaces[i].candidates[a.pick[i]];
    const Candidate& y = spaces[i].candidates[b.pick[i]];
    if (x.direction != y.direction || x.steps > y.steps) return false;
  }
  return true;
}

// Every combination whose summed effect reaches the target's bands,
// fewest levers first, then fewest steps.
std::vector<Combination> Landing(const std::vector<LeverSpace>& spaces,
                                 const AxisScores& base,
                                 std::pair<double, double> prange,
                                 std::pair<double, double> rrange) {
  std::vector<Combination> found;
  Combination at;
  at.pick.fill(-1);
  auto walk = [&](auto&& self, size_t i, double p, double r) -> void {
    if (i == spaces.size()) {
      if (at.levers > 0 && Near(p, prange) && Near(r, rrange)) {
        found.push_back(at);
      }
      return;
    }
    self(self, i + 1, p, r);
    for (size_t k = 0; k < spaces[i].candidates.size(); ++k) {
      const Candidate& c = spaces[i].candidates[k];
      at.pick[i] = static_cast<int16_t>(k);
      ++at.levers;
      at.steps += c.steps;
      self(self, i + 1, p + c.dp, r + c.dr);
      at.steps -= c.steps;
      --at.levers;
      at.pick[i] = -1;
    }
  };
  walk(walk, 0, base.potential, base.relationship);
  std::stable_sort(found.begin(), found.end(),
                   [](const Combination& a, const Combination& b) {
                     if (a.levers != b.levers) return a.levers < b.levers;
                     return a.steps < b.steps;
                   });
  return found;
}

// `opp` with the combination's changes.
Opportunity Applied(const Opportunity& opp, const Combination& c,
                    const std::vector<LeverSpace>& spaces, absl::Time now) {
  Opportunity changed = opp;
  for (size_t i = 0; i < spaces.size(); ++i) {
    if (c.pick[i] >= 0) {
      Apply(spaces[i].lever, spaces[i].candidates[c.pick[i]], now, &changed);
    }
  }
  return changed;
}

void AddOption(const Combination& c, const std::vector<LeverSpace>& spaces,
               v1::Classification result, v1::WhatIfResponse* out) {
  v1::WhatIfOption* option = out->add_options();
  option->set_steps(c.steps);
  for (size_t i = 0; i < spaces.size(); ++i) {
    if (c.pick[i] < 0) continue;
    const Candidate& k = spaces[i].candidates[c.pick[i]];
    v1::LeverChange* change = option->add_changes();
    change->set_lever(spaces[i].lever);
    change->set_field(std::string(LeverField(spaces[i].lever)));
    change->set_from(spaces[i].from);
    change->set_to(k.text);
    change->set_steps(k.steps);
  }
  *option->mutable_result() = std::move(result);
}

// The levers to search: the given ones (all when none), once each, in
// Lever order.
std::vector<Lever> LeversToSearch(const WhatIfOptions& options) {
  std::vector<Lever> levers = options.levers;
  if (levers.empty()) {
    for (const LeverInfo& l : kLevers) levers.push_back(l.lever);
  }
  std::sort(levers.begin(), levers.end());
  levers.erase(std::unique(levers.begin(), levers.end()), levers.end());
  levers.erase(std::remove_if(levers.begin(), levers.end(),
                              [](Lever l) { return LeverField(l).empty(); }),
               levers.end());
  return levers;
}

}  // namespace

absl::string_view LeverField(Lever lever) {
  const LeverInfo* info = Info(lever);
  return info == nullptr ? absl::string_view() : info->field;
}

v1::WhatIfResponse WhatIf(const Opportunity& opp, const CompiledRuleset& rules,
                          absl::Time now, absl::string_view target_cell,
                          const WhatIfOptions& options) {
  v1::WhatIfResponse out;
  *out.mutable_current() = ClassifyValidated(opp, rules, now, {});
  if (out.current().cell() == target_cell) {
    out.set_note(absl::StrCat("already in ", target_cell));
    return out;
  }
  const v1::MatrixRules& matrix = rules.proto.matrix();
  const v1::Cell* target = nullptr;
  for (const v1::Cell& c : matrix.cells()) {
    if (c.id() == target_cell) target = &c;
  }
  if (target == nullptr) return out;  // the caller checks the cell

  const std::vector<Lever> levers = LeversToSearch(options);
  const AxisScores base = ScoreAxes(opp, rules, now);
  std::vector<LeverSpace> spaces;
  std::vector<std::string> searched;
  for (Lever lever : levers) {
    searched.push_back(absl::AsciiStrToLower(
        ShortEnumName(v1::Lever_descriptor()->FindValueByNumber(lever))));
    LeverSpace s = Space(lever, opp, rules, now, base);
    if (!s.candidates.empty()) spaces.push_back(std::move(s));
  }
  const std::vector<Combination> found = Landing(
      spaces, base,
      BandRange(target->potential_band(), matrix.potential_thresholds()),
      BandRange(target->relationship_band(), matrix.relationship_thresholds()));

  // The minimal ones, each confirmed by classifying it: one that a kept
  // option dominates is not minimal.
  const int max_options = std::clamp(options.max_options, 1, kWhatIfMaxOptions);
  std::vector<const Combination*> kept;
  int unconfirmed = 0;
  for (const Combination& c : found) {
    if (static_cast<int>(kept.size()) == max_options) break;
    if (std::any_of(kept.begin(), kept.end(), [&](const Combination* k) {
          return Dominates(*k, c, spaces);
        })) {
      continue;
    }
    v1::Classification result =
        ClassifyValidated(Applied(opp, c, spaces, now), rules, now, {});
    if (result.cell() != target_cell) {  // rounding said no
      if (++unconfirmed == kMaxUnconfirmed) break;
      continue;
    }
    kept.push_back(&c);
    AddOption(c, spaces, std::move(result), &out);
  }
  if (out.options().empty()) {
    std::string note =
        absl::StrCat("no change of ", absl::StrJoin(searched, ", "),
                     " reaches ", target_cell);
    if (!IsOpen(rules.LookupStage(opp.stage())) &&
        std::find(levers.begin(), levers.end(), v1::LEVER_STAGE) !=
            levers.end()) {
      absl::StrAppend(&note, " (the deal is closed: its stage stays)");
    }
    out.set_note(std::move(note));
  }
  return out;
}

}  // namespace oppmatrix
