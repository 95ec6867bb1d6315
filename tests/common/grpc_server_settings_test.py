#!/usr/bin/python3
"""The HTTP/2 SETTINGS a real oppmatrix server advertises, read off one
loopback connection with python3-h2, what it does with a client that
opens more streams than it allows, and ConnectionGuard's answer to rapid
reset and to streams held past the pending-call limit.

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
        """Stops the server; returns the rest of its log."""
        self.proc.terminate()
        return self.proc.communicate()[1].decode(errors="replace")


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

    def open_stream(self, reset=False, send=True, method="Classify"):
        """A call's headers, never followed by a message; with `reset`, at
        once cancelled (RST_STREAM). `send=False` leaves the frames queued
        for the next send()."""
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [
            (b":method", b"POST"), (b":scheme", b"http"),
            (b":path",
             f"/oppmatrix.v1.ClassificationService/{method}".encode()),
            (b":authority", self.authority),
            (b"content-type", b"application/grpc"), (b"te", b"trailers")])
        if reset:
            self.conn.reset_stream(stream_id)
        if send:
            self.send()

    def open_streams(self, n, **kwargs):
        """n streams (open_stream's arguments) in one write."""
        for _ in range(n):
            self.open_stream(send=False, **kwargs)
        self.send()

    def send(self):
        try:
            self.sock.sendall(self.conn.data_to_send())
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server: events() says so

    def read_until_closed(self):
        """Reads (without acknowledging anything) until the server closes
        the connection; True if it did so without a GOAWAY."""
        goaway = False
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return not goaway
            if not data:
                return not goaway
            for e in self.conn.receive_data(data):
                goaway |= isinstance(e, h2.events.ConnectionTerminated)

    def close(self):
        self.sock.close()


def refused(port):
    """Whether a new connection is closed before the server says anything
    (no SETTINGS): a refused one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        data = b""
    sock.close()
    return data == b""


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



class AbuseTest(unittest.TestCase):
    """ConnectionGuard on a real server: rapid reset and streams past the
    limit close the connection, and the host is refused for --abuse_ban."""

    def flood_until_closed(self, port):
        """3000 HEADERS+RST_STREAM pairs on one connection, which the
        server must close."""
        client = Client(port)
        client.open_streams(3000, reset=True)
        self.assertTrue(client.read_until_closed())
        client.close()

    def test_rapid_reset_closes_the_connection_and_bans_the_host(self):
        # The pending-call rule off: this is the premature-reset rule's.
        server = Server(flags=["--abuse_ban=1h", "--max_pending_calls=0"])
        try:
            self.flood_until_closed(server.port)
            self.assertTrue(refused(server.port))
            self.assertTrue(refused(server.port))
        finally:
            log = server.close()
        self.assertRegex(log, r"closed the connection from 127\.0\.0\.1:\d+: "
                         r"\d+ of its last 500 calls were cancelled by the "
                         r"client within 1s of starting \(HTTP/2 rapid "
                         r"reset\); new connections from 127\.0\.0\.1 are "
                         r"refused for 1h")

    def test_without_a_ban_the_host_may_reconnect(self):
        server = Server(flags=["--abuse_ban=0"])
        try:
            self.flood_until_closed(server.port)
            again = Client(server.port)
            self.assertIn(MAX_CONCURRENT_STREAMS, again.server_settings())
            again.close()
        finally:
            server.close()

    def test_streams_past_the_pending_limit_close_the_connection(self):
        # A client that never reads never acknowledges SETTINGS, so the
        # stream limit does not bind it; its calls pile up as pending ones.
        # (A streaming method: gRPC hands a unary call to the server only
        # with its message.)
        server = Server(flags=["--max_pending_calls=200"])
        try:
            client = Client(server.port)
            client.open_streams(300, method="ClassifyStream")
            self.assertTrue(client.read_until_closed())
            client.close()
        finally:
            log = server.close()
        self.assertIn("calls started and not ended, above 200", log)

    def test_streams_within_the_limits_stay_open(self):
        server = Server(flags=["--max_pending_calls=200"])
        try:
            client = Client(server.port)
            client.open_streams(150, method="ClassifyStream")
            # Answered with the server's SETTINGS, then nothing: a PING
            # comes back, so the connection is still open.
            client.conn.ping(b"12345678")
            client.send()
            pong = False
            while not pong:
                events = client.events()
                self.assertTrue(events, "the server closed the connection")
                pong = any(isinstance(e, h2.events.PingAckReceived)
                           for e in events)
            client.close()
        finally:
            log = server.close()
        self.assertNotIn("closed the connection", log)


class SynchronousCallTest(unittest.TestCase):
    def test_reflection_calls_with_the_guard_on(self):
        # Server reflection is gRPC's synchronous API; asking such a call
        # whether it was cancelled from the guard's interceptor recursed
        # until the stack overflowed. The request and END_STREAM in one
        # frame, as grpcurl sends them.
        server = Server()
        try:
            client = Client(server.port)
            client.server_settings()
            for i in range(200):
                sid = client.conn.get_next_available_stream_id()
                client.conn.send_headers(sid, [
                    (b":method", b"POST"), (b":scheme", b"http"),
                    (b":path", b"/grpc.reflection.v1alpha.ServerReflection/"
                               b"ServerReflectionInfo"),
                    (b":authority", client.authority),
                    (b"content-type", b"application/grpc"),
                    (b"te", b"trailers")])
                if i % 2 == 0:
                    # ServerReflectionRequest{list_services: ""}, framed.
                    client.conn.send_data(
                        sid, b"\x00\x00\x00\x00\x02\x3a\x00",
                        end_stream=True)
                else:
                    client.conn.end_stream(sid)  # no request at all
                client.send()
                ended = False
                while not ended:
                    events = client.events()
                    self.assertTrue(events, f"call {i}: the server closed")
                    ended = any(isinstance(e, (h2.events.StreamEnded,
                                               h2.events.StreamReset)) and
                                e.stream_id == sid for e in events)
            client.close()
            self.assertIsNone(server.proc.poll())
        finally:
            server.close()


if __name__ == "__main__":
    SERVER, RULES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
