"""The fake Google Calendar server, driven by the OFFICIAL client (googleapiclient, google-auth,
google-auth-oauthlib) exactly as production builds it. No database needed."""

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import google.auth.exceptions
import pytest
import requests
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.fakes.google_server import FakeGoogleCalendar

SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
]


@pytest.fixture(scope="module")
def server():
    with FakeGoogleCalendar() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    yield server
    server.reset()


def build_service(fake, tokens=None):
    """As production does it: static discovery, api_endpoint pointing at the fake."""
    tokens = tokens or fake.issue_tokens(" ".join(SCOPES))
    creds = Credentials(
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_uri=f"{fake.base_url}/token",
        client_id="cid",
        client_secret="secret",
        scopes=SCOPES,
    )
    return build(
        "calendar",
        "v3",
        credentials=creds,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{fake.base_url}/calendar/v3/"},
    )


@pytest.fixture
def service(fake):
    return build_service(fake)


def body(event_id=None, hour=9, day=7, **extra):
    event = {
        "summary": f"Session {hour}",
        "start": {"dateTime": f"2030-01-{day:02d}T{hour:02d}:00:00+02:00"},
        "end": {"dateTime": f"2030-01-{day:02d}T{hour + 1:02d}:00:00+02:00"},
        **extra,
    }
    if event_id:
        event["id"] = event_id
    return event


def no_backoff(request):
    request._sleep = lambda seconds: None  # the client's retry backoff, not the server
    return request


def reason(error: HttpError) -> str:
    return error.error_details[0]["reason"]


def insert(service, event_id=None, **kwargs):
    return service.events().insert(calendarId="primary", body=body(event_id, **kwargs)).execute()


# --- paths -----------------------------------------------------------------------------------


def test_paths_the_official_client_requests(fake, service):
    insert(service, "evt00001")
    service.events().list(calendarId="primary").execute()
    service.events().get(calendarId="primary", eventId="evt00001").execute()
    service.events().patch(calendarId="primary", eventId="evt00001", body={}).execute()
    service.events().update(calendarId="primary", eventId="evt00001", body=body()).execute()
    service.events().delete(calendarId="primary", eventId="evt00001").execute()
    channel = (
        service.events()
        .watch(
            calendarId="a b@group.calendar.google.com",
            body={"id": "ch1", "type": "web_hook", "address": "http://127.0.0.1:9/hook"},
        )
        .execute
    )
    with pytest.raises(HttpError) as unknown:  # unknown calendar: 404, but the path is seen
        channel()
    assert unknown.value.resp.status == 404
    service.freebusy().query(body=freebusy_body()).execute()
    service.calendarList().list().execute()

    seen = [(r.method, r.path, r.query.get("alt")) for r in fake.requests]
    assert seen == [
        ("POST", "/calendar/v3/calendars/primary/events", ["json"]),
        ("GET", "/calendar/v3/calendars/primary/events", ["json"]),
        ("GET", "/calendar/v3/calendars/primary/events/evt00001", ["json"]),
        ("PATCH", "/calendar/v3/calendars/primary/events/evt00001", ["json"]),
        ("PUT", "/calendar/v3/calendars/primary/events/evt00001", ["json"]),
        ("DELETE", "/calendar/v3/calendars/primary/events/evt00001", None),
        ("POST", "/calendar/v3/calendars/a%20b%40group.calendar.google.com/events/watch", ["json"]),
        ("POST", "/calendar/v3/freeBusy", ["json"]),
        ("GET", "/calendar/v3/users/me/calendarList", ["json"]),
    ]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in fake.requests)


# --- insert / get / patch / delete ------------------------------------------------------------


def test_insert_with_custom_id_keeps_fields_and_refuses_reuse(fake, service):
    created = insert(
        service,
        "bsr0abc123",
        description="Body Stress Release",
        transparency="transparent",
        extendedProperties={"private": {"bsr_booking": "42"}, "shared": {"x": "y"}},
        attendees=[{"email": "client@example.com"}],
    )
    assert created["id"] == "bsr0abc123"
    assert created["status"] == "confirmed"
    assert created["etag"].startswith('"') and created["etag"].endswith('"')
    assert created["updated"].endswith("Z")
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert created["iCalUID"] == "bsr0abc123@google.com"
    assert created["sequence"] == 0
    assert created["extendedProperties"]["private"] == {"bsr_booking": "42"}
    assert created["transparency"] == "transparent"
    assert created["attendees"] == [
        {"email": "client@example.com", "responseStatus": "needsAction"}
    ]
    assert fake.events("primary")["bsr0abc123"]["description"] == "Body Stress Release"

    with pytest.raises(HttpError) as again:
        insert(service, "bsr0abc123")
    assert again.value.resp.status == 409
    assert reason(again.value) == "duplicate"

    service.events().delete(calendarId="primary", eventId="bsr0abc123").execute()
    with pytest.raises(HttpError) as after_delete:  # a deleted id stays taken
        insert(service, "bsr0abc123")
    assert after_delete.value.resp.status == 409


