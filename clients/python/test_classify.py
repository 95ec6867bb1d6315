#!/usr/bin/python3
"""Test: the Python example client, with stubs generated from proto/ alone,
against the real oppmatrix-classifier on a free loopback port."""

import argparse
import os
import re
import subprocess
import sys
import time
import unittest

import grpc
from google.protobuf import json_format

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classify  # noqa: E402
import oppmatrix_stubs  # noqa: E402

ARGS = None
STUBS = None


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                    "oppmatrix-python-test-%d.log" % os.getpid()),
                       "w+")
        cls.server = subprocess.Popen(
            [ARGS.classifier, "--listen=127.0.0.1:0", "--redis=",
             "--rules=" + ARGS.rules,
             "--rules_poll_interval=0"], stderr=cls.log)
        deadline = time.time() + 30
        port = None
        while time.time() < deadline and port is None:
            cls.log.seek(0)
            m = re.search(r"\(port (\d+)\)", cls.log.read())
            port = m and m.group(1)
            time.sleep(0.05)
        if port is None:
            cls.server.kill()
            raise RuntimeError("classifier did not start")
        cls.target = "127.0.0.1:" + port

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(timeout=30)
        cls.log.close()
        os.unlink(cls.log.name)

    def test_classifies_a_json_opportunity(self):
        opp = json_format.Parse(
            '{"id": "py-1", "tenant_id": "acme", "stage": "Proposal/Price Quote",'
            ' "amount": {"currency_code": "USD", "units": "900000"},'
            ' "need_urgency": "NEED_URGENCY_URGENT",'
            ' "account": {"industry": "Healthcare", "employees": "3000"},'
            ' "relationship": {"has_champion": true, "contacts_engaged": 5,'
            ' "executive_sponsor": true, "meetings_last_90_days": 4}}',
            STUBS.opportunity.Opportunity())
        c = classify.classify(STUBS, self.target, opp)
        self.assertEqual(c.opportunity_id, "py-1")
        self.assertEqual(c.cell, "KEY")
        self.assertEqual(c.customer_type,
                         STUBS.dimensions.CUSTOMER_TYPE_LARGE_ENTERPRISE)
        self.assertEqual(c.industry, STUBS.dimensions.INDUSTRY_HEALTHCARE)
        self.assertTrue(c.ruleset_version.startswith("default@"))
        self.assertGreater(len(c.reasons), 0)

    def test_bad_request_carries_bad_request_details(self):
        opp = STUBS.opportunity.Opportunity(id="py-2", tenant_id="acme",
                                            probability=float("nan"))
        with self.assertRaises(grpc.RpcError) as ctx:
            classify.classify(STUBS, self.target, opp)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(
            oppmatrix_stubs.field_violations(STUBS, ctx.exception),
            [("opportunity.probability", "must be a finite number")])

    def test_batch_with_a_bad_item(self):
        with grpc.insecure_channel(self.target) as channel:
            stub = STUBS.service_grpc.ClassificationServiceStub(channel)
            request = STUBS.service.BatchClassifyRequest(opportunities=[
                STUBS.opportunity.Opportunity(id="a", tenant_id="acme"),
                STUBS.opportunity.Opportunity(tenant_id="acme")])
            response = stub.BatchClassify(request, timeout=5)
        self.assertEqual([r.status.code for r in response.results], [0, 3])
        self.assertEqual(response.results[0].classification.opportunity_id, "a")

    def test_what_if(self):
        opp = json_format.Parse(
            '{"id": "py-3", "tenant_id": "acme", "stage": "Negotiation",'
            ' "amount": {"currency_code": "USD", "units": "800000"},'
            ' "need_urgency": "NEED_URGENCY_URGENT",'
            ' "budget_status": "BUDGET_STATUS_APPROVED",'
            ' "account": {"customer_type": "CUSTOMER_TYPE_LARGE_ENTERPRISE"}}',
            STUBS.opportunity.Opportunity())
        with grpc.insecure_channel(self.target) as channel:
            stub = STUBS.service_grpc.ClassificationServiceStub(channel)
            response = stub.WhatIf(STUBS.service.WhatIfRequest(
                opportunity=opp, target_cell="KEY", max_options=2), timeout=5)
            self.assertEqual(response.current.cell, "DEVELOP")
            self.assertEqual(len(response.options), 2)
            for option in response.options:
                self.assertEqual(option.result.cell, "KEY")
                self.assertEqual(sum(c.steps for c in option.changes),
                                 option.steps)
            with self.assertRaises(grpc.RpcError) as ctx:
                stub.WhatIf(STUBS.service.WhatIfRequest(
                    opportunity=opp, target_cell="TOP"), timeout=5)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(
            [f for f, _ in oppmatrix_stubs.field_violations(STUBS, ctx.exception)],
            ["target_cell"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--rules", required=True)
    ARGS, rest = parser.parse_known_args()
    STUBS = oppmatrix_stubs.load_stubs(ARGS.proto_dir)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
