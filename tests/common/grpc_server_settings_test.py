#!/usr/bin/python3
"""The HTTP/2 SETTINGS a real oppmatrix server advertises, read off one
loopback connection with python3-h2, and what it does with a client that
opens more streams than it allows.

  grpc_server_settings_test.py BUILD/services/classifier/oppmatrix-classifier \\
      rules/default.yaml

Deterministic: it waits for frames and for the server's log line, never for
a time (the socket timeout only keeps a broken server from hanging it).
"""

import os
import re
import socket
import subprocess
import sys
import unittest

import h2.config
import h2.connection
import h2.events
import h2.settings

SERVER = None
RULES = None


class Server:
    """The classifier without Redis on a free loopback port."""

    def __init__(self, flags=(), env=None):
        self.proc = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", f"--rules={RULES}", "--redis=",
             *flags],
            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        self.port = None
        for line in self.proc.stderr:
            m = re.search(rb"\(port (\d+)\)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            raise RuntimeError(f"the server did not start: {self.proc.wait()}")

    def close(self):
        self.proc.terminate()
        self.proc.communicate()


class Client:
    """One HTTP/2 connection; ignores the server's stream limit, as an
    abusive client would."""

    def __init__(self, port):
        class Limitless(h2.connection.H2Connection):
            @property
            def open_outbound_streams(self):
                return 0

        self.conn = Limitless(
            h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.authority = f"127.0.0.1:{port}".encode()

    def events(self):
        """The events of the next read; [] when the server closed."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return []
        if not data:
            return []
        events = self.conn.receive_data(data)
        self.sock.sendall(self.conn.data_to_send())  # acks
        return events

    def server_settings(self):
        """The server's first SETTINGS (acknowledged), by setting code."""
        while True:
            for e in self.events():
                if isinstance(e, h2.events.RemoteSettingsChanged):
                    return {int(k): v.new_value
                            for k, v in e.changed_settings.items()}

    def open_stream(self):
        """A Classify call's headers, never followed by its message."""
        self.conn.send_headers(self.conn.get_next_available_stream_id(), [
            (b":method", b"POST"), (b":scheme", b"http"),
            (b":path", b"/oppmatrix.v1.ClassificationService/Classify"),
            (b":authority", self.authority),
            (b"content-type", b"application/grpc"), (b"te", b"trailers")])
        self.sock.sendall(self.conn.data_to_send())

    def close(self):
        self.sock.close()


MAX_CONCURRENT_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
MAX_HEADER_LIST_SIZE = h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE


class SettingsTest(unittest.TestCase):
    def test_defaults(self):
        server = Server()
        try:
            client = Client(server.port)
            settings = client.server_settings()
            client.close()
        finally:
            server.close()
        self.assertEqual(settings.get(MAX_CONCURRENT_STREAMS), 100)
        self.assertEqual(settings.get(MAX_HEADER_LIST_SIZE), 8192)

    def test_flags_and_environment(self):
        server = Server(flags=["--max_metadata_bytes=5000"],
                        env={"OPPMATRIX_MAX_CONCURRENT_STREAMS": "3"})
        try:
            client = Client(server.port)
            settings = client.server_settings()
            client.close()
        finally:
            server.close()
        self.assertEqual(settings.get(MAX_CONCURRENT_STREAMS), 3)
        self.assertEqual(settings.get(MAX_HEADER_LIST_SIZE), 5000)

    def test_a_stream_past_the_limit_closes_the_connection(self):
        # Once the client has acknowledged SETTINGS, gRPC 1.51 treats a
        # stream past MAX_CONCURRENT_STREAMS as a connection error: the
        # connection and its calls are dropped, nothing stays held.
        server = Server(flags=["--max_concurrent_streams=3"])
        try:
            client = Client(server.port)
            self.assertEqual(client.server_settings()[MAX_CONCURRENT_STREAMS],
                             3)
            for _ in range(4):
                client.open_stream()
            ended = set()
            goaway = False
            while True:
                events = client.events()
                if not events:
                    break
                for e in events:
                    if isinstance(e, (h2.events.StreamReset,
                                      h2.events.StreamEnded)):
                        ended.add(e.stream_id)
                    goaway |= isinstance(e, h2.events.ConnectionTerminated)
                if goaway:
                    break
            client.close()
        finally:
            server.close()
        # The three accepted streams ended with the connection.
        self.assertEqual(ended, {1, 3, 5})


if __name__ == "__main__":
    SERVER, RULES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
