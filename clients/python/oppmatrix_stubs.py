"""Generates Python stubs for oppmatrix from proto/ alone and imports them.

Uses Debian's protoc and grpc_python_plugin (packages protobuf-compiler and
protobuf-compiler-grpc) with Debian's python3-grpcio and python3-protobuf at
run time. No googleapis package is needed: proto/ carries wire-compatible
copies of google.rpc.Status, google.rpc.BadRequest and google.type.Money.

    stubs = load_stubs("proto")
    stub = stubs.service_grpc.ClassificationServiceStub(channel)
"""

import atexit
import glob
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

_PROTOS = ["oppmatrix/v1/*.proto", "google/rpc/*.proto", "google/type/*.proto"]


def generate(proto_dir, out_dir):
    """Runs protoc over proto_dir, writing *_pb2.py and *_pb2_grpc.py."""
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    files = []
    for pattern in _PROTOS:
        files += sorted(glob.glob(os.path.join(proto_dir, pattern)))
    subprocess.run(
        ["protoc", "-I" + proto_dir, "--python_out=" + out_dir,
         "--grpc_out=" + out_dir, "--plugin=protoc-gen-grpc=" + plugin] + files,
        check=True)


def load_stubs(proto_dir, out_dir=None):
    """Generates the stubs (into a temporary directory by default) and returns
    a namespace with the modules: opportunity, classification, dimensions,
    service, service_grpc, status, error_details, money."""
    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="oppmatrix-py-")
        # The modules are imported below; the files can go when we exit.
        atexit.register(shutil.rmtree, out_dir, ignore_errors=True)
    generate(proto_dir, out_dir)
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    mod = importlib.import_module
    return types.SimpleNamespace(
        opportunity=mod("oppmatrix.v1.opportunity_pb2"),
        classification=mod("oppmatrix.v1.classification_pb2"),
        dimensions=mod("oppmatrix.v1.dimensions_pb2"),
        service=mod("oppmatrix.v1.classification_service_pb2"),
        service_grpc=mod("oppmatrix.v1.classification_service_pb2_grpc"),
        status=mod("google.rpc.status_pb2"),
        error_details=mod("google.rpc.error_details_pb2"),
        money=mod("google.type.money_pb2"),
    )


def field_violations(stubs, rpc_error):
    """The google.rpc.BadRequest field violations of a failed call, as
    (field, description) pairs, read from the grpc-status-details-bin
    trailer."""
    out = []
    for key, value in rpc_error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = stubs.status.Status.FromString(value)
        for detail in status.details:
            bad = stubs.error_details.BadRequest()
            if detail.Unpack(bad):
                out += [(v.field, v.description) for v in bad.field_violations]
    return out
