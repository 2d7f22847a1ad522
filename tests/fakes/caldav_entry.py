"""The front door of a big CalDAV service, for discovery shapes Radicale cannot show.

iCloud-like: the server root is no DAV resource (405), `/.well-known/caldav` redirects
(301, 302, 307 or 308; to a context path here, or to another host), the context path names
the principal, and the principal's calendar-home-set is an absolute URL on another host
(iCloud's per-account pNN-caldav hosts). That other host is Radicale behind its proxy, so
the calendars are real. Basic auth is checked on every DAV request, as the real ones do.

A PROPFIND that arrives without its body (what requests makes of a 301) or as a GET (what
it makes of a 302) gets an answer without the properties, so discovery fails if it does
not repeat the request as it was.
"""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTEXT = "/ctx/"
PRINCIPAL = "/ctx/123456/principal/"


class EntryServer:
    def __init__(self, *, username: str, password: str, home_url: str):
        self.credentials = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.home_url = home_url  # absolute: the calendar home on the other host
        self.redirect_status = 301
        self.redirect_to = CONTEXT  # where /.well-known/caldav sends the client
        self.seen: list[tuple[str, str, bool, bytes]] = []  # method, path, auth sent, body
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self)

            do_PROPFIND = do_HEAD = do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        auth = handler.headers.get("Authorization", "")
        path = handler.path
        self.seen.append((handler.command, path, auth == self.credentials, body))
        if path.rstrip("/") == "/.well-known/caldav":
            _answer(handler, self.redirect_status, b"", {"Location": self.redirect_to})
            return
        if handler.command != "PROPFIND" or path not in (CONTEXT, PRINCIPAL):
            _answer(handler, 405, b"<html>not here</html>", {"Content-Type": "text/html"})
            return
        if auth != self.credentials:
            _answer(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="entry"'})
            return
        props = b""
        if path == CONTEXT and b"current-user-principal" in body:
            props = f"<D:current-user-principal><D:href>{PRINCIPAL}</D:href>"
            props = (props + "</D:current-user-principal>").encode()
        elif path == PRINCIPAL and b"calendar-home-set" in body:
            props = f"<C:calendar-home-set><D:href>{self.home_url}</D:href></C:calendar-home-set>"
            props = props.encode()
        multistatus = (
            b'<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" '
            b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:response><D:href>'
            + path.encode()
            + b"</D:href><D:propstat><D:prop>"
            + props
            + b"<D:resourcetype><D:collection/></D:resourcetype></D:prop>"
            b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"
        )
        _answer(handler, 207, multistatus, {"Content-Type": "application/xml; charset=utf-8"})


def _answer(handler, status: int, body: bytes, headers: dict) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
