// Deterministic, realistic CRM opportunities for demos, benchmarks and the
// CRM simulator: the stage names of Salesforce, HubSpot, Dynamics 365 and
// Odoo, industry strings as CRMs hold them (misspellings included), amounts
// and company sizes spread over orders of magnitude in several currencies,
// and relationship signals that go together (a champion tends to come with
// meetings). The same seed gives the same opportunities.
//
//   OpportunityGenerator gen({.tenant_id = "demo", .seed = 7}, absl::Now());
//   v1::Opportunity o = gen.Next();  // "opp-000001", then "opp-000002", ...
#ifndef OPPMATRIX_CLIENTS_SIM_OPPORTUNITY_GENERATOR_H_
#define OPPMATRIX_CLIENTS_SIM_OPPORTUNITY_GENERATOR_H_

#include <cstdint>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "oppmatrix/v1/opportunity.pb.h"

namespace oppmatrix {

class OpportunityGenerator {
 public:
  struct Options {
    std::string tenant_id = "demo";
    uint64_t seed = 1;
    // Ids are "<id_prefix><6-digit number>".
    std::string id_prefix = "opp-";
  };

  // Times (created, last interaction, close) are placed around `now`.
  OpportunityGenerator(Options options, absl::Time now);

  // The next opportunity, version 1.
  v1::Opportunity Next();

  // A uniform double in [0, 1), from the generator's own stream.
  double Uniform();
  // A uniform integer in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi);

 private:
  Options options_;
  absl::Time now_;
  std::mt19937_64 rng_;
  int64_t next_ = 1;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_SIM_OPPORTUNITY_GENERATOR_H_
