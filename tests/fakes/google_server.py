"""A fake Google Calendar API v3 and Google OAuth 2.0 server, for tests.

A real HTTP server on 127.0.0.1 (a free port) in a background thread, which the OFFICIAL
client (google-api-python-client + google-auth) talks to unchanged::

    fake = FakeGoogleCalendar().start()
    tokens = fake.issue_tokens()
    creds = Credentials(token=tokens["access_token"], refresh_token=tokens["refresh_token"],
                        token_uri=fake.token_uri, client_id=fake.client_id,
                        client_secret=fake.client_secret)
    service = build("calendar", "v3", credentials=creds, static_discovery=True,
                    cache_discovery=False, client_options={"api_endpoint": fake.api_endpoint})
    ...
    fake.stop()

The subset it speaks, with the paths exactly as the official client sends them when
``api_endpoint=f"{base_url}/calendar/v3/"``::

    POST   /calendar/v3/calendars/{calendarId}/events?alt=json             events.insert
    GET    /calendar/v3/calendars/{calendarId}/events?...&alt=json         events.list
    GET    /calendar/v3/calendars/{calendarId}/events/{eventId}?alt=json   events.get
    PATCH  /calendar/v3/calendars/{calendarId}/events/{eventId}?alt=json   events.patch
    PUT    /calendar/v3/calendars/{calendarId}/events/{eventId}?alt=json   events.update
    DELETE /calendar/v3/calendars/{calendarId}/events/{eventId}            events.delete
    POST   /calendar/v3/calendars/{calendarId}/events/watch?alt=json       events.watch
    POST   /calendar/v3/channels/stop                                      channels.stop
    POST   /calendar/v3/freeBusy?alt=json                                  freebusy.query
    GET    /calendar/v3/users/me/calendarList?alt=json                     calendarList.list
    GET    /auth     OAuth authorization endpoint: 302 to redirect_uri?code=&state=&scope=
    POST   /token    OAuth token endpoint: authorization_code (+PKCE) and refresh_token
    POST   /revoke   OAuth revocation endpoint (token= in the form body or the query)

Path segments arrive percent-encoded (``a%40b.com``, ``e%2F1``) and are decoded after
splitting. ``alt=json`` and ``fields=`` are ignored (full resources are returned). API
errors have Google's shape::

    {"error": {"code": 409, "message": "The requested identifier already exists.",
               "errors": [{"domain": "global", "reason": "duplicate", "message": "..."}]}}

and OAuth errors the OAuth shape ``{"error": "invalid_grant", "error_description": "..."}``.
API calls need ``Authorization: Bearer <token>`` for a token the fake issued (401 otherwise;
the official client then refreshes at ``token_uri``) whose scopes cover the method (403
insufficientPermissions otherwise; the table comes from the v3 discovery document).

Fault injection. Each rule is used up by the next request(s) it matches; by default a rule
matches only Calendar API requests (pass ``path_contains="/token"`` to hit OAuth)::

    fake.fail_next()                                     # one 500 backendError
    fake.fail_next(status=403, reason="userRateLimitExceeded", count=2)
    fake.fail_next(method="POST", path_contains="/events", status=429)
    fake.delay_next(2.0)                                 # wait, then process
    fake.delay_next(2.0, after_processing=True)          # process (a write happens), then wait
    fake.drop_after_write_next()                         # do the write, then reset the TCP
                                                         # connection: no response at all
    fake.drop_after_write_next(graceful=True)            # ... or close it with a FIN: httplib2
                                                         # then silently re-sends the request!
    fake.clear_faults()

Sync and push: ``fake.invalidate_sync_tokens()`` makes every issued sync token answer 410
fullSyncRequired; ``fake.notify(channel_id, state="exists")`` POSTs a push notification to a
watch channel's address as Google would (X-Goog-* headers, empty body).

Introspection: ``fake.events(calendar_id)``, ``fake.requests``, ``fake.channels``,
``fake.auth_requests``, ``fake.notifications``; ``fake.reset()`` forgets everything.
The docstring of FakeGoogleCalendar lists the behaviour choices where Google is vague.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import http.client
import json
import re
import secrets
import socket
import struct
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

API_PREFIX = "/calendar/v3/"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"

# Which scopes each method accepts (short names), from the calendar v3 discovery document.
_READ_EVENTS = {
    "calendar",
    "calendar.app.created",
    "calendar.events",
    "calendar.events.freebusy",
    "calendar.events.owned",
    "calendar.events.owned.readonly",
    "calendar.events.public.readonly",
    "calendar.events.readonly",
    "calendar.readonly",
}
_WRITE_EVENTS = {"calendar", "calendar.app.created", "calendar.events", "calendar.events.owned"}
_METHOD_SCOPES = {
    "events.list": _READ_EVENTS,
    "events.get": _READ_EVENTS,
    "events.watch": _READ_EVENTS,
    "events.insert": _WRITE_EVENTS,
    "events.patch": _WRITE_EVENTS,
    "events.update": _WRITE_EVENTS,
    "events.delete": _WRITE_EVENTS,
    "freebusy.query": {
        "calendar",
        "calendar.events.freebusy",
        "calendar.freebusy",
        "calendar.readonly",
    },
    "calendarList.list": {
        "calendar",
        "calendar.calendarlist",
        "calendar.calendarlist.readonly",
        "calendar.readonly",
    },
    "channels.stop": None,  # any calendar scope
}

_EVENT_ID_RE = re.compile(r"[a-v0-9]{5,1024}")
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
# List parameters that Google refuses next to syncToken.
_SYNC_CONFLICTS = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
# Event fields the server owns: ignored when a client sends them.
_SERVER_FIELDS = {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID"}
# Changing one of these bumps `sequence`, as Google does for significant changes.
_SIGNIFICANT = ("start", "end", "recurrence", "location")
_ROLE_RANK = {"freeBusyReader": 0, "reader": 1, "writer": 2, "owner": 3}
_DEFAULT_MESSAGES = {
    "backendError": "Backend Error",
    "internalError": "Internal Error",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Quota Exceeded",
    "forbidden": "Forbidden",
    "notFound": "Not Found",
    "badRequest": "Bad Request",
}
_USAGE_LIMIT_REASONS = {
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
}
_AUTH_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


# --- errors and responses ----------------------------------------------------------------


class _Response(NamedTuple):
    status: int
    body: bytes = b""
    headers: dict[str, str] = {}  # never mutated


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    if payload is None:
        return _Response(status, b"", dict(headers or {}))
    body = json.dumps(payload, indent=1).encode()
    return _Response(
        status, body, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
    )


class ApiError(Exception):
    """A Calendar API error, rendered in Google's JSON error shape."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str | None = None,
        location: str | None = None,
        location_type: str | None = None,
        top_message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        detail: dict[str, str] = {
            "domain": domain or ("usageLimits" if reason in _USAGE_LIMIT_REASONS else "global"),
            "reason": reason,
            "message": message,
        }
        if location:
            detail["locationType"] = location_type or "parameter"
            detail["location"] = location
        self.payload = {
            "error": {"code": status, "message": top_message or message, "errors": [detail]}
        }
        self.headers = headers or {}

    def response(self) -> _Response:
        return _json_response(self.status, self.payload, self.headers)


