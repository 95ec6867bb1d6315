#include "clients/sim/opportunity_generator.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"

namespace oppmatrix {
namespace {

using google::protobuf::util::TimeUtil;

// Stage names as CRMs send them; earlier stages are more common.
constexpr const char* kStages[] = {"Prospecting",
                                   "Qualification",
                                   "Appointment Scheduled",
                                   "Qualify",
                                   "New",
                                   "Needs Analysis",
                                   "Value Proposition",
                                   "Qualified To Buy",
                                   "Develop",
                                   "Qualified",
                                   "Presentation Scheduled",
                                   "Proposal/Price Quote",
                                   "Negotiation/Review",
                                   "Contract Sent",
                                   "Propose",
                                   "Proposition",
                                   "Closed Won",
                                   "Closed Lost",
                                   "Decision Maker Bought-In"};

constexpr const char* kIndustries[] = {
    "Technology",    "Software",   "Technolgy",  "Manufacturing",
    "Manufactoring", "Healthcare", "Helthcare",  "Financial Services",
    "Banking",       "Retail",     "E-commerce", "Education",
    "Government",    "Energy",     "Logistics",  "Telecommunications",
    "Construction",  "Consulting", "Media",      "Hospitality",
    "制造业",        "互联网",     "Aerospace"};  // the last: unknown

constexpr const char* kCountries[] = {"US", "DE", "CN", "GB", "FR",
                                      "JP", "SG", "BR", "IN", "AU"};

struct Currency {
  const char* code;
  double per_usd;  // units of this currency per USD
};
constexpr Currency kCurrencies[] = {{"USD", 1},    {"USD", 1},   {"USD", 1},
                                    {"EUR", 0.93}, {"CNY", 7.1}, {"GBP", 0.79},
                                    {"JPY", 150}};

constexpr const char* kProducts[] = {"Platform", "Analytics", "Support Plan",
                                     "Integration", "Training"};
constexpr const char* kOwners[] = {"li.wei",  "a.schmidt", "j.doe",
                                   "m.rossi", "s.tanaka",  "r.silva"};
constexpr const char* kNamePrefixes[] = {
    "Northwind", "Contoso",  "Fabrikam", "Globex", "Initech", "Umbrella",
    "Hooli",     "Vandelay", "Acme",     "Stark",  "Wayne",   "Tyrell"};
constexpr const char* kNameSuffixes[] = {"Industries", "Group",   "Labs",
                                         "Holdings",   "Systems", "Trading"};

template <typename T, size_t N>
const T& Pick(OpportunityGenerator& g, const T (&items)[N]) {
  return items[g.Between(0, static_cast<int64_t>(N) - 1)];
}

google::type::Money Money(const char* currency, double amount) {
  google::type::Money m;
  m.set_currency_code(currency);
  m.set_units(static_cast<int64_t>(std::floor(amount)));
  return m;
}

}  // namespace

OpportunityGenerator::OpportunityGenerator(Options options, absl::Time now)
    : options_(std::move(options)), now_(now), rng_(options_.seed) {}

double OpportunityGenerator::Uniform() {
  // 53 random bits: the same numbers on every platform (unlike
  // std::uniform_real_distribution).
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int64_t OpportunityGenerator::Between(int64_t lo, int64_t hi) {
  return lo +
         static_cast<int64_t>(Uniform() * static_cast<double>(hi - lo + 1));
}

v1::Opportunity OpportunityGenerator::Next() {
  v1::Opportunity o;
  const int64_t n = next_++;
  o.set_id(absl::StrFormat("%s%06d", options_.id_prefix, n));
  o.set_tenant_id(options_.tenant_id);
  o.set_version(1);
  std::string company =
      absl::StrCat(Pick(*this, kNamePrefixes), " ", Pick(*this, kNameSuffixes));
  o.set_name(absl::StrCat(company, " - ", Pick(*this, kProducts)));
  o.set_product(Pick(*this, kProducts));
  o.set_owner(Pick(*this, kOwners));
  o.set_stage(Pick(*this, kStages));

  // Company size: log-uniform 3 .. 60,000 employees; revenue follows.
  double employees = std::exp(std::log(3.0) + Uniform() * std::log(20000.0));
  const Currency& cur = Pick(*this, kCurrencies);
  v1::Account* account = o.mutable_account();
  account->set_id(absl::StrFormat("acct-%05d", Between(1, 99999)));
  account->set_name(company);
  account->set_industry(Pick(*this, kIndustries));
  account->set_employees(static_cast<int64_t>(employees));
  account->set_country(Pick(*this, kCountries));
  if (Uniform() < 0.7) {
    double revenue_usd = employees * (80000 + Uniform() * 220000);
    *account->mutable_annual_revenue() =
        Money(cur.code, revenue_usd * cur.per_usd);
  }
  // Deal size grows with the company: ~1% of a year's revenue per head.
  double amount_usd =
      std::clamp(employees * (40 + Uniform() * 400), 1500.0, 5'000'000.0);
  *o.mutable_amount() = Money(cur.code, amount_usd * cur.per_usd);

  // Relationship: one latent strength drives the signals together.
  double strength = Uniform();
  v1::Relationship* r = o.mutable_relationship();
  r->set_contacts_engaged(static_cast<int32_t>(strength * 8 + Uniform() * 2));
  r->set_has_champion(Uniform() < strength * 0.9);
  r->set_executive_sponsor(Uniform() < strength * strength);
  r->set_meetings_last_90_days(static_cast<int32_t>(strength * 6 * Uniform()));
  r->set_existing_customer(Uniform() < 0.3 + 0.4 * strength);
  r->set_won_deals_with_account(
      r->existing_customer() ? static_cast<int32_t>(Between(1, 4)) : 0);
  if (strength > 0.1) {
    double days_ago = (1 - strength) * 120 * Uniform();
    *r->mutable_last_interaction_time() = TimeUtil::SecondsToTimestamp(
        absl::ToUnixSeconds(now_ - absl::Hours(24 * days_ago)));
  }

  double age_days = 5 + Uniform() * 200;
  *o.mutable_created_time() = TimeUtil::SecondsToTimestamp(
      absl::ToUnixSeconds(now_ - absl::Hours(24 * age_days)));
  double close_in_days = -10 + Uniform() * 200;
  *o.mutable_expected_close_time() = TimeUtil::SecondsToTimestamp(
      absl::ToUnixSeconds(now_ + absl::Hours(24 * close_in_days)));
  if (Uniform() < 0.25) {
    o.set_need_urgency(static_cast<v1::NeedUrgency>(Between(1, 3)));
  }
  return o;
}

}  // namespace oppmatrix