def test_insert_without_id_gets_a_base32hex_id(service):
    created = insert(service)
    assert len(created["id"]) == 26
    assert set(created["id"]) <= set("0123456789abcdefghijklmnopqrstuv")


@pytest.mark.parametrize("bad_id", ["has-dash1", "UPPER1234", "wxyz12345", "abc", "a" * 1025])
def test_insert_refuses_ids_outside_base32hex(service, bad_id):
    with pytest.raises(HttpError) as error:
        insert(service, bad_id)
    assert error.value.resp.status == 400
    assert error.value.error_details == [
        {"domain": "global", "reason": "invalid", "message": "Invalid resource id value."}
    ]


def test_insert_validates_times(service):
    with pytest.raises(HttpError) as missing_end:
        service.events().insert(
            calendarId="primary", body={"start": {"dateTime": "2030-01-07T09:00:00Z"}}
        ).execute()
    assert (missing_end.value.resp.status, reason(missing_end.value)) == (400, "required")
    backwards = body(start={"dateTime": "2030-01-07T11:00:00Z"})
    with pytest.raises(HttpError) as empty:
        service.events().insert(calendarId="primary", body=backwards).execute()
    assert reason(empty.value) == "timeRangeEmpty"
    all_day = {"start": {"date": "2030-01-07"}, "end": {"date": "2030-01-08"}}
    assert service.events().insert(calendarId="primary", body=all_day).execute()["start"] == {
        "date": "2030-01-07"
    }
    zoned = {
        "start": {"dateTime": "2030-01-07T09:00:00", "timeZone": "Africa/Johannesburg"},
        "end": {"dateTime": "2030-01-07T10:00:00", "timeZone": "Africa/Johannesburg"},
    }
    service.events().insert(calendarId="primary", body=zoned).execute()


def test_get_unknown_is_404_and_deleted_is_cancelled(service):
    with pytest.raises(HttpError) as unknown:
        service.events().get(calendarId="primary", eventId="nosuchevent").execute()
    assert (unknown.value.resp.status, reason(unknown.value)) == (404, "notFound")

    insert(service, "gone00001")
    service.events().delete(calendarId="primary", eventId="gone00001").execute()
    deleted = service.events().get(calendarId="primary", eventId="gone00001").execute()
    assert deleted["id"] == "gone00001"
    assert deleted["status"] == "cancelled"


def test_patch_and_update_honour_if_match(fake, service):
    created = insert(service, "etag00001", extendedProperties={"private": {"a": "1", "b": "2"}})
    etag = service.events().get(calendarId="primary", eventId="etag00001").execute()["etag"]
    assert etag == created["etag"]

    request = service.events().patch(
        calendarId="primary",
        eventId="etag00001",
        body={"summary": "Moved", "extendedProperties": {"private": {"b": "3"}}},
    )
    request.headers["If-Match"] = etag
    patched = request.execute()
    assert patched["summary"] == "Moved"
    assert patched["extendedProperties"]["private"] == {"a": "1", "b": "3"}  # objects merge
    assert patched["etag"] != etag

    stale = service.events().patch(calendarId="primary", eventId="etag00001", body={"summary": "X"})
    stale.headers["If-Match"] = etag
    with pytest.raises(HttpError) as error:
        stale.execute()
    assert error.value.resp.status == 412
    assert reason(error.value) == "conditionNotMet"

    stale_put = service.events().update(calendarId="primary", eventId="etag00001", body=body())
    stale_put.headers["If-Match"] = etag
    with pytest.raises(HttpError) as put_error:
        stale_put.execute()
    assert put_error.value.resp.status == 412
    assert fake.events()["etag00001"]["summary"] == "Moved"

    fresh_put = service.events().update(
        calendarId="primary", eventId="etag00001", body=body(hour=14)
    )
    fresh_put.headers["If-Match"] = patched["etag"]
    replaced = fresh_put.execute()
    assert "extendedProperties" not in replaced  # update replaces the whole event
    assert replaced["sequence"] == 1  # the time moved


