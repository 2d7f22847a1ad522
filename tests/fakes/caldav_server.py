"""A real CalDAV server for tests: Radicale in a subprocess, with a fault proxy in front.

Radicale (not Xandikos) because it checks passwords itself (htpasswd, re-read on every
request, so a test can change a password), answers RFC 6578 sync-collection with a
`DAV:valid-sync-token` 403 for a token it does not know, publishes getctag, and
redirects /.well-known/caldav. Xandikos leaves authentication to a front proxy.

`FaultProxy` forwards to Radicale and can answer 503 instead, forward a write and then
drop the connection before the answer reaches the client (the PUT happened, its answer
was lost), delay, or hide sync-collection (a server without RFC 6578). It counts the
requests it saw, by method and by what they asked for.

It can also play a hostile server (`answer_with`): answer some requests itself with a
body of its choosing (gzip bombs, cut-off or entity-laden XML, a multiget with a hundred
thousand events), optionally gzip-encoded or cut off in mid-body.
"""

import contextlib
import functools
import gzip
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
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up in mid-answer: what a byte cap does to a bomb
        super().handle_error(request, client_address)


@dataclass
class Canned:
    """An answer the proxy gives itself, to requests of one kind (see FaultProxy.answer_with)."""

    body: bytes | Callable[[bytes], bytes]  # or made from the request's body
    what: str | None  # as _what() names requests; None: any
    status: int
    headers: dict
    compress: bool  # gzip it here and say so (Content-Encoding: gzip)
    cut: bool  # declare twice the length, send the body, hang up: cut off in mid-body
    left: int | None  # answers still to give; None: every matching request


class FaultProxy:
    """An HTTP proxy (reverse, to one upstream) that injects faults on demand."""

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.requests: list[tuple[str, str, str]] = []  # method, path, what
        self.faults: list[tuple[str, object]] = []  # (kind, arg) used by the next request(s)
        self.canned: list[Canned] = []
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

        self.httpd = _Server(("127.0.0.1", 0), Handler)
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
            self.canned.clear()

    def answer_with(
        self,
        body: bytes | Callable[[bytes], bytes],
        *,
        what: str | None = None,
        status: int = 207,
        headers: dict | None = None,
        compress: bool = False,
        cut: bool = False,
        count: int | None = None,
    ) -> None:
        """Answer requests of kind `what` ("propfind", "sync-collection", "multiget"...; None:
        all) with `body` instead of forwarding them, `count` times (None: always). `body`
        may be bytes or a function of the request's body; `compress` gzips it on the way. A
        body that is gzip already (`gzip_bomb`) goes with headers={"Content-Encoding": "gzip"}."""
        canned = Canned(body, what, status, dict(headers or {}), compress, cut, count)
        with self.lock:
            self.canned.append(canned)

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
        what = _what(method, body)
        self.requests.append((method, handler.path, what))
        canned = self._canned_for(what)
        if canned is not None:
            _answer_canned(handler, canned, body)
            return
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

    def _canned_for(self, what: str) -> Canned | None:
        with self.lock:
            for canned in self.canned:
                if canned.what in (None, what) and canned.left != 0:
                    if canned.left is not None:
                        canned.left -= 1
                    return canned
        return None


def _answer_canned(handler, canned: Canned, request_body: bytes) -> None:
    body = canned.body(request_body) if callable(canned.body) else canned.body
    if canned.compress:
        body = gzip.compress(body, compresslevel=1)
    handler.send_response(canned.status)
    headers = {"Content-Type": "application/xml; charset=utf-8", **canned.headers}
    if canned.compress:
        headers["Content-Encoding"] = "gzip"
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body) * (2 if canned.cut else 1)))
    handler.end_headers()
    try:
        handler.wfile.write(body)
        handler.wfile.flush()
    except OSError:
        return  # the client hung up first: what a cap is for
    if canned.cut:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


@functools.cache
def gzip_bomb(inflated_mb: int) -> bytes:
    """A gzip body of about inflated_mb/1000 MB that inflates to `inflated_mb` MB of XML-ish
    spaces (deflate's best ratio is about 1:1030)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip wrapper
    block = b" " * (1024 * 1024)
    parts = [squeeze.compress(b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">')]
    parts += [squeeze.compress(block) for _ in range(inflated_mb)]
    parts.append(squeeze.flush())
    return b"".join(parts)


def multistatus(*responses: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav">' + "".join(responses) + "</D:multistatus>"
    ).encode()


def entity_bomb() -> bytes:
    """Billion laughs: a few hundred bytes that expand to gigabytes if entities are expanded."""
    entities = '<!ENTITY a0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE D:multistatus [{entities}]>'
        '<D:multistatus xmlns:D="DAV:"><D:response><D:href>/x/</D:href><D:propstat><D:prop>'
        "<D:displayname>&a9;</D:displayname></D:prop><D:status>HTTP/1.1 200 OK</D:status>"
        "</D:propstat></D:response></D:multistatus>"
    ).encode()


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
