"""A real CalDAV server for tests: Radicale in a subprocess, with a fault proxy in front.

Radicale (not Xandikos) because it checks passwords itself (htpasswd, re-read on every
request, so a test can change a password), answers RFC 6578 sync-collection with a
`DAV:valid-sync-token` 403 for a token it does not know, publishes getctag, and
redirects /.well-known/caldav. Xandikos leaves authentication to a front proxy.

`FaultProxy` forwards to Radicale and can answer 503 instead, forward a write and then
drop the connection before the answer reaches the client (the PUT happened, its answer
was lost), delay, or hide sync-collection (a server without RFC 6578). It counts the
requests it saw, by method and by what they asked for.
"""

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.processes import port_open, process_start, process_stop

USER = "praktijk"
PASSWORD = "app-specific-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RadicaleServer:
    """Radicale on 127.0.0.1, storage in a temp folder, one user (more can be added)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="radicale-"))
        try:
            self.process = self._start()
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)  # the process is already stopped
            raise

    def _start(self) -> subprocess.Popen:
        self.port = free_port()
        self.users = {USER: PASSWORD}
        self._write_users()
        config = self.folder / "config"
        config.write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {self.folder / 'users'}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {self.folder / 'collections'}\n"
            "[logging]\n"
            "level = warning\n"
            "mask_passwords = True\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")}
        log = self.folder / "log"
        try:
            with log.open("wb") as errors:
                return process_start(
                    [sys.executable, "-m", "radicale", "--config", str(config)],
                    ready=lambda: port_open(self.port),
                    timeout=20,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    env=env,
                )
        except RuntimeError as exc:
            raise RuntimeError(f"Radicale did not start ({exc}): {log.read_text()}") from exc

    def __enter__(self) -> "RadicaleServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_users(self) -> None:
        (self.folder / "users").write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))

    def add_user(self, user: str, password: str) -> None:
        self.set_password(user, password)

    def set_password(self, user: str, password: str) -> None:
        self.users[user] = password
        self._write_users()

    def stop(self) -> None:
        process_stop(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- test helpers, straight to Radicale (not through the proxy) ---------------------

    def session(self, user: str = USER) -> requests.Session:
        http = requests.Session()
        http.auth = (user, self.users[user])
        return http

    def make_calendar(self, name: str, display: str, user: str = USER) -> str:
        """MKCALENDAR /user/name/; returns its path."""
        path = f"/{user}/{name}/"
        body = (
            '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{display}</D:displayname>"
            "<C:supported-calendar-component-set><C:comp name='VEVENT'/>"
            "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
        )
        answer = self.session(user).request("MKCALENDAR", self.url + path, data=body, timeout=10)
        assert answer.status_code in (201, 405), answer.text
        return path

    def put(self, calendar: str, name: str, ics: str, user: str = USER) -> None:
        answer = self.session(user).put(
            f"{self.url}{calendar}{name}",
            data=ics.encode(),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
            timeout=10,
        )
        assert answer.status_code in (201, 204), answer.text

    def delete(self, calendar: str, name: str, user: str = USER) -> None:
        self.session(user).delete(f"{self.url}{calendar}{name}", timeout=10)

    def events(self, calendar: str, user: str = USER) -> dict[str, str]:
        """{resource name: body} of every object in the calendar."""
        answer = self.session(user).request(
            "PROPFIND",
            self.url + calendar,
            headers={"Depth": "1"},
            data='<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
            timeout=10,
        )
        names = [
            href.rsplit("/", 1)[1]
            for href in re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", answer.text)
            if not href.endswith("/")
        ]
        found = {}
        for name in names:
            got = self.session(user).get(f"{self.url}{calendar}{name}", timeout=10)
            if got.status_code == 200:
                found[name] = got.text
        return found


class FaultProxy:
    """An HTTP proxy (reverse, to one upstream) that injects faults on demand."""

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.requests: list[tuple[str, str, str]] = []  # method, path, what
        self.faults: list[tuple[str, object]] = []  # (kind, arg) used by the next request(s)
        self.hide_sync_collection = False
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                proxy._handle(self)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = _any
            do_HEAD = do_POST = do_MKCALENDAR = do_PROPPATCH = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- faults ---------------------------------------------------------------------

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        with self.lock:
            self.faults += [("status", status)] * count

    def drop_after_write_next(self) -> None:
        """The next PUT or DELETE is carried out upstream, but its answer never arrives."""
        with self.lock:
            self.faults.append(("drop_write", None))

    def delay_next(self, seconds: float) -> None:
        with self.lock:
            self.faults.append(("delay", seconds))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def count(self, what: str | None = None, method: str | None = None) -> int:
        return sum(
            1
            for m, _path, kind in self.requests
            if (what is None or kind == what) and (method is None or m == method)
        )

    def counts(self) -> Counter:
        return Counter(kind for _m, _p, kind in self.requests)

    # --- forwarding -------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        method = handler.command
        self.requests.append((method, handler.path, _what(method, body)))
        fault = None
        with self.lock:
            if self.faults:
                kind = self.faults[0][0]
                if kind != "drop_write" or method in ("PUT", "DELETE"):
                    fault = self.faults.pop(0)
        if fault and fault[0] == "status":
            _answer(handler, fault[1], b"injected")
            return
        if fault and fault[0] == "delay":
            time.sleep(fault[1])
        if self.hide_sync_collection and method == "REPORT" and b"sync-collection" in body:
            _answer(handler, 501, b"not implemented")
            return
        upstream = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
        headers["Host"] = self.upstream
        upstream.request(method, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        content = answer.read()
        upstream.close()
        if fault and fault[0] == "drop_write":
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.hide_sync_collection and method == "PROPFIND":
            content = re.sub(rb"<(\w+:)?sync-token>[^<]*</(\w+:)?sync-token>", b"", content)
            content = re.sub(rb"<(\w+:)?sync-token\s*/>", b"", content)
        handler.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)


def _answer(handler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _what(method: str, body: bytes) -> str:
    """What a request asked for: event bodies (calendar-data, GET) or only listings."""
    if method == "GET":
        return "get"
    if method == "REPORT":
        if b"sync-collection" in body:
            return "sync-collection"
        if b"calendar-multiget" in body:
            return "multiget"
        return "report"
    if method == "PROPFIND" and b"calendar-data" in body:
        return "propfind-data"
    return method.lower()
