// A realistic, reproducible stream of CRM events for a few tenants:
// opportunities created at the awareness stage and moving through the
// stages (partial updates with update masks), activities logged, some
// deals won, lost or deleted; plus what real buses deliver: duplicates,
// late replays of older versions, and a small fraction of malformed
// events. The same options give the same events.
//
// It also applies its valid events, in order, to its own snapshots, so a
// test can compare what the pipeline stored with what it should have.
//
//   CrmSimulator sim({.seed = 7, .tenants = 3}, absl::Now());
//   while (auto e = sim.Next()) bus.Append(e->json);
#ifndef OPPMATRIX_CLIENTS_SIM_CRM_SIMULATOR_H_
#define OPPMATRIX_CLIENTS_SIM_CRM_SIMULATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "clients/sim/opportunity_generator.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "oppmatrix/v1/snapshot.pb.h"

namespace oppmatrix {

class CrmSimulator {
 public:
  struct Options {
    uint64_t seed = 1;
    int tenants = 3;
    // Opportunities created per tenant over the run.
    int opportunities_per_tenant = 100;
    // Fractions of the emitted events.
    double duplicate_fraction = 0.03;  // the same event again
    double replay_fraction = 0.03;     // an older version, late
    double malformed_fraction = 0.01;  // not JSON, or invalid
  };

  // One emitted event.
  struct Emitted {
    std::string json;        // what goes on the bus
    bool malformed = false;  // expected in the dead-letter stream
    bool repeat = false;     // a duplicate or a late replay
  };

  CrmSimulator(Options options, absl::Time now);

  // The next event; nullopt once every opportunity reached its end (won,
  // lost or deleted) or stopped changing.
  std::optional<Emitted> Next();

  // The state each opportunity should end in: its valid events applied in
  // version order. Deleted ones are tombstones.
  const std::map<std::pair<std::string, std::string>, v1::OpportunitySnapshot>&
  expected() const {
    return expected_;
  }

  int64_t emitted() const { return emitted_; }

 private:
  struct Opp {
    std::string tenant;
    std::string id;
    int64_t version = 0;
    int stage = 0;    // 0 awareness, 1 consideration, 2 decision, 3+ ended
    int flavour = 0;  // which CRM's stage names
  };
  v1::CrmEvent Evolve(Opp& opp);
  void Record(const v1::CrmEvent& event);

  Options options_;
  absl::Time now_;
  OpportunityGenerator gen_;
  std::vector<Opp> opps_;
  std::vector<int> live_;  // indexes of opportunities still changing
  std::vector<v1::CrmEvent> history_;
  std::map<std::pair<std::string, std::string>, v1::OpportunitySnapshot>
      expected_;
  int created_ = 0;
  int64_t emitted_ = 0;
  int64_t event_seq_ = 0;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_SIM_CRM_SIMULATOR_H_
