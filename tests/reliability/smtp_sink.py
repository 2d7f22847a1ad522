"""A small SMTP server on 127.0.0.1 that keeps every message it was given.

`hold_before_ok` makes it wait after it has the whole message and before it answers 250,
which is the moment a sender killed mid-delivery has handed the message over but never
heard that it was accepted (the realistic "did it go out or not?" case).
"""

import socket
import socketserver
import threading
import time
from email import message_from_bytes


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        sink: SmtpSink = self.server.sink
        self.wfile.write(b"220 sink ESMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.wfile.write(b"250 ok\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                lines = []
                while True:
                    data = self.rfile.readline()
                    if not data or data in (b".\r\n", b".\n"):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                if not data:
                    return  # the sender died before the end of the message: nothing kept
                raw = b"".join(lines)
                sink.received(raw)
                time.sleep(sink.hold_before_ok)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not here\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    def __init__(self):
        self.messages: list[bytes] = []
        self.hold_before_ok = 0.0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "SmtpSink":
        try:
            self._thread.start()
        except BaseException:
            self._server.server_close()  # bound in __init__: not left listening
            raise
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def received(self, raw: bytes) -> None:
        with self._lock:
            self.messages.append(raw)

    def message_ids(self) -> list[str]:
        with self._lock:
            return [str(message_from_bytes(raw)["Message-ID"]) for raw in self.messages]

    def wait_for(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.message_ids()
            if len(set(ids)) >= count:
                return ids
            time.sleep(0.2)
        return self.message_ids()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
