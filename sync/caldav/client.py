"""HTTP to a CalDAV server, only ever through sync.outbound (checked, pinned, bounded).

`Dav` is a keep-alive session with the account's credentials whose every request goes
through `outbound.PinnedSession`: the address rules of ICS feeds (ICS_ALLOW_PRIVATE_URLS,
ICS_ALLOWED_NETWORKS), one deadline per request, and the byte cap of feeds
(ICS_MAX_BYTES) counted after decompression, whatever the method and whoever makes the
request (`Dav.request`, or a library handed `Dav.session`). Plain http:// is refused
before anything is sent unless private addresses are allowed (tests, on-premise): Basic
authentication would put the password on the wire in clear.

Answers are sorted into three kinds of trouble the callers judge:

* `AuthRefused` — 401/403: the server refuses the password (reconnect_needed).
* `Transient` — 5xx, 429, timeouts, dropped connections: back off and try again.
* `DavError` — any other unexpected status, and an answer that cannot be read: too
  large, cut off, not XML, or XML with a DTD (entities could amplify it; defusedxml
  refuses any DTD before it is read): shown on the connection, retried slowly.

Each carries an English message (str()) and a Dutch one (`dutch`), both safe to show.
The password never appears in an error, a log line or a repr.
"""

import io
import logging
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeXML
from requests.auth import HTTPBasicAuth

from sync import outbound

log = logging.getLogger(__name__)

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav", "CS": "http://calendarserver.org/ns/"}
MAX_ERROR_BODY = 64 * 1024
# <response> elements read from one answer. 100,000 is more than the pull would expand
# (sync.ics.subscribe.MAX_OCCURRENCES); without a count, 20 MB of minimal responses
# would be 400,000 objects in the worker's memory.
MAX_RESOURCES = 100_000


class CalDAVTrouble(Exception):
    """Base of every failure talking to the server; str() (English) and `dutch` are safe
    to show. Without a Dutch message of its own, the one of its kind is used."""

    DUTCH = "De agendaserver gaf een antwoord waar niets mee te doen is."

    def __init__(self, message: str, *, dutch: str = ""):
        super().__init__(message)
        self.dutch = dutch or self.DUTCH


class AuthRefused(CalDAVTrouble):
    DUTCH = "De agendaserver weigert het wachtwoord."


class Transient(CalDAVTrouble):
    DUTCH = "De agendaserver was niet bereikbaar of antwoordde niet op tijd."


class DavError(CalDAVTrouble):
    def __init__(self, message: str, status: int = 0, *, dutch: str = ""):
        super().__init__(message, dutch=dutch)
        self.status = status


UNREADABLE = (
    "The calendar server sent an answer that cannot be read (cut off, or not valid XML).",
    "De agendaserver stuurde een antwoord dat niet te lezen is (afgebroken, of geen geldige XML).",
)
CUT_OFF = (
    "The calendar server's answer broke off before its end.",
    "Het antwoord van de agendaserver brak halverwege af.",
)
PLAIN_HTTP = (
    "Use an https:// address for a CalDAV calendar: over http:// the password would travel "
    "unencrypted.",
    "Gebruik een https://-adres voor een CalDAV-agenda: via http:// gaat het wachtwoord "
    "onversleuteld over het internet.",
)
UNREACHABLE = (outbound.FETCH_FAILED, Transient.DUTCH)


def too_large(max_bytes: int) -> tuple[str, str]:
    size = f"{max_bytes / 1024 / 1024:g} MB"
    return (
        f"The calendar server's answer is larger than {size}.",
        f"Het antwoord van de agendaserver is groter dan {size}.",
    )


def plain_http_refused(url: str, policy: outbound.Policy | None = None) -> bool:
    """Would this address send the password in clear where that is not allowed?"""
    if urlsplit(url).scheme.lower() != "http":
        return False
    return not (policy or outbound.Policy.from_settings()).allow_private


class PlainHttpRefused(outbound.OutboundError):
    """Raised before sending: an OutboundError, so it passes through the session as one."""

    def __init__(self, url: str):
        super().__init__(f"{urlsplit(url).hostname}: plain http refused", PLAIN_HTTP[0])


def explain(exc: BaseException) -> "CalDAVTrouble":
    """What an outbound failure means for a CalDAV account, in both languages: looks
    through the chain of causes, so a library that wrapped it (python-caldav, discovery)
    still gets the reason told. Too large, cut off or plain http: DavError (a server
    that does so will do it again); anything else: Transient."""
    seen, depth = exc, 0
    while seen is not None and depth < 10:
        if isinstance(seen, outbound.TooLarge):
            english, dutch = too_large(seen.cap)
            return DavError(english, dutch=dutch)
        if isinstance(seen, outbound.CutOff):
            return DavError(CUT_OFF[0], dutch=CUT_OFF[1])
        if isinstance(seen, PlainHttpRefused):
            return DavError(PLAIN_HTTP[0], dutch=PLAIN_HTTP[1])
        seen, depth = seen.__cause__, depth + 1
    if isinstance(exc, CalDAVTrouble):
        return exc
    return Transient(UNREACHABLE[0], dutch=UNREACHABLE[1])


