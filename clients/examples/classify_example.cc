// Classifies one opportunity with the C++ client library and prints the
// matrix cell and the recommended action.
//
//   classify_example 127.0.0.1:50051
#include <iostream>

#include "clients/cpp/classification_client.h"

int main(int argc, char** argv) {
  oppmatrix::ClientOptions options;
  if (argc > 1) options.target = argv[1];
  auto client = oppmatrix::ClassificationClient::Create(options);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }

  oppmatrix::v1::Opportunity opp;
  opp.set_id("opp-1001");
  opp.set_tenant_id("acme");
  opp.set_stage("Proposal/Price Quote");
  opp.mutable_amount()->set_currency_code("USD");
  opp.mutable_amount()->set_units(250000);
  opp.mutable_account()->set_industry("Manufacturing");
  opp.mutable_account()->set_employees(800);
  opp.mutable_relationship()->set_has_champion(true);
  opp.mutable_relationship()->set_contacts_engaged(3);

  absl::StatusOr<oppmatrix::v1::Classification> c = (*client)->Classify(opp);
  if (!c.ok()) {
    std::cerr << c.status() << "\n";
    for (const auto& v : oppmatrix::GetFieldViolations(c.status())) {
      std::cerr << "  " << v.field() << ": " << v.description() << "\n";
    }
    return 1;
  }
  std::cout << c->opportunity_id() << ": " << c->cell() << " (grade "
            << oppmatrix::v1::Grade_Name(c->grade()) << "), "
            << c->action().code() << ": " << c->action().playbook() << "\n";
  return 0;
}
