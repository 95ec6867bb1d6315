// The messy-values corpus (testdata/messy_values.yaml): values as CRMs
// and people produce them, each with its source, for the engine's test
// (through Classify) and the ingestor's (through the bus).
//
//   for (const MessyValue& m : Corpus()) {
//     v1::Opportunity o = MessyBase();
//     SetMessyValue(o, m);
//   }
#ifndef OPPMATRIX_TESTS_ENGINE_MESSY_VALUES_H_
#define OPPMATRIX_TESTS_ENGINE_MESSY_VALUES_H_

#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "yaml-cpp/yaml.h"

namespace oppmatrix::testutil {

struct MessyValue {
  std::string field;
  std::string value;
  std::string expect;
  std::string source;
};

inline std::vector<MessyValue> Corpus() {
  YAML::Node root = YAML::LoadFile(OPPMATRIX_SOURCE_DIR
                                   "/tests/engine/testdata/messy_values.yaml");
  std::vector<MessyValue> out;
  for (const YAML::Node& v : root["values"]) {
    out.push_back({v["field"].as<std::string>(), v["value"].as<std::string>(),
                   v["expect"].as<std::string>(),
                   v["source"].as<std::string>()});
  }
  return out;
}

// A complete opportunity whose every dimension is known.
inline v1::Opportunity MessyBase() {
  v1::Opportunity o;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        id: "opp-messy"
        tenant_id: "t"
        version: 1
        name: "ERP rollout"
        stage: "Negotiation/Review"
        amount { currency_code: "EUR" units: 120000 }
        owner: "jane"
        product: "ERP"
        account {
          id: "acc-1"
          name: "Acme"
          industry: "Manufacturing"
          employees: 800
          annual_revenue { currency_code: "EUR" units: 90000000 }
          country: "DE"
        }
      )pb",
      &o));
  return o;
}

inline void SetMessyValue(v1::Opportunity& o, const MessyValue& m) {
  v1::Account& a = *o.mutable_account();
  if (m.field == "stage") {
    o.set_stage(m.value);
  } else if (m.field == "name") {
    o.set_name(m.value);
  } else if (m.field == "owner") {
    o.set_owner(m.value);
  } else if (m.field == "product") {
    o.set_product(m.value);
  } else if (m.field == "amount.currency_code") {
    o.mutable_amount()->set_currency_code(m.value);
  } else if (m.field == "account.name") {
    a.set_name(m.value);
  } else if (m.field == "account.industry") {
    a.set_industry(m.value);
  } else if (m.field == "account.country") {
    a.set_country(m.value);
  } else if (m.field == "account.annual_revenue.currency_code") {
    a.mutable_annual_revenue()->set_currency_code(m.value);
  } else {
    ADD_FAILURE() << "unknown corpus field " << m.field;
  }
}

}  // namespace oppmatrix::testutil

#endif  // OPPMATRIX_TESTS_ENGINE_MESSY_VALUES_H_
