#include "clients/sim/crm_simulator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "services/ingestion/crm_event.h"

namespace oppmatrix {
namespace {

using google::protobuf::util::TimeUtil;

// Each CRM's names for: awareness, consideration, decision, won, lost.
constexpr const char* kFlavours[][5] = {
    {"Prospecting", "Needs Analysis", "Proposal/Price Quote", "Closed Won",
     "Closed Lost"},
    {"Appointment Scheduled", "Qualified To Buy", "Contract Sent", "closedwon",
     "closedlost"},
    {"Qualify", "Develop", "Propose", "Won", "Lost"},
    {"New", "Qualified", "Proposition", "Won", "Lost"},
};

std::string Json(const v1::CrmEvent& e) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(e, &out);
  return out;
}

}  // namespace

CrmSimulator::CrmSimulator(Options options, absl::Time now)
    : options_(std::move(options)),
      now_(now),
      gen_({.tenant_id = "", .seed = options_.seed}, now) {}

void CrmSimulator::Record(const v1::CrmEvent& event) {
  auto key = std::make_pair(event.tenant_id(), event.opportunity_id());
  auto it = expected_.find(key);
  std::optional<v1::OpportunitySnapshot> current;
  if (it != expected_.end()) current = it->second;
  absl::StatusOr<ApplyOutcome> out = ApplyEvent(current, event);
  if (out.ok() && out->kind != ApplyOutcome::Kind::kStale) {
    expected_[key] = std::move(out->snapshot);
  }
  history_.push_back(event);
}

v1::CrmEvent CrmSimulator::Evolve(Opp& opp) {
  v1::CrmEvent e;
  e.set_tenant_id(opp.tenant);
  e.set_opportunity_id(opp.id);
  e.set_version(++opp.version);
  e.set_type(v1::OPPORTUNITY_UPSERTED);
  const double r = gen_.Uniform();
  if (r < 0.35) {
    // The deal moves on; after the decision stage it closes.
    if (opp.stage < 2) {
      ++opp.stage;
      e.mutable_opportunity()->set_stage(kFlavours[opp.flavour][opp.stage]);
    } else {
      bool won = gen_.Uniform() < 0.6;
      e.mutable_opportunity()->set_stage(kFlavours[opp.flavour][won ? 3 : 4]);
      opp.stage = 3;  // ended
    }
    e.mutable_update_mask()->add_paths("stage");
  } else if (r < 0.55) {
    e.set_type(v1::ACTIVITY_LOGGED);
    v1::Activity* a = e.mutable_activity();
    a->set_kind(static_cast<v1::ActivityKind>(gen_.Between(1, 5)));
    a->set_contact_role(static_cast<v1::ContactRole>(gen_.Between(0, 5)));
    *a->mutable_occurred_time() = TimeUtil::SecondsToTimestamp(
        absl::ToUnixSeconds(now_ - absl::Hours(gen_.Between(0, 24 * 60))));
  } else if (r < 0.70) {
    google::type::Money* m = e.mutable_opportunity()->mutable_amount();
    m->set_currency_code("USD");
    m->set_units(gen_.Between(2'000, 2'000'000));
    e.mutable_update_mask()->add_paths("amount");
  } else if (r < 0.85) {
    e.mutable_opportunity()->mutable_relationship()->set_contacts_engaged(
        static_cast<int32_t>(gen_.Between(0, 10)));
    e.mutable_update_mask()->add_paths("relationship.contacts_engaged");
  } else if (r < 0.95) {
    // The CRM sends the whole record (no mask): a fresh copy of it.
    v1::Opportunity full = gen_.Next();
    full.clear_id();
    full.clear_tenant_id();
    full.clear_version();
    full.set_stage(kFlavours[opp.flavour][opp.stage]);
    *e.mutable_opportunity() = std::move(full);
  } else {
    e.set_type(v1::OPPORTUNITY_DELETED);
    e.clear_opportunity();
    opp.stage = 4;  // ended
  }
  return e;
}

std::optional<CrmSimulator::Emitted> CrmSimulator::Next() {
  const double r = gen_.Uniform();
  const double bad = options_.malformed_fraction;
  const double dup = bad + options_.duplicate_fraction;
  const double replay = dup + options_.replay_fraction;
  Emitted out;
  if (!history_.empty() && r < replay) {
    if (r < bad) {
      out.malformed = true;
      if (gen_.Uniform() < 0.5) {
        out.json = absl::StrCat("{\"event_id\": \"broken-", emitted_, "\", ");
      } else {
        v1::CrmEvent e = history_.back();
        e.set_event_id(absl::StrCat("invalid-", emitted_));
        e.set_version(0);  // fails validation
        out.json = Json(e);
      }
    } else {
      out.repeat = true;
      const v1::CrmEvent& e =
          r < dup ? history_.back()
                  : history_[gen_.Between(0, history_.size() - 1)];
      out.json = Json(e);
    }
    ++emitted_;
    return out;
  }
  const int total = options_.tenants * options_.opportunities_per_tenant;
  v1::CrmEvent e;
  if (created_ < total && (live_.empty() || gen_.Uniform() < 0.3)) {
    Opp opp;
    opp.tenant = absl::StrCat("tenant-", created_ % options_.tenants + 1);
    v1::Opportunity o = gen_.Next();
    opp.id = absl::StrCat("opp-", created_);
    opp.flavour = static_cast<int>(gen_.Between(0, 3));
    opp.version = 1;
    o.set_id(opp.id);
    o.set_tenant_id(opp.tenant);
    o.set_version(1);
    o.set_stage(kFlavours[opp.flavour][0]);
    e.set_tenant_id(opp.tenant);
    e.set_opportunity_id(opp.id);
    e.set_type(v1::OPPORTUNITY_UPSERTED);
    e.set_version(1);
    *e.mutable_opportunity() = std::move(o);
    live_.push_back(static_cast<int>(opps_.size()));
    opps_.push_back(std::move(opp));
    ++created_;
  } else if (live_.empty()) {
    return std::nullopt;
  } else {
    size_t pick = gen_.Between(0, live_.size() - 1);
    Opp& opp = opps_[live_[pick]];
    e = Evolve(opp);
    if (opp.stage >= 3) {
      live_[pick] = live_.back();
      live_.pop_back();
    }
  }
  e.set_event_id(absl::StrCat("sim-", options_.seed, "-", ++event_seq_));
  *e.mutable_occurred_time() =
      TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now_) + event_seq_);
  Record(e);
  out.json = Json(e);
  ++emitted_;
  return out;
}

}  // namespace oppmatrix