class DavSession(outbound.PinnedSession):
    """outbound's session (checked, pinned, deadline, capped), without plain http.

    Checked in send(), so every redirect hop is judged too (requests keeps the
    Authorization header when a redirect stays on the same host and scheme)."""

    def send(self, request, **kwargs):
        if plain_http_refused(request.url, self.policy):
            raise PlainHttpRefused(request.url)
        return super().send(request, **kwargs)


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
            return SafeXML.fromstring(self.content, forbid_dtd=True)
        except Exception as exc:  # defusedxml refusals, broken XML: the server is odd
            raise DavError(UNREADABLE[0], dutch=UNREADABLE[1]) from exc


class Dav:
    """One account on one server. Use as a context manager (closes the connections)."""

    def __init__(self, *, username: str, password: str, policy: outbound.Policy | None = None):
        self.policy = policy or outbound.Policy.from_settings()
        self.session = DavSession(self.policy)
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
        host = urlsplit(url).hostname
        cap = self.policy.max_bytes
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
                    content = _body(response, cap, limit)
        except outbound.OutboundError as exc:
            log.warning("caldav %s to %s failed: %s", method, host, exc.detail)
            raise explain(exc) from exc
        answer = Answer(response.status_code, dict(response.headers), content, response.url)
        if answer.status in expect or answer.status in allow:
            return answer
        status = answer.status
        log.warning("caldav %s to %s answered %s", method, host, status)
        if status in (401, 403) and b"valid-sync-token" not in content:
            raise AuthRefused(
                f"The calendar server refused the password ({status}).",
                dutch=f"De agendaserver weigert het wachtwoord ({status}).",
            )
        if status == 429 or status >= 500:
            raise Transient(
                f"The calendar server answered {status}.",
                dutch=f"De agendaserver antwoordde {status}: even niet beschikbaar.",
            )
        raise DavError(
            f"The calendar server answered {status}.",
            status,
            dutch=f"De agendaserver antwoordde onverwacht met {status}.",
        )

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


@dataclass
class Multistatus:
    resources: list[Resource] = field(default_factory=list)
    sync_token: str = ""  # the top-level <D:sync-token> of a sync-collection answer


def parse_multistatus(answer: Answer) -> list[Resource]:
    return multistatus_read(answer).resources


def multistatus_read(answer: Answer) -> Multistatus:
    """The <response>s of a 207 answer, read as a stream: each is dropped from the tree
    once read, so the worker holds the results, not the whole document (a full tree of
    20 MB of small responses is about 90 MB). Raises DavError for anything that is not a
    well-formed multistatus without a DTD, or that lists more than MAX_RESOURCES."""
    found = Multistatus()
    response_tag, token_tag = clark("D:response"), clark("D:sync-token")
    try:
        events = SafeXML.iterparse(
            io.BytesIO(answer.content), events=("start", "end"), forbid_dtd=True
        )
        open_elements: list[Element] = []
        root = None
        for event, element in events:
            if event == "start":
                root = element if root is None else root
                open_elements.append(element)
                continue
            open_elements.pop()
            top_level = len(open_elements) == 1
            if element.tag == response_tag:
                resource = _resource(element, answer.url)
                if resource is not None:
                    if len(found.resources) >= MAX_RESOURCES:
                        raise DavError(
                            f"The calendar server listed more than {MAX_RESOURCES} objects.",
                            dutch=f"De agendaserver noemde meer dan {MAX_RESOURCES} objecten.",
                        )
                    found.resources.append(resource)
                if open_elements:  # read: out of the tree (its props live on in the Resource)
                    open_elements[-1].remove(element)
            elif element.tag == token_tag and top_level:
                found.sync_token = (element.text or "").strip()
        if root is None or root.tag != clark("D:multistatus"):
            raise ValueError("not a multistatus")
    except DavError:
        raise
    except Exception as exc:  # defusedxml refusals, broken or cut-off XML: the server is odd
        raise DavError(UNREADABLE[0], dutch=UNREADABLE[1]) from exc
    return found


def _resource(response: Element, base: str) -> Resource | None:
    href = (response.findtext("D:href", "", NS) or "").strip()
    if not href:
        return None
    status = _status_code(response.findtext("D:status", None, NS))
    props = {}
    for propstat in response.findall("D:propstat", NS):
        if _status_code(propstat.findtext("D:status", None, NS)) == 200:
            prop = propstat.find("D:prop", NS)
            for child in prop if prop is not None else ():
                props[child.tag] = child
            status = status or 200
    return Resource(urljoin(base, href), status or 200, props)


def href_of(element: Element | None, base: str) -> str:
    """The absolute URL inside a property holding a <D:href>."""
    if element is None:
        return ""
    href = element.findtext("D:href", "", NS).strip()
    return urljoin(base, href) if href else ""


def _body(response, cap: int, limit: outbound.Deadline) -> bytes:
    """A success's body up to the cap (TooLarge past it); of a failure, what fits in
    MAX_ERROR_BODY (only its status and a marker or two are read)."""
    if response.ok:
        return outbound.read_capped(response, cap, limit)
    try:
        return outbound.read_capped(response, MAX_ERROR_BODY, limit)
    except outbound.TooLarge:
        return b""
