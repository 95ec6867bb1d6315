#!/usr/bin/python3
"""Classifies an opportunity (canonical JSON) with the oppmatrix classifier.

    /usr/bin/python3 clients/python/classify.py --target 127.0.0.1:50051 \
        opportunity.json
"""

import argparse
import os
import sys

import grpc
from google.protobuf import json_format

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oppmatrix_stubs  # noqa: E402


def classify(stubs, target, opportunity, timeout=5.0):
    """Returns the Classification; raises grpc.RpcError on failure."""
    with grpc.insecure_channel(target) as channel:
        stub = stubs.service_grpc.ClassificationServiceStub(channel)
        request = stubs.service.ClassifyRequest(opportunity=opportunity)
        return stub.Classify(request, timeout=timeout).classification


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", default=os.environ.get(
        "OPPMATRIX_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--proto_dir",
                        default=os.path.join(here, "..", "..", "proto"))
    parser.add_argument("file", help="opportunity as JSON, or - for stdin")
    args = parser.parse_args()

    stubs = oppmatrix_stubs.load_stubs(args.proto_dir)
    text = sys.stdin.read() if args.file == "-" else open(args.file).read()
    opportunity = json_format.Parse(text, stubs.opportunity.Opportunity())
    try:
        c = classify(stubs, args.target, opportunity)
    except grpc.RpcError as e:
        print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
        for field, description in oppmatrix_stubs.field_violations(stubs, e):
            print("  %s: %s" % (field, description), file=sys.stderr)
        return 1
    print(json_format.MessageToJson(c, preserving_proto_field_name=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