class OAuthError(Exception):
    """An OAuth endpoint error: {"error": ..., "error_description": ...}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.payload = {"error": error, "error_description": description}

    def response(self) -> _Response:
        return _json_response(self.status, self.payload)


def _bad_request(message: str, reason: str = "invalid", location: str | None = None) -> ApiError:
    return ApiError(400, reason, message, location=location)


def _not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def _gone() -> ApiError:
    return ApiError(410, "deleted", "Resource has been deleted")


# --- time helpers --------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_rfc3339(value: Any, name: str) -> datetime:
    """A timestamp with a mandatory offset, as Google wants for timeMin/timeMax etc."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiError(400, "badRequest", "Bad Request", location=name)
    return parsed


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KeyError(name) from exc


def _event_time(value: Any, which: str, default_tz: tzinfo) -> tuple[datetime, bool]:
    """(instant, is_all_day) of an event's start or end; ApiError when malformed."""
    if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
        raise ApiError(400, "required", f"Missing {which} time.")
    zone = default_tz
    if value.get("timeZone"):
        try:
            zone = _zone(value["timeZone"])
        except KeyError:
            raise _bad_request(f"Invalid time zone definition for {which} time.") from None
    if value.get("dateTime"):
        try:
            moment = datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00"))
        except ValueError:
            raise _bad_request(f"Invalid {which} time.") from None
        if moment.tzinfo is None:
            if not value.get("timeZone"):
                raise ApiError(400, "required", f"Missing time zone definition for {which} time.")
            moment = moment.replace(tzinfo=zone)
        return moment, False
    try:
        day = date.fromisoformat(str(value["date"]))
    except ValueError:
        raise _bad_request(f"Invalid {which} time.") from None
    return datetime.combine(day, dtime(0), tzinfo=zone), True


# --- state ---------------------------------------------------------------------------------


