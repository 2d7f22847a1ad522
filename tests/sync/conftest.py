import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests import factories
from tests.page.conftest import next_monday

JS = Path(__file__).resolve().parent.parent / "js"


@pytest.fixture
def ical_js():
    """Parse iCalendar text with ical.js (node) and return what it read."""
    if shutil.which("node") is None:
        pytest.fail("node is needed to check feeds with ical.js (make test installs it)")

    def parse(text: str) -> dict:
        done = subprocess.run(
            ["node", str(JS / "parse_ics.mjs")],
            input=text.encode(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        return json.loads(done.stdout)

    return parse


class FeedServer:
    """A real HTTP server on 127.0.0.1 serving calendars and failures on demand."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.body = b""
        self.drip_cut = False
        self.etag = '"v1"'
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = getattr(server, "route_" + self.path.strip("/").split(".")[0], None)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                route(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # Routes: /calendar.ics, /status500, /slow, /huge, /html, /to_private, /to_calendar
    def route_calendar(self, handler):
        if handler.headers.get("If-None-Match") == self.etag:
            handler.send_response(304)
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/calendar")
        handler.send_header("ETag", self.etag)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)

    def route_status500(self, handler):
        handler.send_response(500)
        handler.end_headers()

    def route_slow(self, handler):
        import time

        time.sleep(3)
        handler.send_response(200)
        handler.end_headers()

    def route_huge(self, handler):
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: the cap must hold while streaming
        chunk = b"X" * 65536
        try:
            for _ in range(64):
                handler.wfile.write(chunk)
        except OSError:
            pass

    def route_drip(self, handler):
        import time

        handler.send_response(200)
        handler.end_headers()
        try:
            for _ in range(30):  # one byte every 0.1 s: each read is quick, the whole is not
                handler.wfile.write(b"X")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            self.drip_cut = True  # the client hung up before the end

    def route_html(self, handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        handler.wfile.write(b"<html><body>Please log in</body></html>")

    def route_to_private(self, handler):
        handler.send_response(302)
        handler.send_header("Location", "http://10.20.30.40/calendar.ics")
        handler.end_headers()

    def route_to_calendar(self, handler):
        handler.send_response(301)
        handler.send_header("Location", "/calendar.ics")
        handler.end_headers()


@pytest.fixture
def feed_server(settings):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the test server, and nothing else
    settings.ICS_TIMEOUT_SECONDS = 1
    settings.ICS_MAX_BYTES = 1024 * 1024
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def practice():
    """A practitioner open every day with an e-mail address and a 30-minute type: what the
    calendar-link tests (Google, CalDAV) book against; other modules bring their own."""
    person = factories.practitioner(days=range(7))
    person.email = "praktijk@example.nl"
    person.save()
    return person, factories.appointment_type(person, duration_minutes=30)


def free_starts(appointment_type, days=5):
    """The free starts from next Monday for `days` days more, as offered now."""
    from scheduler.selectors import slot_list

    start = next_monday()
    slots = slot_list(
        appointment_type=appointment_type,
        first_day=start,
        last_day=start + timedelta(days=days),
        now=timezone.now(),
    )
    return [s.start for s in slots]
