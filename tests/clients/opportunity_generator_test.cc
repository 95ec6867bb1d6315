// The generated opportunities: deterministic per seed, always valid, and
// spread over the whole matrix under the default ruleset.
#include "clients/sim/opportunity_generator.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/engine/engine.h"
#include "services/engine/opportunity_validator.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {
namespace {

absl::Time Now() { return absl::FromUnixSeconds(1795435200); }

TEST(OpportunityGeneratorTest, SameSeedSameOpportunities) {
  OpportunityGenerator a({.tenant_id = "t", .seed = 42}, Now());
  OpportunityGenerator b({.tenant_id = "t", .seed = 42}, Now());
  OpportunityGenerator c({.tenant_id = "t", .seed = 43}, Now());
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    v1::Opportunity x = a.Next(), y = b.Next(), z = c.Next();
    EXPECT_EQ(x.SerializeAsString(), y.SerializeAsString());
    EXPECT_EQ(x.id(), z.id());  // ids follow the count, not the seed
    differ += x.SerializeAsString() != z.SerializeAsString();
  }
  EXPECT_EQ(differ, 100);
}

TEST(OpportunityGeneratorTest, IdsAndTenant) {
  OpportunityGenerator g({.tenant_id = "acme", .seed = 1, .id_prefix = "d-"},
                         Now());
  EXPECT_EQ(g.Next().id(), "d-000001");
  v1::Opportunity second = g.Next();
  EXPECT_EQ(second.id(), "d-000002");
  EXPECT_EQ(second.tenant_id(), "acme");
  EXPECT_EQ(second.version(), 1);
}

TEST(OpportunityGeneratorTest, ValidAndSpreadOverEveryCell) {
  auto rules = LoadRulesetFile(OPPMATRIX_SOURCE_DIR "/rules/default.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  OpportunityGenerator g({.tenant_id = "t", .seed = 7}, Now());
  std::map<std::string, int> cells;
  std::set<int> stages;
  for (int i = 0; i < 1000; ++i) {
    v1::Opportunity o = g.Next();
    std::vector<FieldViolation> violations;
    ValidateOpportunity(o, "", violations);
    ASSERT_TRUE(violations.empty())
        << violations[0].field() << ": " << violations[0].description();
    absl::StatusOr<v1::Classification> c = Classify(o, **rules, Now(), {});
    ASSERT_TRUE(c.ok()) << c.status();
    ++cells[c->cell()];
    stages.insert(c->buying_stage());
  }
  for (const char* cell : {"KEY", "DEVELOP", "MAINTAIN", "EXIT"}) {
    EXPECT_GE(cells[cell], 50) << cell;  // every cell well populated
  }
  EXPECT_GE(stages.size(), 5u);  // awareness through closed
}

}  // namespace
}  // namespace oppmatrix