def test_delete_twice_is_410_and_unknown_is_404(service):
    insert(service, "del000001")
    service.events().delete(calendarId="primary", eventId="del000001").execute()
    with pytest.raises(HttpError) as again:
        service.events().delete(calendarId="primary", eventId="del000001").execute()
    assert (again.value.resp.status, reason(again.value)) == (410, "deleted")
    with pytest.raises(HttpError) as patch_deleted:
        service.events().patch(calendarId="primary", eventId="del000001", body={}).execute()
    assert patch_deleted.value.resp.status == 410
    with pytest.raises(HttpError) as unknown:
        service.events().delete(calendarId="primary", eventId="nosuch0001").execute()
    assert (unknown.value.resp.status, reason(unknown.value)) == (404, "notFound")


# --- list, pagination, incremental sync --------------------------------------------------------


def full_sync(service, **params):
    """Every page of a list; returns (items, pages) where pages are the raw responses."""
    pages = []
    request = service.events().list(calendarId="primary", **params)
    while request is not None:
        response = request.execute()
        pages.append(response)
        request = service.events().list_next(request, response)
    return [item for page in pages for item in page["items"]], pages


def test_list_paginates_and_gives_sync_token_only_on_last_page(service):
    for hour in range(9, 14):
        insert(service, f"page{hour:05d}", hour=hour)
    items, pages = full_sync(service, maxResults=2)
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [item["id"] for item in items] == [f"page{h:05d}" for h in range(9, 14)]
    assert ["nextPageToken" in p for p in pages] == [True, True, False]
    assert ["nextSyncToken" in p for p in pages] == [False, False, True]
    assert pages[0]["kind"] == "calendar#events"


def test_incremental_sync_returns_changes_including_deletions(fake, service):
    for hour in (9, 10, 11):
        insert(service, f"inc{hour:05d}", hour=hour)
    _, pages = full_sync(service)
    token = pages[-1]["nextSyncToken"]

    service.events().patch(
        calendarId="primary", eventId="inc00009", body={"summary": "New"}
    ).execute()
    service.events().delete(calendarId="primary", eventId="inc00010").execute()
    insert(service, "inc00012", hour=12)
    fake.insert_event("primary", body("inc00013", hour=13))  # made in Google's own UI

    changed, pages = full_sync(service, syncToken=token, maxResults=3)
    assert [c["id"] for c in changed] == ["inc00009", "inc00010", "inc00012", "inc00013"]
    assert changed[0]["summary"] == "New"
    assert changed[1]["status"] == "cancelled"
    assert "nextSyncToken" in pages[-1] and "nextSyncToken" not in pages[0]

    unchanged, pages = full_sync(service, syncToken=pages[-1]["nextSyncToken"])
    assert unchanged == []
    assert "nextSyncToken" in pages[-1]


@pytest.mark.parametrize(
    "extra",
    [
        {"timeMin": "2030-01-01T00:00:00Z"},
        {"timeMax": "2030-01-01T00:00:00Z"},
        {"orderBy": "updated"},
        {"q": "x"},
        {"privateExtendedProperty": "a=b"},
        {"updatedMin": "2030-01-01T00:00:00Z"},
        {"iCalUID": "x@google.com"},
    ],
)
def test_sync_token_refuses_filters(service, extra):
    _, pages = full_sync(service)
    with pytest.raises(HttpError) as error:
        service.events().list(
            calendarId="primary", syncToken=pages[-1]["nextSyncToken"], **extra
        ).execute()
    assert error.value.resp.status == 400


def test_invalidated_sync_token_requires_full_sync(fake, service):
    _, pages = full_sync(service)
    token = pages[-1]["nextSyncToken"]
    fake.invalidate_sync_tokens()
    with pytest.raises(HttpError) as error:
        service.events().list(calendarId="primary", syncToken=token).execute()
    assert (error.value.resp.status, reason(error.value)) == (410, "fullSyncRequired")
    assert error.value.error_details[0]["message"] == (
        "Sync token is no longer valid, a full sync is required."
    )


