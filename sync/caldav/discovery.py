"""Find the account's calendars from whatever URL the practitioner typed (RFC 6764, 4791, 5397).

Any of these works: the server root, `/.well-known/caldav`, the principal, the calendar
home, or one calendar. Every request goes through `Dav` (sync.outbound: each address
checked and pinned, one deadline, a capped body); there are no DNS SRV/TXT look-ups, only
the address typed. The walk:

1. PROPFIND (depth 0) on the URL for `current-user-principal`, `calendar-home-set` and
   `resourcetype`. A server root that answers no principal (a web site, a 404, a 405) is
   asked again at `/.well-known/caldav`.
2. Redirects are followed here, hop by hop, as the same PROPFIND with its body: requests
   would turn a 302 into a GET and send a 301 on without its body, and RFC 6764 section 5
   asks for the request to be repeated at the new place. The credentials go along (the
   server the practitioner named says where its CalDAV lives; each hop still passes the
   address checks), but never from https down to http, where they would travel in clear.
3. The home is the `calendar-home-set` the answer holds (the URL was the principal), else
   the one of its `current-user-principal` (one more PROPFIND). It may be on another host
   (iCloud serves each account's calendars from a host of its own), which gets the
   credentials as the server asked.
4. The calendars are listed with one PROPFIND (depth 1) on the home, which also gives each
   one's sync-token and ctag (what the pull compares).
"""

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from sync.caldav.client import (
    _PROPFIND,
    Answer,
    Dav,
    DavError,
    Resource,
    clark,
    href_of,
    parse_multistatus,
)

CALENDAR_PROPS = (
    "<D:resourcetype/><D:displayname/><D:sync-token/><CS:getctag/>"
    "<C:supported-calendar-component-set/><D:supported-report-set/>"
)
WHERE_PROPS = "<D:current-user-principal/><C:calendar-home-set/><D:resourcetype/>"
REDIRECTS = (301, 302, 303, 307, 308)
NOT_FOUND = "No CalDAV calendars were found at this address."
WELL_KNOWN = "/.well-known/caldav"


class RedirectRefused(DavError):
    """A redirect discovery will not follow (a loop, https to http): said as it is."""


@dataclass(frozen=True)
class Calendar:
    url: str
    name: str
    components: tuple[str, ...]  # VEVENT, VTODO...; empty: the server does not say
    sync_token: str
    ctag: str

    @property
    def takes_events(self) -> bool:
        return not self.components or "VEVENT" in self.components


@dataclass(frozen=True)
class Account:
    home_url: str
    calendars: list[Calendar]


def calendar_home_find(*, url: str, dav: Dav) -> str:
    """The calendar home URL of the account, starting from `url`.

    AuthRefused and Transient (from Dav) pass through, and so does a refused redirect or
    an answer that could not be read (too large, cut off, broken XML: Dav's DavError
    without a status), when no other start leads to a home; anything else that does not
    lead to a home is DavError(NOT_FOUND)."""
    refused = None
    for start in _starts(url):
        try:
            home = _home_from(dav, start)
        except RedirectRefused as exc:
            refused = exc
            continue
        except DavError as exc:  # not a DAV resource here (404, 405, a web page, odd XML)
            refused = refused or (exc if not exc.status else None)
            continue
        if home:
            return home
    raise refused or DavError(NOT_FOUND)


def calendars_list(*, home_url: str, dav: Dav) -> list[Calendar]:
    """Every calendar collection under the home, with its change markers."""
    answer = propfind(dav, home_url, CALENDAR_PROPS, depth="1")
    return [_calendar(r) for r in parse_multistatus(answer) if _is_calendar(r)]


def account_discover(*, url: str, dav: Dav, username: str = "", password: str = "") -> Account:
    """The home and its calendars. The credentials travel in `dav` (its session);
    `username` and `password` are accepted for callers that name them."""
    home = calendar_home_find(url=url, dav=dav)
    return Account(home, calendars_list(home_url=home, dav=dav))


def propfind(dav: Dav, url: str, props: str, depth: str = "0") -> Answer:
    """PROPFIND at `url`, following redirects as the same PROPFIND (body and credentials
    kept), each hop checked by sync.outbound. The answer's `url` is where it came from."""
    body = f'<?xml version="1.0" encoding="utf-8"?>{_PROPFIND.format(props=props)}'
    headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
    for _hop in range(dav.policy.max_redirects + 1):
        answer = dav.request(
            "PROPFIND",
            url,
            body=body,
            headers=headers,
            expect=(207,),
            allow=REDIRECTS,
            redirects=False,
        )
        if answer.status not in REDIRECTS:
            return answer
        url = redirect_target(url, _header(answer, "Location"))
    raise RedirectRefused("The calendar server sent too many redirects.")


def redirect_target(url: str, location: str) -> str:
    """Where a redirect from `url` to `location` leads; never from https down to http."""
    if not location:
        raise RedirectRefused("The calendar server sent a redirect without an address.")
    following = urljoin(url, location)
    if urlsplit(url).scheme.lower() == "https" and urlsplit(following).scheme.lower() != "https":
        raise RedirectRefused("The calendar server redirected to an address without https.")
    return following


def _starts(url: str) -> list[str]:
    """The URL typed; for a bare server address, then its well-known CalDAV address."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return [url, f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}"]
    return [url]


def _home_from(dav: Dav, url: str) -> str:
    answer = propfind(dav, url, WHERE_PROPS)
    here = _merged(parse_multistatus(answer))
    home = href_of(here.get(clark("C:calendar-home-set")), answer.url)
    if home:
        return home
    principal = href_of(here.get(clark("D:current-user-principal")), answer.url)
    if not principal:
        return ""
    answer = propfind(dav, principal, "<C:calendar-home-set/>")
    found = _merged(parse_multistatus(answer))
    return href_of(found.get(clark("C:calendar-home-set")), answer.url)


def _merged(resources: list[Resource]) -> dict:
    """The 200-props of a depth-0 answer (some servers split them over responses)."""
    props: dict = {}
    for resource in resources:
        for name, element in resource.props.items():
            props.setdefault(name, element)
    return props


def _header(answer: Answer, name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in answer.headers.items() if k.lower() == wanted), "")


def _is_calendar(resource: Resource) -> bool:
    kind = resource.props.get(clark("D:resourcetype"))
    return kind is not None and kind.find(clark("C:calendar")) is not None


def _calendar(resource: Resource) -> Calendar:
    components = resource.props.get(clark("C:supported-calendar-component-set"))
    names = tuple(
        str(c.get("name", "")).upper() for c in (components if components is not None else [])
    )
    return Calendar(
        url=resource.url,
        name=resource.text(clark("D:displayname")) or resource.url.rstrip("/").rsplit("/")[-1],
        components=names,
        sync_token=resource.text(clark("D:sync-token")),
        ctag=resource.text(clark("CS:getctag")),
    )
