"""Find the account's calendars from whatever URL the practitioner typed (RFC 6764, 4791).

Any of these works: the server root, `/.well-known/caldav` (followed as a redirect, each
hop checked by sync.outbound), the principal, the calendar home, or one calendar.
python-caldav finds the principal and its calendar home; its HTTP session is replaced by
our pinned one, and its own DNS-based discovery (SRV/TXT look-ups) is off. The calendars
are then listed with one PROPFIND on the home, which also gives each one's sync-token and
ctag (what the pull compares).
"""

from dataclasses import dataclass
from urllib.parse import urljoin

import caldav
from caldav.lib import error as caldav_error

from sync import outbound
from sync.caldav.client import AuthRefused, Dav, DavError, Resource, Transient, clark

CALENDAR_PROPS = (
    "<D:resourcetype/><D:displayname/><D:sync-token/><CS:getctag/>"
    "<C:supported-calendar-component-set/><D:supported-report-set/>"
)


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


def calendar_home_find(*, url: str, username: str, password: str, dav: Dav) -> str:
    """The calendar home URL of the account, starting from `url`."""
    client = caldav.DAVClient(
        url=url,
        username=username,
        password=password,
        auth_type="basic",
        enable_rfc6764=False,  # no SRV/TXT look-ups: only the address typed, checked
        timeout=int(dav.policy.timeout),
    )
    client.session.close()
    client.session = dav.session  # every request through sync.outbound
    try:
        principal = client.principal()
        home = principal.calendar_home_set.url
    except caldav_error.AuthorizationError as exc:
        raise AuthRefused("The calendar server refused the password.") from exc
    except caldav_error.RateLimitError as exc:
        raise Transient("The calendar server is busy.") from exc
    except outbound.OutboundError as exc:
        raise Transient(outbound.FETCH_FAILED) from exc
    except (caldav_error.DAVError, AttributeError, KeyError, ValueError) as exc:
        raise DavError("No CalDAV calendars were found at this address.") from exc
    if home is None:
        raise DavError("No CalDAV calendars were found at this address.")
    return urljoin(url, str(home))


def calendars_list(*, home_url: str, dav: Dav) -> list[Calendar]:
    """Every calendar collection under the home, with its change markers."""
    resources = dav.propfind(home_url, CALENDAR_PROPS, depth="1")
    return [_calendar(r) for r in resources if _is_calendar(r)]


def account_discover(*, url: str, username: str, password: str, dav: Dav) -> Account:
    home = calendar_home_find(url=url, username=username, password=password, dav=dav)
    return Account(home, calendars_list(home_url=home, dav=dav))


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