def test_list_filters(service):
    insert(service, "filt00009", hour=9, extendedProperties={"private": {"bsr": "1"}})
    insert(service, "filt00012", hour=12)
    insert(service, "filt00010", hour=10, extendedProperties={"private": {"bsr": "2"}})
    insert(service, "filt00015", hour=15, day=8)
    service.events().delete(calendarId="primary", eventId="filt00012").execute()

    def ids(**params):
        return [e["id"] for e in full_sync(service, **params)[0]]

    assert ids() == ["filt00009", "filt00010", "filt00015"]
    assert ids(showDeleted=True) == ["filt00009", "filt00012", "filt00010", "filt00015"]
    assert ids(singleEvents=True, orderBy="startTime") == ["filt00009", "filt00010", "filt00015"]
    # 09:30+02:00 .. 10:30+02:00 overlaps the 09:00 and 10:00 sessions (end/start exclusive).
    assert ids(timeMin="2030-01-07T07:30:00Z", timeMax="2030-01-07T08:30:00Z") == [
        "filt00009",
        "filt00010",
    ]
    assert ids(timeMin="2030-01-07T08:00:00Z", timeMax="2030-01-07T08:00:01Z") == ["filt00010"]
    assert ids(privateExtendedProperty="bsr=2") == ["filt00010"]
    with pytest.raises(HttpError) as unordered:
        service.events().list(calendarId="primary", orderBy="startTime").execute()
    assert unordered.value.resp.status == 400
    with pytest.raises(HttpError) as naive:
        service.events().list(calendarId="primary", timeMin="2030-01-07T08:00:00").execute()
    assert naive.value.resp.status == 400


# --- watch / push ------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    """A tiny webhook receiver: records the headers of every POST."""
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/hooks/google", received
    httpd.shutdown()
    httpd.server_close()


def test_watch_notify_and_stop(fake, service, receiver):
    address, received = receiver
    channel = (
        service.events()
        .watch(
            calendarId="primary",
            body={"id": "chan-1", "type": "web_hook", "address": address, "token": "secret-tok"},
        )
        .execute()
    )
    assert channel["kind"] == "api#channel"
    assert channel["id"] == "chan-1"
    assert channel["token"] == "secret-tok"
    assert channel["resourceId"]
    assert channel["resourceUri"].endswith("/calendars/primary/events?alt=json")
    assert channel["expiration"].isdigit()
    assert fake.channels["chan-1"]["address"] == address

    assert fake.notify("chan-1", state="sync") == 200
    assert fake.notify("chan-1") == 200
    assert [h["X-Goog-Resource-State"] for h in received] == ["sync", "exists"]
    assert [h["X-Goog-Message-Number"] for h in received] == ["1", "2"]
    assert received[1]["X-Goog-Channel-ID"] == "chan-1"
    assert received[1]["X-Goog-Channel-Token"] == "secret-tok"
    assert received[1]["X-Goog-Resource-ID"] == channel["resourceId"]

    with pytest.raises(HttpError) as reused:
        service.events().watch(
            calendarId="primary", body={"id": "chan-1", "type": "web_hook", "address": address}
        ).execute()
    assert reused.value.resp.status == 400

    stop = {"id": "chan-1", "resourceId": channel["resourceId"]}
    assert service.channels().stop(body=stop).execute() == ""
    assert fake.channels["chan-1"]["stopped"] is True
    with pytest.raises(LookupError):
        fake.notify("chan-1")
    with pytest.raises(HttpError) as again:
        service.channels().stop(body=stop).execute()
    assert again.value.resp.status == 404


# --- freeBusy and calendarList -----------------------------------------------------------------


def freebusy_body(*ids, time_min="2030-01-07T00:00:00Z", time_max="2030-01-08T00:00:00Z"):
    return {"timeMin": time_min, "timeMax": time_max, "items": [{"id": i} for i in ids]}


def test_freebusy(fake, service):
    insert(service, "bsn00009", hour=9)  # 07:00-08:00Z
    insert(service, "bsn00010", hour=10)  # 08:00-09:00Z, merges with the one before
    insert(service, "free00012", hour=12, transparency="transparent")
    insert(service, "gone00014", hour=14)
    service.events().delete(calendarId="primary", eventId="gone00014").execute()
    fake.add_calendar("other@group.calendar.google.com", "Other")
    fake.insert_event("other@group.calendar.google.com", body(hour=16))

    result = (
        service.freebusy()
        .query(body=freebusy_body("primary", "other@group.calendar.google.com", "nobody@x.com"))
        .execute()
    )
    calendars = result["calendars"]
    assert calendars["primary"]["busy"] == [
        {"start": "2030-01-07T07:00:00Z", "end": "2030-01-07T09:00:00Z"}
    ]
    assert calendars["other@group.calendar.google.com"]["busy"] == [
        {"start": "2030-01-07T14:00:00Z", "end": "2030-01-07T15:00:00Z"}
    ]
    assert calendars["nobody@x.com"]["errors"][0]["reason"] == "notFound"

    with pytest.raises(HttpError) as too_long:
        service.freebusy().query(
            body=freebusy_body("primary", time_max="2030-04-08T00:00:00Z")
        ).execute()
    assert too_long.value.resp.status == 400
    with pytest.raises(HttpError) as too_many:
        service.freebusy().query(body=freebusy_body(*[f"c{i}@x.com" for i in range(51)])).execute()
    assert too_many.value.resp.status == 400


