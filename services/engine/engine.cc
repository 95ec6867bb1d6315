#include "services/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "services/common/status_util.h"
#include "services/engine/iso_codes.h"
#include "services/engine/opportunity_validator.h"

namespace oppmatrix {
absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

namespace {

using v1::Classification;
using v1::Opportunity;

double EvalCurve(const std::vector<std::pair<double, double>>& curve,
                 double x) {
  if (x <= curve.front().first) return curve.front().second;
  if (x >= curve.back().first) return curve.back().second;
  for (size_t i = 1; i < curve.size(); ++i) {
    if (x <= curve[i].first) {
      const auto& [x0, y0] = curve[i - 1];
      const auto& [x1, y1] = curve[i];
      return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
    }
  }
  return curve.back().second;
}

// The dimensions that factors read, derived once per opportunity.
struct Derived {
  v1::CustomerType customer_type = v1::CUSTOMER_TYPE_UNSPECIFIED;
  v1::NeedUrgency need_urgency = v1::NEED_URGENCY_UNSPECIFIED;
  v1::BuyingStage buying_stage = v1::BUYING_STAGE_UNSPECIFIED;
  v1::Industry industry = v1::INDUSTRY_UNSPECIFIED;
  std::optional<double> amount;          // base currency
  std::optional<double> annual_revenue;  // base currency
  std::optional<double> days_since_interaction;
  bool unknown_amount_currency = false;
  bool unknown_revenue_currency = false;
  std::optional<std::string> country;  // alpha-2
  absl::Time now;                      // of the classification
};

// `value` (finite, >= 0) as Money in `currency`, rounded to whole nanos.
google::type::Money ToMoney(double value, const std::string& currency) {
  google::type::Money m;
  m.set_currency_code(currency);
  // Beyond int64 (only reachable through an extreme rate): saturate.
  if (value >= 9.2e18) {
    m.set_units(std::numeric_limits<int64_t>::max());
    return m;
  }
  double units = std::floor(value);
  int64_t nanos = std::llround((value - units) * 1e9);
  if (nanos >= 1000000000) {
    units += 1;
    nanos -= 1000000000;
  }
  m.set_units(static_cast<int64_t>(units));
  m.set_nanos(static_cast<int32_t>(nanos));
  return m;
}

bool HasMoney(bool present, const google::type::Money& m) {
  return present && (m.units() != 0 || m.nanos() != 0);
}

Derived Derive(const Opportunity& opp, const CompiledRuleset& rules,
               absl::Time now) {
  Derived d;
  d.now = now;
  const v1::Ruleset& r = rules.proto;
  if (HasMoney(opp.has_amount(), opp.amount())) {
    d.amount = rules.ToBaseCurrency(opp.amount());
    d.unknown_amount_currency = !d.amount.has_value();
  }
  const v1::Account& account = opp.account();
  if (HasMoney(account.has_annual_revenue(), account.annual_revenue())) {
    d.annual_revenue = rules.ToBaseCurrency(account.annual_revenue());
    d.unknown_revenue_currency = !d.annual_revenue.has_value();
  }

  d.customer_type = account.customer_type();
  if (d.customer_type == v1::CUSTOMER_TYPE_UNSPECIFIED) {
    for (const v1::SizeRule& rule : r.customer_type().by_size()) {
      bool by_employees = rule.min_employees() > 0 &&
                          account.employees() >= rule.min_employees();
      bool by_revenue = rule.min_annual_revenue() > 0 &&
                        d.annual_revenue.has_value() &&
                        *d.annual_revenue >= rule.min_annual_revenue();
      if (by_employees || by_revenue) {
        d.customer_type = rule.type();
        break;
      }
    }
  }

  d.need_urgency = opp.need_urgency();
  if (d.need_urgency == v1::NEED_URGENCY_UNSPECIFIED) {
    const google::protobuf::Timestamp* due = nullptr;
    if (opp.has_need_by_time()) {
      due = &opp.need_by_time();
    } else if (opp.has_expected_close_time()) {
      due = &opp.expected_close_time();
    }
    if (due != nullptr) {
      double days = absl::ToDoubleHours(ToAbslTime(*due) - now) / 24.0;
      if (days <= r.urgency().urgent_within_days()) {
        d.need_urgency = v1::NEED_URGENCY_URGENT;
      } else if (days <= r.urgency().general_within_days()) {
        d.need_urgency = v1::NEED_URGENCY_GENERAL;
      } else {
        d.need_urgency = v1::NEED_URGENCY_LATENT;
      }
    }
  }

  d.buying_stage = rules.LookupStage(opp.stage());
  d.industry = rules.LookupIndustry(account.industry());
  if (!account.country().empty()) {
    d.country = rules.LookupCountry(account.country());
  }
  if (opp.relationship().has_last_interaction_time()) {
    absl::Duration since =
        now - ToAbslTime(opp.relationship().last_interaction_time());
    d.days_since_interaction =
        std::max(0.0, std::floor(absl::ToDoubleHours(since) / 24.0));
  }
  return d;
}

// One factor's value in [0, 1] and what it saw.
struct Evaluated {
  double value = 0;
  bool missing = false;
  // What the factor saw, written only when reasons are wanted.
  std::string detail;
};

std::string FormatNumber(double v) {
  double rounded = RoundScore(v);
  if (rounded == std::floor(rounded) && std::fabs(rounded) < 1e15) {
    return absl::StrFormat("%.0f", rounded);
  }
  return absl::StrFormat("%.2f", rounded);
}

// " USD", or " USD (60000 EUR)" when converted.
std::string MoneyUnit(const google::type::Money& original,
                      const std::string& base_currency) {
  if (original.currency_code() == base_currency) {
    return absl::StrCat(" ", base_currency);
  }
  return absl::StrCat(" ", base_currency, " (",
                      FormatNumber(static_cast<double>(original.units()) +
                                   original.nanos() * 1e-9),
                      " ", original.currency_code(), ")");
}

// A decaying factor's value: from the signal's value towards the value of
// an absent signal, halving the distance every half-life since the
// signal's own time (or else the last interaction). A derived need urgency
// is worked out from the dates at `now` and does not decay.
void Decay(const CompiledFactor& f, const Opportunity& opp, const Derived& d,
           bool explain, Evaluated& e) {
  if (f.signal == v1::SIGNAL_NEED_URGENCY &&
      opp.need_urgency() == v1::NEED_URGENCY_UNSPECIFIED) {
    return;
  }
  const v1::SignalTimes& times = opp.signal_times();
  const google::protobuf::Timestamp* since = nullptr;
  if (times.GetReflection()->HasField(times, f.decay_time)) {
    since = static_cast<const google::protobuf::Timestamp*>(
        &times.GetReflection()->GetMessage(times, f.decay_time));
  } else if (opp.relationship().has_last_interaction_time()) {
    since = &opp.relationship().last_interaction_time();
  }
  if (since == nullptr) return;
  const double days =
      std::max(0.0, absl::ToDoubleHours(d.now - ToAbslTime(*since)) / 24.0);
  const double left = std::exp2(-days / f.half_life_days);
  e.value = f.missing + (e.value - f.missing) * left;
  if (explain) {
    absl::StrAppend(&e.detail, ", ", FormatNumber(std::floor(days)),
                    " days old: ", FormatNumber(100 * left), "% left");
  }
}

Evaluated EvalFactor(const CompiledFactor& f, const Opportunity& opp,
                     const Derived& d, const std::string& base_currency,
                     bool explain) {
  Evaluated e;
  auto numeric = [&](std::optional<double> x, absl::string_view what,
                     std::string unit) {
    if (!x.has_value()) {
      e.missing = true;
      e.value = f.missing;
      if (explain) e.detail = absl::StrCat("no ", what);
      return;
    }
    e.value = EvalCurve(f.curve, *x);
    if (explain) {
      e.detail = absl::StrCat(what, " ", FormatNumber(*x), unit);
    }
  };
  auto categorical = [&](int number, absl::string_view what) {
    if (number == 0) {
      e.missing = true;
      e.value = f.missing;
      if (explain) e.detail = absl::StrCat(what, " unknown");
      return;
    }
    e.value =
        number < static_cast<int>(f.by_value.size()) ? f.by_value[number] : 0.0;
    if (explain) {
      e.detail = absl::StrCat(what, " ", f.value_names[number]);
    }
  };
  auto boolean = [&](bool b, absl::string_view yes, absl::string_view no) {
    e.value = f.by_value[b ? 1 : 0];
    if (explain) e.detail = std::string(b ? yes : no);
  };
  auto count = [&](int64_t n, absl::string_view what) {
    e.value = EvalCurve(f.curve, static_cast<double>(n));
    if (explain) e.detail = absl::StrCat(n, " ", what);
  };
  const v1::Relationship& rel = opp.relationship();
  switch (f.signal) {
    case v1::SIGNAL_AMOUNT:
      numeric(d.amount, "amount",
              explain ? MoneyUnit(opp.amount(), base_currency) : "");
      break;
    case v1::SIGNAL_ANNUAL_REVENUE:
      numeric(d.annual_revenue, "annual revenue",
              explain ? MoneyUnit(opp.account().annual_revenue(), base_currency)
                      : "");
      break;
    case v1::SIGNAL_EMPLOYEES:
      numeric(opp.account().employees() > 0
                  ? std::optional<double>(opp.account().employees())
                  : std::nullopt,
              "employees", "");
      break;
    case v1::SIGNAL_PROBABILITY:
      numeric(opp.probability() > 0 ? std::optional<double>(opp.probability())
                                    : std::nullopt,
              "win probability", "%");
      break;
    case v1::SIGNAL_DAYS_SINCE_LAST_INTERACTION:
      if (!d.days_since_interaction.has_value()) {
        e.missing = true;
        e.value = f.missing;
        if (explain) e.detail = "no interaction recorded";
      } else {
        e.value = EvalCurve(f.curve, *d.days_since_interaction);
        if (explain) {
          e.detail = absl::StrCat("last interaction ",
                                  FormatNumber(*d.days_since_interaction),
                                  " days ago");
        }
      }
      break;
    case v1::SIGNAL_CUSTOMER_TYPE:
      categorical(d.customer_type, "customer type");
      break;
    case v1::SIGNAL_NEED_URGENCY:
      categorical(d.need_urgency, "need");
      break;
    case v1::SIGNAL_BUYING_STAGE:
      categorical(d.buying_stage, "stage");
      break;
    case v1::SIGNAL_BUDGET_STATUS:
      categorical(opp.budget_status(), "budget");
      break;
    case v1::SIGNAL_INDUSTRY:
      categorical(d.industry, "industry");
      break;
    case v1::SIGNAL_COUNTRY:
      if (!d.country.has_value()) {
        e.missing = true;
        e.value = f.missing;
        if (explain) e.detail = "country unknown";
      } else {
        auto it = f.by_country.find(*d.country);
        e.value = it == f.by_country.end() ? 0.0 : it->second;
        if (explain) e.detail = absl::StrCat("country ", *d.country);
      }
      break;
    case v1::SIGNAL_HAS_CHAMPION:
      boolean(rel.has_champion(), "has a champion", "no champion");
      break;
    case v1::SIGNAL_EXECUTIVE_SPONSOR:
      boolean(rel.executive_sponsor(), "executive sponsor",
              "no executive sponsor");
      break;
    case v1::SIGNAL_EXISTING_CUSTOMER:
      boolean(rel.existing_customer(), "existing customer", "new customer");
      break;
    case v1::SIGNAL_CONTACTS_ENGAGED:
      count(rel.contacts_engaged(), "contacts engaged");
      break;
    case v1::SIGNAL_MEETINGS_LAST_90_DAYS:
      count(rel.meetings_last_90_days(), "meetings in the last 90 days");
      break;
    case v1::SIGNAL_WON_DEALS_WITH_ACCOUNT:
      count(rel.won_deals_with_account(), "deals won with the account");
      break;
    default:
      e.missing = true;
      e.value = f.missing;
      break;
  }
  if (f.decay_time != nullptr && !e.missing) Decay(f, opp, d, explain, e);
  return e;
}

// One factor's effect on its axis score; reasons are built from the few
// effects that are kept, so only those pay for text.
struct Effect {
  const CompiledFactor* factor;
  v1::Axis axis;
  double contribution;
};

// Scores one axis; records each factor's non-zero effect when `effects` is
// not null, and appends every factor's contribution, in order, to `all`
// when that is not null.
double ScoreAxis(const CompiledAxis& axis, v1::Axis which,
                 const Opportunity& opp, const Derived& d,
                 const std::string& base_currency, std::vector<Effect>* effects,
                 std::vector<double>* all = nullptr) {
  double sum = 0;
  for (const CompiledFactor& f : axis.factors) {
    if (f.weight == 0) {
      if (all != nullptr) all->push_back(0);
      continue;
    }
    Evaluated e = EvalFactor(f, opp, d, base_currency, /*explain=*/false);
    sum += f.weight * e.value;
    if (effects != nullptr || all != nullptr) {
      double contribution =
          RoundScore(100.0 * f.weight * (e.value - 0.5) / axis.total_weight);
      if (effects != nullptr && contribution != 0) {
        effects->push_back({&f, which, contribution});
      }
      if (all != nullptr) all->push_back(contribution);
    }
  }
  return std::clamp(100.0 * sum / axis.total_weight, 0.0, 100.0);
}

// Keeps the strongest positive and negative effects, `max` in all: the top
// positive and top negative are always kept when present, the rest go by
// size. Output: positives (largest first), then negatives (most negative
// first). Ties break by axis then factor name, so the order is stable.
void SelectEffects(std::vector<Effect>& effects, int max) {
  auto by_strength = [](const Effect& a, const Effect& b) {
    double fa = std::fabs(a.contribution), fb = std::fabs(b.contribution);
    if (fa != fb) return fa > fb;
    if (a.axis != b.axis) return a.axis < b.axis;
    return a.factor->label < b.factor->label;
  };
  std::stable_sort(effects.begin(), effects.end(), by_strength);
  if (static_cast<int>(effects.size()) > max && max >= 2) {
    auto first_negative =
        std::find_if(effects.begin(), effects.end(),
                     [](const Effect& e) { return e.contribution < 0; });
    auto first_positive =
        std::find_if(effects.begin(), effects.end(),
                     [](const Effect& e) { return e.contribution > 0; });
    auto last_kept = effects.begin() + max;
    // Make room for the strongest of a sign the cut would drop entirely.
    for (auto it : {first_negative, first_positive}) {
      if (it != effects.end() && it >= last_kept) {
        std::rotate(last_kept - 1, it, it + 1);
      }
    }
  }
  if (static_cast<int>(effects.size()) > max) effects.resize(max);
  std::stable_sort(effects.begin(), effects.end(),
                   [&](const Effect& a, const Effect& b) {
                     bool pa = a.contribution > 0, pb = b.contribution > 0;
                     if (pa != pb) return pa;
                     if (pa) return by_strength(a, b);
                     return a.contribution != b.contribution
                                ? a.contribution < b.contribution
                                : by_strength(a, b);
                   });
}

// Why an amount's value is unknown: no currency, not a currency, or no rate.
std::string CurrencyNote(absl::string_view what,
                         const google::type::Money& money) {
  const std::string& raw = money.currency_code();
  if (raw.empty()) {
    return absl::StrCat(what, " ", money.units(),
                        " has no currency code: its value is unknown");
  }
  std::optional<std::string> code = NormalizeCurrency(raw);
  if (!code.has_value()) {
    return absl::StrCat("unknown currency \"", raw,
                        "\": not an ISO 4217 code or a known symbol; the ",
                        what, " is unknown");
  }
  return absl::StrCat("unknown currency \"", raw, "\" (", *code,
                      "): add it to the ruleset's currency_rates");
}

void AddNote(Classification& c, absl::string_view factor, std::string detail) {
  v1::Reason* r = c.add_reasons();
  r->set_factor(std::string(factor));
  r->set_axis(v1::AXIS_UNSPECIFIED);
  r->set_detail(std::move(detail));
}

}  // namespace

void PlaceInCell(const v1::Cell& cell, Classification* c) {
  c->set_cell(cell.id());
  c->set_cell_label(cell.label());
  c->set_potential_band(cell.potential_band());
  c->set_relationship_band(cell.relationship_band());
  const v1::Action* action = &cell.action();
  for (const v1::ActionRefinement& refinement : cell.refinements()) {
    bool type_ok =
        refinement.customer_type() == v1::CUSTOMER_TYPE_UNSPECIFIED ||
        refinement.customer_type() == c->customer_type();
    bool tier_ok = refinement.value_tier() == v1::VALUE_TIER_UNSPECIFIED ||
                   refinement.value_tier() == c->value_tier();
    if (type_ok && tier_ok) {
      action = &refinement.action();
      break;
    }
  }
  *c->mutable_action() = *action;
}

Classification ClassifyValidated(const Opportunity& opp,
                                 const CompiledRuleset& rules, absl::Time now,
                                 const ClassifyOptions& options) {
  Classification c;
  ClassifyValidatedInto(opp, rules, now, options, &c);
  return c;
}

void ClassifyValidatedInto(const Opportunity& opp, const CompiledRuleset& rules,
                           absl::Time now, const ClassifyOptions& options,
                           Classification* out) {
  const v1::Ruleset& r = rules.proto;
  Derived d = Derive(opp, rules, now);

  std::vector<Effect> effects;
  std::vector<Effect>* sink = options.with_reasons ? &effects : nullptr;
  if (sink != nullptr)
    effects.reserve(rules.potential.factors.size() +
                    rules.relationship.factors.size());
  if (options.contributions != nullptr) {
    options.contributions->clear();
    options.contributions->reserve(rules.potential.factors.size() +
                                   rules.relationship.factors.size());
  }
  double potential =
      RoundScore(ScoreAxis(rules.potential, v1::AXIS_POTENTIAL, opp, d,
                           r.base_currency(), sink, options.contributions));
  double relationship =
      RoundScore(ScoreAxis(rules.relationship, v1::AXIS_RELATIONSHIP, opp, d,
                           r.base_currency(), sink, options.contributions));

  Classification& c = *out;
  c.set_tenant_id(opp.tenant_id());
  c.set_opportunity_id(opp.id());
  c.set_opportunity_version(opp.version());
  c.set_potential_score(potential);
  c.set_relationship_score(relationship);
  c.set_customer_type(d.customer_type);
  c.set_need_urgency(d.need_urgency);
  c.set_buying_stage(d.buying_stage);
  c.set_industry(d.industry);
  if (d.country.has_value()) c.set_country(*d.country);
  if (!opp.account().id().empty()) c.set_account_id(opp.account().id());

  v1::ValueTier tier = v1::VALUE_TIER_LOW;
  if (potential >= r.value_tier().high_min()) {
    tier = v1::VALUE_TIER_HIGH;
  } else if (potential >= r.value_tier().medium_min()) {
    tier = v1::VALUE_TIER_MEDIUM;
  }
  c.set_value_tier(tier);

  double priority = rules.priority_potential_share * potential +
                    (1.0 - rules.priority_potential_share) * relationship;
  if (d.need_urgency < static_cast<int>(rules.urgency_bonus.size())) {
    priority += rules.urgency_bonus[d.need_urgency];
  }
  // The stage bonus comes after a clamp, so -100 always gives 0 (closed
  // deals) and +100 always gives 100.
  priority = std::clamp(priority, 0.0, 100.0);
  if (d.buying_stage < static_cast<int>(rules.stage_bonus.size())) {
    priority += rules.stage_bonus[d.buying_stage];
  }
  priority = RoundScore(std::clamp(priority, 0.0, 100.0));
  c.set_priority_score(priority);
  const v1::GradeRules& g = r.grade();
  c.set_grade(priority >= g.a_min()   ? v1::GRADE_A
              : priority >= g.b_min() ? v1::GRADE_B
              : priority >= g.c_min() ? v1::GRADE_C
                                      : v1::GRADE_D);

  PlaceInCell(*rules.CellAt(potential, relationship), &c);

  if (options.with_reasons) {
    SelectEffects(effects, r.explain().max_reasons());
    c.mutable_reasons()->Reserve(static_cast<int>(effects.size()) + 2);
    for (const Effect& e : effects) {
      v1::Reason* reason = c.add_reasons();
      reason->set_factor(e.factor->label);
      reason->set_axis(e.axis);
      reason->set_contribution(e.contribution);
      reason->set_detail(
          EvalFactor(*e.factor, opp, d, r.base_currency(), /*explain=*/true)
              .detail);
    }
    if (!opp.stage().empty() &&
        d.buying_stage == v1::BUYING_STAGE_UNSPECIFIED) {
      AddNote(c, "stage",
              absl::StrCat("unknown stage \"", opp.stage(),
                           "\": add an alias to the ruleset's stages"));
    }
    if (!opp.account().industry().empty() &&
        d.industry == v1::INDUSTRY_UNSPECIFIED) {
      AddNote(c, "industry",
              absl::StrCat("unknown industry \"", opp.account().industry(),
                           "\": add an alias to the ruleset's industries"));
    }
    if (!opp.account().country().empty() && !d.country.has_value()) {
      AddNote(c, "country",
              absl::StrCat("unknown country \"", opp.account().country(),
                           "\": add an alias to the ruleset's "
                           "country_aliases"));
    }
    if (d.unknown_amount_currency) {
      AddNote(c, "amount", CurrencyNote("amount", opp.amount()));
    }
    if (d.unknown_revenue_currency) {
      AddNote(c, "annual_revenue",
              CurrencyNote("annual revenue", opp.account().annual_revenue()));
    }
  }
  c.set_ruleset_version(rules.version);
  if (d.amount.has_value()) {
    *c.mutable_amount() = ToMoney(*d.amount, r.base_currency());
  }
  *c.mutable_classified_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(now));
}

double RoundScore(double v) { return std::round(v * 100.0) / 100.0; }

AxisScores ScoreAxes(const Opportunity& opp, const CompiledRuleset& rules,
                     absl::Time now) {
  Derived d = Derive(opp, rules, now);
  const std::string& base = rules.proto.base_currency();
  return {ScoreAxis(rules.potential, v1::AXIS_POTENTIAL, opp, d, base, nullptr),
          ScoreAxis(rules.relationship, v1::AXIS_RELATIONSHIP, opp, d, base,
                    nullptr)};
}

absl::StatusOr<Classification> Classify(const Opportunity& opp,
                                        const CompiledRuleset& rules,
                                        absl::Time now,
                                        const ClassifyOptions& options,
                                        absl::string_view field_path) {
  std::vector<FieldViolation> violations;
  ValidateOpportunity(opp, field_path, violations);
  if (!violations.empty()) {
    return InvalidArgumentWithViolations("invalid opportunity", violations);
  }
  return ClassifyValidated(opp, rules, now, options);
}

}  // namespace oppmatrix
