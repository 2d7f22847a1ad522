"""HTTP to a CalDAV server, only ever through sync.outbound (checked, pinned, bounded).

`Dav` is a keep-alive session with the account's credentials whose every request goes
through `outbound.pinned_session`: the address rules of ICS feeds (ICS_ALLOW_PRIVATE_URLS,
ICS_ALLOWED_NETWORKS), one deadline per request, a capped body. Answers are sorted into
three kinds of trouble the callers judge:

* `AuthRefused` — 401/403: the server refuses the password (reconnect_needed).
* `Transient` — 5xx, 429, timeouts, dropped connections: back off and try again.
* `DavError` — any other unexpected status: shown on the connection, retried slowly.

The password never appears in an error, a log line or a repr.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeXML
from requests.auth import HTTPBasicAuth

from sync import outbound

log = logging.getLogger(__name__)

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav", "CS": "http://calendarserver.org/ns/"}
MAX_ERROR_BODY = 64 * 1024


class CalDAVTrouble(Exception):
    """Base of every failure talking to the server; str() is safe to show."""


class AuthRefused(CalDAVTrouble):
    pass


class Transient(CalDAVTrouble):
    pass


class DavError(CalDAVTrouble):
    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict
    content: bytes
    url: str

    @property
    def etag(self) -> str:
        return self.headers.get("ETag", "")

    def xml(self) -> Element:
        try:
            return SafeXML.fromstring(self.content)
        except Exception as exc:  # defusedxml refusals, broken XML: the server is odd
            raise DavError("The calendar server sent an answer that cannot be read.") from exc


class Dav:
    """One account on one server. Use as a context manager (closes the connections)."""

    def __init__(self, *, username: str, password: str, policy: outbound.Policy | None = None):
        self.policy = policy or outbound.Policy.from_settings()
        self.session = outbound.pinned_session(self.policy)
        self.session.auth = HTTPBasicAuth(username, password)
        self.calls = 0

    def __enter__(self) -> "Dav":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return "<Dav>"

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | str | None = None,
        headers: dict | None = None,
        expect: tuple[int, ...] = (200, 201, 204, 207),
        allow: tuple[int, ...] = (),
        redirects: bool = True,
    ) -> Answer:
        """One request; statuses in `expect` or `allow` are returned, the rest raise.
        redirects=False returns a 3xx as it is (discovery follows them keeping the method)."""
        self.calls += 1
        if isinstance(body, str):
            body = body.encode()
        try:
            with outbound.deadline(self.policy.timeout) as limit:
                response = self.session.request(
                    method,
                    url,
                    data=body,
                    headers=headers or {},
                    stream=True,
                    allow_redirects=redirects,
                    timeout=limit.remaining(),
                )
                with response:
                    cap = self.policy.max_bytes if response.ok else MAX_ERROR_BODY
                    content = _read_capped(response, cap)
                    limit.remaining()
        except outbound.OutboundError as exc:
            log.warning("caldav %s to %s failed: %s", method, urlsplit(url).hostname, exc.detail)
            raise Transient(outbound.FETCH_FAILED) from exc
        answer = Answer(response.status_code, dict(response.headers), content, response.url)
        if answer.status in expect or answer.status in allow:
            return answer
        host = urlsplit(url).hostname
        log.warning("caldav %s to %s answered %s", method, host, answer.status)
        if answer.status in (401, 403) and b"valid-sync-token" not in content:
            raise AuthRefused(f"The calendar server refused the password ({answer.status}).")
        if answer.status == 429 or answer.status >= 500:
            raise Transient(f"The calendar server answered {answer.status}.")
        raise DavError(f"The calendar server answered {answer.status}.", answer.status)

    # --- WebDAV verbs ----------------------------------------------------------------

    def propfind(self, url: str, props: str, depth: str = "0") -> list["Resource"]:
        body = f'<?xml version="1.0" encoding="utf-8"?>{_PROPFIND.format(props=props)}'
        answer = self.request(
            "PROPFIND",
            url,
            body=body,
            headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
            expect=(207,),
        )
        return parse_multistatus(answer)

    def report(self, url: str, body: str, depth: str = "1", allow=()) -> Answer:
        return self.request(
            "REPORT",
            url,
            body='<?xml version="1.0" encoding="utf-8"?>' + body,
            headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
            expect=(207,),
            allow=allow,
        )


_PROPFIND = (
    '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
    'xmlns:CS="http://calendarserver.org/ns/"><D:prop>{props}</D:prop></D:propfind>'
)


@dataclass
class Resource:
    """One <response> of a multistatus: its absolute URL, status and 200-props."""

    url: str
    status: int
    props: dict  # Clark name -> Element

    def text(self, name: str) -> str:
        element = self.props.get(name)
        return (element.text or "").strip() if element is not None else ""

    def has(self, name: str) -> bool:
        return name in self.props


def clark(prefixed: str) -> str:
    prefix, local = prefixed.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _status_code(text: str | None) -> int:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def parse_multistatus(answer: Answer) -> list[Resource]:
    root = answer.xml()
    found = []
    for response in root.findall("D:response", NS):
        href = (response.findtext("D:href", "", NS) or "").strip()
        if not href:
            continue
        url = urljoin(answer.url, href)
        status = _status_code(response.findtext("D:status", None, NS))
        props = {}
        for propstat in response.findall("D:propstat", NS):
            if _status_code(propstat.findtext("D:status", None, NS)) == 200:
                for prop in propstat.find("D:prop", NS) or []:
                    props[prop.tag] = prop
                status = status or 200
        found.append(Resource(url, status or 200, props))
    return found


def href_of(element: Element | None, base: str) -> str:
    """The absolute URL inside a property holding a <D:href>."""
    if element is None:
        return ""
    href = element.findtext("D:href", "", NS).strip()
    return urljoin(base, href) if href else ""


def _read_capped(response, cap: int) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > cap:
                raise outbound.OutboundError(f"more than {cap} bytes")
            chunks.append(chunk)
    except outbound.OutboundError:
        raise
    except Exception as exc:  # a cut stream raises different things at different layers
        raise outbound.OutboundError(f"reading the answer failed: {type(exc).__name__}") from exc
    return b"".join(chunks)