def test_calendar_list(fake, service):
    fake.add_calendar("team@group.calendar.google.com", "Team", access_role="reader")
    items = service.calendarList().list().execute()["items"]
    assert [(c["id"], c["summary"], c.get("primary"), c["accessRole"]) for c in items] == [
        ("owner@example.com", "owner@example.com", True, "owner"),
        ("team@group.calendar.google.com", "Team", None, "reader"),
    ]
    with pytest.raises(HttpError) as read_only:
        service.events().insert(calendarId="team@group.calendar.google.com", body=body()).execute()
    assert (read_only.value.resp.status, reason(read_only.value)) == (403, "requiredAccessLevel")


# --- OAuth -------------------------------------------------------------------------------------


def test_refresh_token_grants_new_access_token(fake):
    tokens = fake.issue_tokens(" ".join(SCOPES))
    creds = Credentials(
        token=None,
        refresh_token=tokens["refresh_token"],
        token_uri=fake.token_uri,
        client_id="cid",
        client_secret="secret",
        scopes=SCOPES,
    )
    creds.refresh(Request())
    assert creds.valid
    assert creds.token and creds.token != tokens["access_token"]
    assert set(creds.granted_scopes) == set(SCOPES)
    form = fake.requests[-1].body
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == tokens["refresh_token"]


def test_expired_access_token_is_refreshed_by_the_client(fake, service):
    fake.expire_access_tokens()
    assert service.events().list(calendarId="primary").execute()["items"] == []
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/calendar/v3/calendars/primary/events"),
        ("POST", "/token"),
        ("GET", "/calendar/v3/calendars/primary/events"),
    ]


def test_api_without_token_is_401_in_googles_shape(fake):
    response = requests.get(f"{fake.api_endpoint}calendars/primary/events", timeout=5)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 401
    assert error["errors"][0]["reason"] == "authError"


def test_revoked_refresh_token_is_invalid_grant(fake):
    tokens = fake.issue_tokens(" ".join(SCOPES))
    response = requests.post(fake.revoke_uri, data={"token": tokens["refresh_token"]}, timeout=5)
    assert response.status_code == 200
    creds = Credentials(
        token=None,
        refresh_token=tokens["refresh_token"],
        token_uri=fake.token_uri,
        client_id="cid",
        client_secret="secret",
    )
    with pytest.raises(google.auth.exceptions.RefreshError) as error:
        creds.refresh(Request())
    assert "invalid_grant" in str(error.value)
    assert "Token has been expired or revoked." in str(error.value)

    service = build_service(fake, tokens)  # the grant's access token died with it
    with pytest.raises(google.auth.exceptions.RefreshError):
        service.events().list(calendarId="primary").execute()
    again = requests.post(fake.revoke_uri, data={"token": tokens["refresh_token"]}, timeout=5)
    assert again.status_code == 200  # the grant is dead but the token is still known