class RecordedRequest(NamedTuple):
    """One request the fake received. `path` is raw (percent-encoded, no query); `query`
    is parse_qs output; header names are lower-case; `body` is the parsed JSON, the form
    (dict of str) for form posts, the raw text otherwise, or None when empty."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class _Calendar:
    id: str
    summary: str
    access_role: str = "owner"
    time_zone: str = "UTC"
    primary: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # event id -> change number

    @property
    def tz(self) -> tzinfo:
        return _zone(self.time_zone)


@dataclass
class _Grant:
    """What one consent (or one seeded token) allows; revoking any of its tokens kills it."""

    client_id: str | None
    scope: str
    refresh_token: str | None = None
    revoked: bool = False

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())


@dataclass
class _Rule:
    method: str | None
    path_contains: str | None
    count: int
    options: dict[str, Any]

    def matches(self, rec: RecordedRequest) -> bool:
        if self.method and rec.method != self.method.upper():
            return False
        if self.path_contains is None:
            return rec.path.startswith(API_PREFIX)
        return self.path_contains in rec.path or self.path_contains in unquote(rec.path)


def _take(rules: list[_Rule], rec: RecordedRequest) -> _Rule | None:
    for rule in rules:
        if rule.matches(rec):
            rule.count -= 1
            if rule.count <= 0:
                rules.remove(rule)
            return rule
    return None


def _is_event_write(rec: RecordedRequest) -> bool:
    parts = rec.path[len(API_PREFIX) :].split("/") if rec.path.startswith(API_PREFIX) else []
    if len(parts) < 3 or parts[0] != "calendars" or parts[2] != "events":
        return False
    if rec.method == "POST":
        return len(parts) == 3
    return rec.method in ("PUT", "PATCH", "DELETE") and len(parts) == 4


def _merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge recursively, lists and scalars replace, null removes."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


# --- the HTTP plumbing ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httplib2 expects
    server: _Server

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeGoogleCalendar, host: str) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.reset_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__((host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
            abort = request in self.reset_sockets
            self.reset_sockets.discard(request)
        if abort:  # SO_LINGER 0 is set: close() without shutdown() sends a RST
            request.close()
        else:
            super().shutdown_request(request)

    def close_open_sockets(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# --- the fake ------------------------------------------------------------------------------


class FakeGoogleCalendar:
    """Fake Google Calendar v3 + OAuth server. Thread-safe: one lock guards all state.

    Lifecycle: ``start()`` (returns self), ``stop()``, or use it as a context manager.
    Attributes: ``base_url`` (``http://127.0.0.1:PORT``), ``api_endpoint``
    (``base_url + "/calendar/v3/"``), ``token_uri``, ``auth_uri``, ``revoke_uri``,
    ``client_id``, ``client_secret``, ``primary_calendar_id``, ``require_auth``.

    Behaviour choices where Google is vague or was not checked against the real service:

    - events.get of a deleted event returns 200 with the full event and status
      "cancelled" (Google does this); delete / patch / update of a deleted event -> 410
      "deleted"; unknown event -> 404 "notFound". Inserting an id that exists or existed
      -> 409 "duplicate". Invalid id, or both `id` and `iCalUID` on insert -> 400 "invalid"
      "Invalid resource id value.".
    - Deleted events in events.list (showDeleted=true, or any incremental sync) are minimal:
      kind, etag, id, status "cancelled", updated (Google only guarantees `id`).
    - Deleting is the same as patching `status: "cancelled"`.
    - A sync token this fake never issued -> 400 "invalid"; an invalidated one (or one
      issued before reset()) -> 410 "fullSyncRequired". syncToken with showDeleted=false,
      or with any of timeMin/timeMax/orderBy/q/updatedMin/iCalUID/private- or
      sharedExtendedProperty -> 400 "invalid".
    - Pagination snapshots the matching ids at the first page; each page shows their
      current state. nextSyncToken (last page only) covers changes made after the first
      page was served. maxResults above 2500 is capped at 2500; below 1 is a 400.
    - Recurring events are stored and returned as-is; singleEvents does not expand them.
    - orderBy=startTime without singleEvents=true -> 400 (as Google).
    - freeBusy: window > 90 days -> 400 "timeRangeTooLong"; > 50 items -> 400
      "tooManyCalendarsRequested" (Google may instead report per-calendar errors); unknown
      calendar -> per-calendar errors [{"domain": "global", "reason": "notFound"}]. Busy
      blocks are clipped to the window and merged; events the calendar owner declined or
      marked transparent are free.
    - Writes to a calendar whose accessRole is below "writer" -> 403 "requiredAccessLevel".
    - events.watch accepts http:// addresses (Google demands https). Default channel
      lifetime is 7 days. An active channel id reused -> 400 "channelIdNotUnique".
    - OAuth: a refresh token is issued on authorization_code only if the authorization
      request had access_type=offline. Codes are single-use. PKCE S256 and plain are
      checked; a verifier without a challenge -> 400 invalid_request. Revoking any token of
      a grant revokes the whole grant (Google does the same). redirect_uri is not checked
      against a registry, only against the one in the authorization request.
    - Every write changes the etag (a quoted number) and `updated`.
    """

    def __init__(
        self,
        *,
        primary_calendar_id: str = "owner@example.com",
        client_id: str | None = "cid",
        client_secret: str | None = "secret",  # noqa: S107 - the fake's test client
        require_auth: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.primary_calendar_id = primary_calendar_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.require_auth = require_auth
        self._host = host
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0  # change counter; never reset, so etags never repeat
        self._init_state()

    def _init_state(self) -> None:
        self._calendars: dict[str, _Calendar] = {}
        self._calendars[self.primary_calendar_id] = _Calendar(
            self.primary_calendar_id, self.primary_calendar_id, primary=True
        )
        self._sync_tokens: dict[str, tuple[str, int]] = {}
        self._dead_sync_tokens: set[str] = set()
        self._page_tokens: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._requests: list[RecordedRequest] = []
        self._auth_requests: list[dict[str, Any]] = []
        self._notifications: list[dict[str, Any]] = []
        self._faults: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._drops: list[_Rule] = []
        self._grants: list[_Grant] = []
        self._access_tokens: dict[str, tuple[_Grant, bool]] = {}  # token -> (grant, expired)
        self._refresh_tokens: dict[str, _Grant] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._deny_next_auth: str | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeGoogleCalendar:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self, self._host)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-google-calendar",
            daemon=True,
        )
        try:
            self._thread.start()
        except BaseException:
            self._server.server_close()  # a failed start leaves no socket listening
            self._server = self._thread = None
            raise
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes delayed requests
        self._server.shutdown()
        self._server.close_open_sockets()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGoogleCalendar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGoogleCalendar is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_endpoint(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def auth_uri(self) -> str:
        return f"{self.base_url}/auth"

    @property
    def revoke_uri(self) -> str:
        return f"{self.base_url}/revoke"

    def reset(self) -> None:
        """Forget calendars (but the primary), events, channels, tokens, codes, faults and
        recorded requests. Sync tokens issued so far answer 410 fullSyncRequired."""
        with self._lock:
            dead = self._dead_sync_tokens | set(self._sync_tokens)
            self._init_state()
            self._dead_sync_tokens = dead

    # --- calendars and events, for seeding and assertions ------------------------------

    def add_calendar(
        self,
        calendar_id: str,
        summary: str = "",
        *,
        access_role: str = "owner",
        time_zone: str = "UTC",
    ) -> None:
        if access_role not in _ROLE_RANK:
            raise ValueError(f"access_role must be one of {sorted(_ROLE_RANK)}")
        _zone(time_zone)
        with self._lock:
            self._calendars[calendar_id] = _Calendar(
                calendar_id, summary or calendar_id, access_role, time_zone
            )

    def events(self, calendar_id: str = "primary") -> dict[str, dict[str, Any]]:
        """Every event of a calendar, id -> full event, deleted ones with status "cancelled"."""
        with self._lock:
            return copy.deepcopy(self._cal(calendar_id).events)

    def insert_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create an event as another client would (e.g. the user in Google's UI)."""
        with self._lock:
            return self._events_insert(self._cal(calendar_id), copy.deepcopy(body))

    def patch_event(
        self, calendar_id: str, event_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Change an event as another client would; bumps etag and the sync position."""
        with self._lock:
            cal = self._cal(calendar_id)
            return self._events_modify(cal, event_id, copy.deepcopy(changes), {}, replace=False)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete an event as another client would."""
        with self._lock:
            self._events_delete(self._cal(calendar_id), event_id, {})

    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Make issued sync tokens (of one calendar, or all) answer 410 fullSyncRequired."""
        with self._lock:
            cal_id = self._cal(calendar_id).id if calendar_id else None
            for token, (owner, _) in list(self._sync_tokens.items()):
                if cal_id is None or owner == cal_id:
                    del self._sync_tokens[token]
                    self._dead_sync_tokens.add(token)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def channels(self) -> dict[str, dict[str, Any]]:
        """Channel id -> the channel as returned by watch plus type, address, params,
        calendarId, stopped and messageNumber (last push sent)."""
        with self._lock:
            return copy.deepcopy(self._channels)

    @property
    def auth_requests(self) -> list[dict[str, Any]]:
        """The query of each GET /auth (single values), in order."""
        with self._lock:
            return copy.deepcopy(self._auth_requests)

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Push notifications sent by notify(): channel_id, headers, status (or error)."""
        with self._lock:
            return copy.deepcopy(self._notifications)

    # --- OAuth, for seeding ---------------------------------------------------------------

    def issue_tokens(
        self, scope: str = CALENDAR_SCOPE, *, client_id: str | None = None
    ) -> dict[str, Any]:
        """A fresh grant: {"access_token", "refresh_token", "scope", "expires_in"}."""
        with self._lock:
            grant = self._new_grant(client_id or self.client_id, scope, offline=True)
            return {
                "access_token": self._new_access_token(grant),
                "refresh_token": grant.refresh_token,
                "scope": scope,
                "expires_in": 3600,
            }

    def add_access_token(self, token: str, scope: str = CALENDAR_SCOPE) -> None:
        with self._lock:
            grant = self._new_grant(self.client_id, scope, offline=False)
            self._access_tokens[token] = (grant, False)

    def add_refresh_token(self, token: str, scope: str = CALENDAR_SCOPE) -> None:
        with self._lock:
            grant = _Grant(self.client_id, scope, refresh_token=token)
            self._grants.append(grant)
            self._refresh_tokens[token] = grant

    def expire_access_tokens(self) -> None:
        """Every access token answers 401 from now on (refresh tokens keep working)."""
        with self._lock:
            for token, (grant, _) in list(self._access_tokens.items()):
                self._access_tokens[token] = (grant, True)

    def revoke(self, token: str) -> bool:
        """Revoke the grant of an access or refresh token; False if the token is unknown."""
        with self._lock:
            grant = self._refresh_tokens.get(token) or self._access_tokens.get(token, (None,))[0]
            if grant is None:
                return False
            grant.revoked = True
            return True

    def issue_code(
        self,
        *,
        redirect_uri: str = "http://127.0.0.1/callback",
        scope: str = CALENDAR_SCOPE,
        client_id: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str = "S256",
        access_type: str = "offline",
    ) -> str:
        """An authorization code, as if the user had consented at /auth."""
        with self._lock:
            return self._new_code(
                {
                    "client_id": client_id or self.client_id,
                    "redirect_uri": redirect_uri,
                    "scope": scope,
                    "code_challenge": code_challenge,
                    "code_challenge_method": code_challenge_method if code_challenge else None,
                    "access_type": access_type,
                }
            )

    def deny_next_authorization(self, error: str = "access_denied") -> None:
        """The next GET /auth redirects back with ?error=...&state=... (user said no)."""
        with self._lock:
            self._deny_next_auth = error

    def credentials(self, scopes: list[str] | None = None) -> Any:
        """google.oauth2.credentials.Credentials for a fresh grant on this fake."""
        from google.oauth2.credentials import Credentials

        tokens = self.issue_tokens(" ".join(scopes) if scopes else CALENDAR_SCOPE)
        return Credentials(
            token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            token_uri=self.token_uri,
            client_id=self.client_id,
            client_secret=self.client_secret,
            scopes=scopes,
        )

    def service(self, credentials: Any = None, *, timeout: float | None = None) -> Any:
        """The official calendar v3 client pointed at this fake (httplib2 timeout optional)."""
        from googleapiclient.discovery import build

        creds = credentials or self.credentials()
        kwargs: dict[str, Any] = {
            "static_discovery": True,
            "cache_discovery": False,
            "client_options": {"api_endpoint": self.api_endpoint},
        }
        if timeout is None:
            kwargs["credentials"] = creds
        else:
            import httplib2
            from google_auth_httplib2 import AuthorizedHttp

            kwargs["http"] = AuthorizedHttp(creds, http=httplib2.Http(timeout=timeout))
        return build("calendar", "v3", **kwargs)

    # --- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        status: int = 500,
        reason: str | None = None,
        count: int = 1,
        message: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with an error instead of handling them.
        Default reason: backendError for 5xx, rateLimitExceeded for 403/429."""
        if reason is None:
            reason = {403: "rateLimitExceeded", 429: "rateLimitExceeded"}.get(
                status, "backendError" if status >= 500 else "badRequest"
            )
        options = {"status": status, "reason": reason, "message": message}
        with self._lock:
            self._faults.append(_Rule(method, path_contains, count, options))

    def delay_next(
        self,
        seconds: float,
        method: str | None = None,
        path_contains: str | None = None,
        count: int = 1,
        *,
        after_processing: bool = False,
    ) -> None:
        """Hold the next `count` matching requests for `seconds`: before handling them
        (default), or after handling them and before answering (the write has happened)."""
        options = {"seconds": seconds, "after": after_processing}
        with self._lock:
            self._delays.append(_Rule(method, path_contains, count, options))

    def drop_after_write_next(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        count: int = 1,
        *,
        graceful: bool = False,
    ) -> None:
        """Handle the next `count` event writes (insert/patch/update/delete) normally, then
        close the connection without any response.

        By default the connection is reset (RST): the client gets ConnectionResetError.
        With graceful=True it is closed with a FIN; httplib2 takes that for a stale
        keep-alive connection and silently RE-SENDS the request once, so the client sees
        the answer to the repeated write (e.g. 409 duplicate for an insert with an id)."""
        with self._lock:
            self._drops.append(_Rule(method, path_contains, count, {"graceful": graceful}))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._drops.clear()

    # --- push notifications ---------------------------------------------------------------

    def notify(self, channel_id: str, state: str = "exists", *, timeout: float = 5.0) -> int:
        """POST a push notification to the channel's address, as Google does; returns the
        receiver's HTTP status. Raises LookupError for an unknown or stopped channel."""
        with self._lock:
            channel = self._channels.get(channel_id)
            if channel is None or channel["stopped"]:
                raise LookupError(f"no active channel {channel_id!r}")
            channel["messageNumber"] += 1
            expiration = datetime.fromtimestamp(int(channel["expiration"]) / 1000, tz=UTC)
            headers = {
                "X-Goog-Channel-ID": channel["id"],
                "X-Goog-Channel-Expiration": format_datetime(expiration, usegmt=True),
                "X-Goog-Resource-ID": channel["resourceId"],
                "X-Goog-Resource-URI": channel["resourceUri"],
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": str(channel["messageNumber"]),
            }
            if channel.get("token") is not None:
                headers["X-Goog-Channel-Token"] = channel["token"]
            address = channel["address"]
        record: dict[str, Any] = {"channel_id": channel_id, "headers": headers}
        try:
            record["status"] = _post_empty(address, headers, timeout)
        except OSError as exc:
            record["error"] = repr(exc)
            raise
        finally:
            with self._lock:
                self._notifications.append(record)
        return record["status"]

    def notify_calendar(self, calendar_id: str = "primary", state: str = "exists") -> list[int]:
        """notify() every active channel watching a calendar."""
        with self._lock:
            cal_id = self._cal(calendar_id).id
            ids = [
                c["id"]
                for c in self._channels.values()
                if c["calendarId"] == cal_id and not c["stopped"]
            ]
        return [self.notify(channel_id, state) for channel_id in ids]

    # --- request handling -----------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        rec = RecordedRequest(
            handler.command,
            split.path,
            parse_qs(split.query, keep_blank_values=True),
            headers,
            _decode_body(raw, headers.get("content-type", "")),
        )
        with self._lock:
            self._requests.append(rec)
            delay = _take(self._delays, rec)
        if delay and not delay.options["after"]:
            self._stopping.wait(delay.options["seconds"])
        with self._lock:
            fault = _take(self._faults, rec)
        if fault is not None:
            response = self._fault_response(rec, fault)
        else:
            try:
                response = self._route(rec)
            except (ApiError, OAuthError) as exc:
                response = exc.response()
            except Exception as exc:  # a bug in the fake: say so loudly
                response = ApiError(500, "internalError", f"fake server bug: {exc!r}").response()
        if delay and delay.options["after"]:
            self._stopping.wait(delay.options["seconds"])
        drop = None
        if _is_event_write(rec):
            with self._lock:
                drop = _take(self._drops, rec)
        if drop is not None:
            self._drop_connection(handler, graceful=drop.options["graceful"])
            return
        self._send(handler, response)

    @staticmethod
    def _send(handler: _Handler, response: _Response) -> None:
        try:
            handler.send_response(response.status)
            for name, value in response.headers.items():
                handler.send_header(name, value)
            if response.status not in (204, 304):
                handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            if response.body and response.status not in (204, 304):
                handler.wfile.write(response.body)
        except OSError:  # the client gave up (timeout): nothing to tell it
            handler.close_connection = True

    def _drop_connection(self, handler: _Handler, *, graceful: bool) -> None:
        handler.close_connection = True
        if graceful or self._server is None:
            return
        sock = handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._server.sockets_lock:
            self._server.reset_sockets.add(sock)

    @staticmethod
    def _fault_response(rec: RecordedRequest, fault: _Rule) -> _Response:
        status, reason = fault.options["status"], fault.options["reason"]
        message = fault.options["message"] or _DEFAULT_MESSAGES.get(reason, reason)
        if rec.path.startswith(API_PREFIX):
            return ApiError(status, reason, message).response()
        return OAuthError(status, reason, message).response()

    def _route(self, rec: RecordedRequest) -> _Response:
        if rec.path == "/token" and rec.method == "POST":
            return self._token_endpoint(rec)
        if rec.path == "/auth" and rec.method == "GET":
            return self._authorization_endpoint(rec)
        if rec.path == "/revoke" and rec.method == "POST":
            return self._revocation_endpoint(rec)
        if not rec.path.startswith(API_PREFIX):
            raise _not_found()
        segments = [unquote(s) for s in rec.path[len(API_PREFIX) :].split("/")]
        with self._lock:
            status, payload = self._api(rec, segments)
        return _json_response(status, payload)

    def _api(self, rec: RecordedRequest, segments: list[str]) -> tuple[int, Any]:
        method, query, headers = rec.method, rec.query, rec.headers
        match segments:
            case ["calendars", cal_id, "events"] if method == "GET":
                self._authorize(rec, "events.list")
                return 200, self._events_list(self._cal_or_404(cal_id), query)
            case ["calendars", cal_id, "events"] if method == "POST":
                self._authorize(rec, "events.insert")
                return 200, self._events_insert(self._cal_or_404(cal_id), _json_body(rec))
            case ["calendars", cal_id, "events", "watch"] if method == "POST":
                self._authorize(rec, "events.watch")
                return 200, self._events_watch(cal_id, _json_body(rec))
            case ["calendars", cal_id, "events", event_id] if method == "GET":
                self._authorize(rec, "events.get")
                return self._events_get(self._cal_or_404(cal_id), event_id, headers)
            case ["calendars", cal_id, "events", event_id] if method in ("PATCH", "PUT"):
                self._authorize(rec, "events.update" if method == "PUT" else "events.patch")
                cal = self._cal_or_404(cal_id)
                body = _json_body(rec)
                return 200, self._events_modify(
                    cal, event_id, body, headers, replace=method == "PUT"
                )
            case ["calendars", cal_id, "events", event_id] if method == "DELETE":
                self._authorize(rec, "events.delete")
                self._events_delete(self._cal_or_404(cal_id), event_id, headers)
                return 204, None
            case ["channels", "stop"] if method == "POST":
                self._authorize(rec, "channels.stop")
                self._channels_stop(_json_body(rec))
                return 204, None
            case ["freeBusy"] if method == "POST":
                self._authorize(rec, "freebusy.query")
                return 200, self._freebusy(_json_body(rec))
            case ["users", "me", "calendarList"] if method == "GET":
                self._authorize(rec, "calendarList.list")
                return 200, self._calendar_list(query)
        raise _not_found()

    # --- auth of API calls ----------------------------------------------------------------

    def _authorize(self, rec: RecordedRequest, api_method: str) -> None:
        if not self.require_auth:
            return
        header = rec.headers.get("authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else None
        entry = self._access_tokens.get(token) if token else None
        if entry is None or entry[1] or entry[0].revoked:
            raise ApiError(
                401,
                "authError",
                "Invalid Credentials",
                location="Authorization",
                location_type="header",
                top_message=_AUTH_MESSAGE,
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        granted = {s[len(SCOPE_PREFIX) :] for s in entry[0].scopes if s.startswith(SCOPE_PREFIX)}
        allowed = _METHOD_SCOPES[api_method]
        ok = bool(granted & allowed) if allowed else any(s.startswith("calendar") for s in granted)
        if not ok:
            raise ApiError(
                403,
                "insufficientPermissions",
                "Insufficient Permission",
                top_message="Request had insufficient authentication scopes.",
            )

    # --- calendars ------------------------------------------------------------------------

    def _cal(self, calendar_id: str | None) -> _Calendar:
        """Resolve "primary"; KeyError for an unknown calendar (for the Python API)."""
        if calendar_id in (None, "primary"):
            calendar_id = self.primary_calendar_id
        return self._calendars[calendar_id]

    def _cal_or_404(self, calendar_id: str) -> _Calendar:
        try:
            return self._cal(calendar_id)
        except KeyError:
            raise _not_found() from None

    @staticmethod
    def _require_writer(cal: _Calendar) -> None:
        if _ROLE_RANK[cal.access_role] < _ROLE_RANK["writer"]:
            raise ApiError(
                403, "requiredAccessLevel", "You need to have writer access to this calendar."
            )

    def _calendar_list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        min_role = _param(query, "minAccessRole")
        if min_role is not None and min_role not in _ROLE_RANK:
            raise _bad_request("Invalid value for: minAccessRole", location="minAccessRole")
        items = []
        for cal in self._calendars.values():
            if min_role and _ROLE_RANK[cal.access_role] < _ROLE_RANK[min_role]:
                continue
            entry: dict[str, Any] = {
                "kind": "calendar#calendarListEntry",
                "etag": f'"{abs(hash(cal.id)) % 10**16}"',
                "id": cal.id,
                "summary": cal.summary,
                "timeZone": cal.time_zone,
                "accessRole": cal.access_role,
                "defaultReminders": [],
            }
            if cal.primary:
                entry["primary"] = True
            items.append(entry)
        return {
            "kind": "calendar#calendarList",
            "etag": f'"p{self._seq}"',
            "nextSyncToken": secrets.token_urlsafe(12),
            "items": items,
        }

    # --- events ---------------------------------------------------------------------------

    def _touch(self, cal: _Calendar, event: dict[str, Any]) -> None:
        self._seq += 1
        event["etag"] = f'"{3_400_000_000_000_000 + self._seq}"'
        event["updated"] = _rfc3339(_now())
        cal.changed[event["id"]] = self._seq

    def _validate_event(self, cal: _Calendar, event: dict[str, Any]) -> None:
        if "start" not in event:
            raise ApiError(400, "required", "Missing start time.")
        if "end" not in event:
            raise ApiError(400, "required", "Missing end time.")
        start, all_day = _event_time(event["start"], "start", cal.tz)
        end, _ = _event_time(event["end"], "end", cal.tz)
        if end < start or (all_day and end == start):
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        if event.get("status", "confirmed") not in ("confirmed", "tentative", "cancelled"):
            raise _bad_request("Invalid value for: status")
        if event.get("transparency", "opaque") not in ("opaque", "transparent"):
            raise _bad_request("Invalid value for: transparency")
        props = event.get("extendedProperties", {})
        for scope in ("private", "shared"):
            values = props.get(scope, {}) if isinstance(props, dict) else None
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise _bad_request("Invalid extended property value.")
        attendees = event.get("attendees", [])
        if not isinstance(attendees, list):
            raise _bad_request("Invalid value for: attendees")
        for attendee in attendees:
            if not isinstance(attendee, dict) or not attendee.get("email"):
                raise ApiError(400, "required", "Missing attendee email.")
            attendee.setdefault("responseStatus", "needsAction")
            if attendee["email"] == cal.id:
                attendee["self"] = True

    def _public(self, event: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(event)

    def _events_insert(self, cal: _Calendar, body: dict[str, Any]) -> dict[str, Any]:
        self._require_writer(cal)
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not _EVENT_ID_RE.fullmatch(event_id):
                raise _bad_request("Invalid resource id value.")
            if body.get("iCalUID"):  # "only one of them should be supplied"
                raise _bad_request("Invalid resource id value.")
            if event_id in cal.events:  # also when it was deleted
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
        else:
            event_id = "".join(secrets.choice(_BASE32HEX) for _ in range(26))
        eid = base64.urlsafe_b64encode(f"{event_id} {cal.id}".encode()).decode().rstrip("=")
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": _rfc3339(_now()),
            "creator": {"email": cal.id, "self": True},
            "organizer": {"email": cal.id, "self": True},
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        event.update({k: v for k, v in body.items() if k not in _SERVER_FIELDS})
        if not isinstance(event.get("sequence"), int) or event["sequence"] < 0:
            raise _bad_request("Invalid sequence value.")
        self._validate_event(cal, event)
        self._touch(cal, event)
        cal.events[event_id] = event
        return self._public(event)

    def _event_or_404(self, cal: _Calendar, event_id: str) -> dict[str, Any]:
        event = cal.events.get(event_id)
        if event is None:
            raise _not_found()
        return event

    @staticmethod
    def _check_if_match(event: dict[str, Any], headers: dict[str, str]) -> None:
        wanted = headers.get("if-match")
        if wanted is None or wanted.strip() == "*":
            return
        if event["etag"] not in [tag.strip() for tag in wanted.split(",")]:
            raise ApiError(
                412,
                "conditionNotMet",
                "Precondition Failed",
                location="If-Match",
                location_type="header",
            )

    def _events_get(
        self, cal: _Calendar, event_id: str, headers: dict[str, str]
    ) -> tuple[int, Any]:
        event = self._event_or_404(cal, event_id)
        if headers.get("if-none-match") == event["etag"]:
            return 304, None
        return 200, self._public(event)

    def _events_modify(
        self,
        cal: _Calendar,
        event_id: str,
        body: dict[str, Any],
        headers: dict[str, str],
        *,
        replace: bool,
    ) -> dict[str, Any]:
        self._require_writer(cal)
        current = self._event_or_404(cal, event_id)
        if current["status"] == "cancelled":
            raise _gone()
        self._check_if_match(current, headers)
        changes = {k: v for k, v in body.items() if k not in _SERVER_FIELDS}
        if replace:
            kept = ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID")
            updated = {k: copy.deepcopy(current[k]) for k in kept if k in current}
            updated.update(
                {"status": "confirmed", "reminders": {"useDefault": True}, "eventType": "default"}
            )
            updated["sequence"] = current["sequence"]
            updated.update(copy.deepcopy(changes))
        else:
            updated = _merge_patch(copy.deepcopy(current), changes)
        sequence = updated.get("sequence", current["sequence"])
        if not isinstance(sequence, int) or sequence < current["sequence"]:
            raise _bad_request(
                "Invalid sequence value. The specified sequence number is below the current "
                "sequence number of the resource."
            )
        if sequence == current["sequence"] and any(
            updated.get(k) != current.get(k) for k in _SIGNIFICANT
        ):
            sequence += 1
        updated["sequence"] = sequence
        self._validate_event(cal, updated)
        self._touch(cal, updated)
        cal.events[event_id] = updated
        return self._public(updated)

    def _events_delete(self, cal: _Calendar, event_id: str, headers: dict[str, str]) -> None:
        self._require_writer(cal)
        event = self._event_or_404(cal, event_id)
        if event["status"] == "cancelled":
            raise _gone()
        self._check_if_match(event, headers)
        event["status"] = "cancelled"
        self._touch(cal, event)

    def _events_list(self, cal: _Calendar, query: dict[str, list[str]]) -> dict[str, Any]:
        sync_token = _param(query, "syncToken")
        page_token = _param(query, "pageToken")
        max_results = _int_param(query, "maxResults", 250)
        if max_results < 1:
            raise _bad_request("Invalid value for: maxResults", location="maxResults")
        max_results = min(max_results, 2500)
        if sync_token is not None:
            conflicts = [name for name in _SYNC_CONFLICTS if name in query]
            if conflicts:
                raise _bad_request(
                    f"The syncToken parameter cannot be combined with {', '.join(conflicts)}.",
                    location="syncToken",
                )
            if _param(query, "showDeleted") == "false":
                raise _bad_request(
                    "showDeleted cannot be false with a syncToken.", location="showDeleted"
                )

        if page_token is not None:
            state = self._page_tokens.get(page_token)
            if state is None or state["calendar"] != cal.id:
                raise _bad_request("Invalid page token value.", location="pageToken")
        else:
            if sync_token is not None:
                ids = self._changed_since(cal, sync_token)
            else:
                ids = self._matching_ids(cal, query)
            state = {"calendar": cal.id, "ids": ids, "offset": 0, "seq": self._seq}

        offset = state["offset"]
        page_ids = state["ids"][offset : offset + max_results]
        response: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p{self._seq}"',
            "summary": cal.summary,
            "description": "",
            "updated": _rfc3339(_now()),
            "timeZone": cal.time_zone,
            "accessRole": cal.access_role,
            "defaultReminders": [],
            "items": [self._list_item(cal.events[i]) for i in page_ids],
        }
        if offset + max_results < len(state["ids"]):
            token = secrets.token_urlsafe(24)
            self._page_tokens[token] = {**state, "offset": offset + max_results}
            response["nextPageToken"] = token
        else:
            token = secrets.token_urlsafe(24)
            self._sync_tokens[token] = (cal.id, state["seq"])
            response["nextSyncToken"] = token
        return response

    def _changed_since(self, cal: _Calendar, sync_token: str) -> list[str]:
        if sync_token in self._dead_sync_tokens:
            raise ApiError(
                410,
                "fullSyncRequired",
                "Sync token is no longer valid, a full sync is required.",
            )
        known = self._sync_tokens.get(sync_token)
        if known is None or known[0] != cal.id:
            raise _bad_request("Invalid sync token value.", location="syncToken")
        since = known[1]
        changed = [(seq, eid) for eid, seq in cal.changed.items() if seq > since]
        return [eid for _, eid in sorted(changed)]

    def _matching_ids(self, cal: _Calendar, query: dict[str, list[str]]) -> list[str]:
        show_deleted = _param(query, "showDeleted") == "true"
        single_events = _param(query, "singleEvents") == "true"
        order_by = _param(query, "orderBy")
        if order_by not in (None, "startTime", "updated"):
            raise _bad_request("Invalid value for: orderBy", location="orderBy")
        if order_by == "startTime" and not single_events:
            raise _bad_request(
                "The requested ordering is not available for the particular query.",
                location="orderBy",
            )
        time_min = _param(query, "timeMin")
        time_max = _param(query, "timeMax")
        lower = _parse_rfc3339(time_min, "timeMin") if time_min is not None else None
        upper = _parse_rfc3339(time_max, "timeMax") if time_max is not None else None
        updated_min = _param(query, "updatedMin")
        updated_floor = (
            _parse_rfc3339(updated_min, "updatedMin") if updated_min is not None else None
        )
        ical_uid = _param(query, "iCalUID")
        text = (_param(query, "q") or "").lower()
        wanted_props = {
            scope: [_split_property(p) for p in query.get(f"{scope}ExtendedProperty", [])]
            for scope in ("private", "shared")
        }

        matched: list[tuple[Any, str]] = []
        for event_id, event in cal.events.items():
            if event["status"] == "cancelled" and not show_deleted:
                continue
            start, _ = _event_time(event["start"], "start", cal.tz)
            end, _ = _event_time(event["end"], "end", cal.tz)
            if lower is not None and end <= lower:  # timeMin bounds the end, exclusive
                continue
            if upper is not None and start >= upper:  # timeMax bounds the start, exclusive
                continue
            if updated_floor is not None and _parse_rfc3339(event["updated"], "u") < updated_floor:
                continue
            if ical_uid is not None and event.get("iCalUID") != ical_uid:
                continue
            props = event.get("extendedProperties", {})
            if any(
                props.get(scope, {}).get(name) != value
                for scope, pairs in wanted_props.items()
                for name, value in pairs
            ):
                continue
            if text and text not in _searchable_text(event):
                continue
            if order_by == "startTime":
                key: Any = (start, cal.changed[event_id])
            elif order_by == "updated":
                key = cal.changed[event_id]
            else:
                key = 0  # stable: creation order
            matched.append((key, event_id))
        matched.sort(key=lambda pair: pair[0])
        return [event_id for _, event_id in matched]

    @staticmethod
    def _list_item(event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] == "cancelled":
            keys = ("kind", "etag", "id", "status", "updated")
            return {k: event[k] for k in keys if k in event}
        return copy.deepcopy(event)

    # --- watch channels -------------------------------------------------------------------

    def _events_watch(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        cal = self._cal_or_404(calendar_id)
        channel_id = body.get("id")
        if not channel_id:
            raise ApiError(400, "required", "Required", location="id")
        if body.get("type") not in ("web_hook", "webhook"):
            raise _bad_request(f"Invalid channel type: {body.get('type')!r}.", location="type")
        if not body.get("address"):
            raise ApiError(400, "required", "Required", location="address")
        existing = self._channels.get(channel_id)
        if existing is not None and not existing["stopped"]:
            raise ApiError(400, "channelIdNotUnique", "Channel id not unique.")
        if body.get("expiration") is not None:
            expiration = int(body["expiration"])
        else:
            expiration = int((_now() + timedelta(days=7)).timestamp() * 1000)
        channel: dict[str, Any] = {
            "kind": "api#channel",
            "id": channel_id,
            "resourceId": secrets.token_urlsafe(20),
            "resourceUri": (
                f"{self.api_endpoint}calendars/{quote(calendar_id, safe='')}/events?alt=json"
            ),
            "expiration": str(expiration),
        }
        if body.get("token") is not None:
            channel["token"] = body["token"]
        self._channels[channel_id] = {
            **channel,
            "type": body["type"],
            "address": body["address"],
            "params": copy.deepcopy(body.get("params", {})),
            "calendarId": cal.id,
            "stopped": False,
            "messageNumber": 0,
        }
        return channel

    def _channels_stop(self, body: dict[str, Any]) -> None:
        channel_id = body.get("id")
        if not channel_id:
            raise ApiError(400, "required", "Required", location="id")
        channel = self._channels.get(channel_id)
        if (
            channel is None
            or channel["stopped"]
            or body.get("resourceId") not in (None, channel["resourceId"])
        ):
            raise ApiError(
                404, "notFound", f"Channel '{channel_id}' not found for project 'fake-project'"
            )
        channel["stopped"] = True

    # --- freeBusy -------------------------------------------------------------------------

    def _freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("timeMin", "timeMax"):
            if not body.get(name):
                raise ApiError(400, "required", f"Missing {name} parameter.", location=name)
        lower = _parse_rfc3339(body["timeMin"], "timeMin")
        upper = _parse_rfc3339(body["timeMax"], "timeMax")
        if upper <= lower:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        if upper - lower > timedelta(days=90):
            raise ApiError(400, "timeRangeTooLong", "The requested time range is too long.")
        items = body.get("items") or []
        if len(items) > 50:
            raise ApiError(400, "tooManyCalendarsRequested", "Too many calendars requested.")
        out_tz: tzinfo = UTC
        if body.get("timeZone"):
            try:
                out_tz = _zone(body["timeZone"])
            except KeyError:
                raise _bad_request("Invalid time zone.", location="timeZone") from None

        def fmt(moment: datetime) -> str:
            text = moment.astimezone(out_tz).isoformat(timespec="seconds")
            return text.replace("+00:00", "Z") if out_tz is UTC else text

        calendars: dict[str, Any] = {}
        for item in items:
            requested = item.get("id", "") if isinstance(item, dict) else ""
            try:
                cal = self._cal(requested)
            except KeyError:
                calendars[requested] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
                continue
            blocks: list[tuple[datetime, datetime]] = []
            for event in cal.events.values():
                if event["status"] == "cancelled" or event.get("transparency") == "transparent":
                    continue
                if any(
                    a.get("self") and a.get("responseStatus") == "declined"
                    for a in event.get("attendees", [])
                ):
                    continue
                start, _ = _event_time(event["start"], "start", cal.tz)
                end, _ = _event_time(event["end"], "end", cal.tz)
                start, end = max(start, lower), min(end, upper)
                if start < end:
                    blocks.append((start, end))
            merged: list[list[datetime]] = []
            for start, end in sorted(blocks):
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            calendars[requested] = {
                "busy": [{"start": fmt(start), "end": fmt(end)} for start, end in merged]
            }
        return {
            "kind": "calendar#freeBusy",
            "timeMin": _rfc3339(lower),
            "timeMax": _rfc3339(upper),
            "calendars": calendars,
        }

    # --- OAuth endpoints ------------------------------------------------------------------

    def _new_grant(self, client_id: str | None, scope: str, *, offline: bool) -> _Grant:
        grant = _Grant(client_id, scope)
        if offline:
            grant.refresh_token = "1//fake-" + secrets.token_urlsafe(32)
            self._refresh_tokens[grant.refresh_token] = grant
        self._grants.append(grant)
        return grant

    def _new_access_token(self, grant: _Grant) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        self._access_tokens[token] = (grant, False)
        return token

    def _new_code(self, request: dict[str, Any]) -> str:
        code = "4/fake-" + secrets.token_urlsafe(24)
        self._codes[code] = {**request, "used": False}
        return code

    def _authorization_endpoint(self, rec: RecordedRequest) -> _Response:
        params = {name: values[-1] for name, values in rec.query.items()}
        with self._lock:
            self._auth_requests.append(dict(params))
            if self.client_id is not None and params.get("client_id") != self.client_id:
                raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
            redirect_uri = params.get("redirect_uri")
            if not redirect_uri:
                raise OAuthError(400, "invalid_request", "Missing required parameter: redirect_uri")
            answer: dict[str, str] = {}
            if self._deny_next_auth:
                answer["error"] = self._deny_next_auth
                self._deny_next_auth = None
            elif params.get("response_type") != "code":
                answer["error"] = "unsupported_response_type"
            elif not params.get("scope"):
                answer["error"] = "invalid_scope"
            else:
                challenge = params.get("code_challenge")
                answer["code"] = self._new_code(
                    {
                        "client_id": params.get("client_id"),
                        "redirect_uri": redirect_uri,
                        "scope": params["scope"],
                        "code_challenge": challenge,
                        "code_challenge_method": (
                            params.get("code_challenge_method", "plain") if challenge else None
                        ),
                        "access_type": params.get("access_type", "online"),
                    }
                )
                answer["scope"] = params["scope"]
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{urlencode(answer)}"
        return _Response(302, b"", {"Location": location})

    def _client_credentials(self, rec: RecordedRequest, form: dict[str, str]) -> tuple[Any, Any]:
        header = rec.headers.get("authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote(client_id), unquote(secret)
        return form.get("client_id"), form.get("client_secret")

    def _token_endpoint(self, rec: RecordedRequest) -> _Response:
        form = rec.body if isinstance(rec.body, dict) else {}
        client_id, client_secret = self._client_credentials(rec, form)
        with self._lock:
            if self.client_id is not None and client_id != self.client_id:
                raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
            if self.client_secret is not None and client_secret != self.client_secret:
                raise OAuthError(401, "invalid_client", "Unauthorized")
            grant_type = form.get("grant_type")
            if grant_type == "refresh_token":
                grant = self._refresh_tokens.get(form.get("refresh_token", ""))
                if grant is None or grant.revoked:
                    raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
                if grant.client_id is not None and grant.client_id != client_id:
                    raise OAuthError(400, "unauthorized_client", "Unauthorized")
                payload: dict[str, Any] = {
                    "access_token": self._new_access_token(grant),
                    "expires_in": 3600,
                    "token_type": "Bearer",
                    "scope": grant.scope,
                }
                return _json_response(200, payload)
            if grant_type == "authorization_code":
                return _json_response(200, self._exchange_code(form, client_id))
            raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, form: dict[str, str], client_id: str | None) -> dict[str, Any]:
        request = self._codes.get(form.get("code", ""))
        if request is None:
            raise OAuthError(400, "invalid_grant", "Malformed auth code.")
        if request["used"]:
            raise OAuthError(400, "invalid_grant", "Bad Request")
        if request["client_id"] is not None and request["client_id"] != client_id:
            raise OAuthError(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != request["redirect_uri"]:
            raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        challenge = request["code_challenge"]
        if challenge is None and verifier:
            raise OAuthError(400, "invalid_request", "code_verifier or verifier is not needed.")
        if challenge is not None:
            if not verifier:
                raise OAuthError(400, "invalid_grant", "Missing code verifier.")
            if request["code_challenge_method"] == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            else:
                computed = verifier
            if computed != challenge:
                raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
        request["used"] = True
        grant = self._new_grant(
            client_id, request["scope"], offline=request["access_type"] == "offline"
        )
        payload: dict[str, Any] = {
            "access_token": self._new_access_token(grant),
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": request["scope"],
        }
        if grant.refresh_token:
            payload["refresh_token"] = grant.refresh_token
        return payload

    def _revocation_endpoint(self, rec: RecordedRequest) -> _Response:
        form = rec.body if isinstance(rec.body, dict) else {}
        token = form.get("token") or _param(rec.query, "token")
        if not token or not self.revoke(token):
            raise OAuthError(400, "invalid_token", "Token expired or revoked")
        return _json_response(200, {})


# --- small parsing helpers -------------------------------------------------------------------


def _post_empty(url: str, headers: dict[str, str], timeout: float) -> int:
    """POST an empty body with the header names exactly as given (urllib would re-case them)."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.netloc, timeout=timeout)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection.request("POST", target, body=b"", headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _decode_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        return {name: values[-1] for name, values in parse_qs(text).items()}
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _json_body(rec: RecordedRequest) -> dict[str, Any]:
    if rec.body is None:
        return {}
    if not isinstance(rec.body, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return copy.deepcopy(rec.body)


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    value = _param(query, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _bad_request(f"Invalid value for: {name}", location=name) from None


def _split_property(constraint: str) -> tuple[str, str]:
    name, sep, value = constraint.partition("=")
    if not sep:
        raise _bad_request(
            "Invalid extended property constraint.", location="privateExtendedProperty"
        )
    return name, value


def _searchable_text(event: dict[str, Any]) -> str:
    parts = [event.get(k, "") for k in ("summary", "description", "location")]
    for attendee in event.get("attendees", []):
        parts += [attendee.get("email", ""), attendee.get("displayName", "")]
    return " ".join(str(p) for p in parts).lower()


__all__ = ["ApiError", "FakeGoogleCalendar", "OAuthError", "RecordedRequest"]