def test_unknown_token_revocation_is_400(fake):
    response = requests.post(fake.revoke_uri, data={"token": "nope"}, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_token"


def test_insufficient_scope_is_403(fake):
    readonly = fake.issue_tokens("https://www.googleapis.com/auth/calendar.readonly")
    service = build_service(fake, readonly)
    service.events().list(calendarId="primary").execute()
    with pytest.raises(HttpError) as error:
        insert(service)
    assert (error.value.resp.status, reason(error.value)) == (403, "insufficientPermissions")


def test_authorization_code_flow_with_pkce(fake, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
    redirect_uri = "http://127.0.0.1:8000/google/callback"
    config = {
        "web": {
            "client_id": "cid",
            "client_secret": "secret",
            "auth_uri": fake.auth_uri,
            "token_uri": fake.token_uri,
        }
    }
    flow = Flow.from_client_config(config, scopes=SCOPES, redirect_uri=redirect_uri)
    url, state = flow.authorization_url(access_type="offline", prompt="consent")

    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    back = parse_qs(urlsplit(location).query)
    assert back["state"] == [state]
    asked = fake.auth_requests[0]
    assert asked["code_challenge_method"] == "S256"
    assert (asked["access_type"], asked["prompt"], asked["client_id"]) == (
        "offline",
        "consent",
        "cid",
    )

    flow.fetch_token(code=back["code"][0])
    creds = flow.credentials
    assert creds.token and creds.refresh_token
    assert fake.requests[-1].body["code_verifier"] == flow.code_verifier
    service = build(
        "calendar",
        "v3",
        credentials=creds,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": fake.api_endpoint},
    )
    assert service.calendarList().list().execute()["items"][0]["primary"] is True


def test_authorization_denied_redirects_with_error(fake):
    fake.deny_next_authorization()
    url = f"{fake.auth_uri}?client_id=cid&redirect_uri=http://127.0.0.1/cb&response_type=code&scope=x&state=s1"
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.headers["Location"] == "http://127.0.0.1/cb?error=access_denied&state=s1"


def test_token_endpoint_checks_pkce_and_single_use(fake):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    code = fake.issue_code(redirect_uri="http://127.0.0.1/cb", code_challenge=challenge.decode())
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://127.0.0.1/cb",
        "client_id": "cid",
        "client_secret": "secret",
    }

    def post(**extra):
        return requests.post(fake.token_uri, data={**form, **extra}, timeout=5)

    missing = post()
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_grant")
    wrong = post(code_verifier="w" * 50)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    right = post(code_verifier=verifier)
    assert right.status_code == 200
    assert set(right.json()) == {
        "access_token",
        "refresh_token",
        "expires_in",
        "token_type",
        "scope",
    }
    assert right.json()["expires_in"] == 3600
    reused = post(code_verifier=verifier)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


# --- fault injection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fault_reason"),
    [
        (500, "backendError"),
        (503, "backendError"),
        (429, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
    ],
)
def test_transient_error_then_success_with_client_retries(fake, service, status, fault_reason):
    fake.fail_next(status=status, reason=fault_reason)
    request = no_backoff(service.events().list(calendarId="primary"))
    assert request.execute(num_retries=2)["items"] == []
    assert [r.method for r in fake.requests] == ["GET", "GET"]


def test_injected_error_without_retries_reaches_the_caller(fake, service):
    fake.fail_next(method="POST", path_contains="/events", status=500, count=2)
    service.events().list(calendarId="primary").execute()  # a GET: not matched
    for _ in range(2):
        with pytest.raises(HttpError) as error:
            insert(service, "fail00001")
        assert (error.value.resp.status, reason(error.value)) == (500, "backendError")
    insert(service, "fail00001")


def test_drop_after_write_loses_the_answer_not_the_write(fake, service):
    fake.drop_after_write_next()
    with pytest.raises(ConnectionError):
        insert(service, "drop00001")
    assert fake.events()["drop00001"]["status"] == "confirmed"
    with pytest.raises(HttpError) as retried:  # the caller's retry then meets its own write
        insert(service, "drop00001")
    assert retried.value.resp.status == 409


def test_graceful_drop_makes_httplib2_resend_the_write(fake, service):
    fake.drop_after_write_next(graceful=True)
    with pytest.raises(HttpError) as error:
        insert(service, "drop00002")
    assert error.value.resp.status == 409  # httplib2 re-sent the POST by itself
    assert [r.method for r in fake.requests] == ["POST", "POST"]
    assert "drop00002" in fake.events()


def test_delay_makes_the_client_time_out_after_the_write(fake):
    service = fake.service(fake.credentials(SCOPES), timeout=0.5)
    fake.delay_next(1.5, method="POST", after_processing=True)
    with pytest.raises(TimeoutError):
        insert(service, "sl0000001")
    assert "sl0000001" in fake.events()


def test_fault_on_the_token_endpoint(fake):
    tokens = fake.issue_tokens()
    fake.fail_next(path_contains="/token", status=400, reason="invalid_grant")
    creds = Credentials(
        token=None,
        refresh_token=tokens["refresh_token"],
        token_uri=fake.token_uri,
        client_id="cid",
        client_secret="secret",
    )
    with pytest.raises(google.auth.exceptions.RefreshError):
        creds.refresh(Request())
    creds.refresh(Request())
    assert creds.valid
