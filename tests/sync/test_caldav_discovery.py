"""CalDAV discovery with the project's own client: the well-known redirect, the principal,
its calendar-home-set, the listing. Radicale for the real server (behind the fault proxy,
which shows each request), and tests/fakes/caldav_entry.py for the iCloud shape Radicale
cannot show (a root that is no DAV resource, a 302, a home on another host)."""

import random

import pytest

from sync.caldav.client import AuthRefused, Dav, DavError
from sync.caldav.discovery import NOT_FOUND, account_discover, redirect_target
from tests.fakes.caldav_entry import CONTEXT, PRINCIPAL, EntryServer
from tests.fakes.caldav_server import FaultProxy, RadicaleServer


@pytest.fixture(scope="module")
def radicale():
    server = RadicaleServer()
    user, password = f"disc-{random.randrange(10**6)}", "app-pw-disc"
    server.add_user(user, password)
    server.make_calendar("work", "Werk", user)
    server.make_calendar("private", "Privé", user)
    server.account = (user, password)
    yield server
    server.stop()


@pytest.fixture
def proxy(radicale, settings):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.ICS_TIMEOUT_SECONDS = 10
    server = FaultProxy(radicale.url)
    yield server
    server.close()


@pytest.fixture
def entry(radicale, proxy):
    user, password = radicale.account
    server = EntryServer(username=user, password=password, home_url=f"{proxy.url}/{user}/")
    yield server
    server.close()


def discover(url, user, password):
    with Dav(username=user, password=password) as dav:
        return account_discover(url=url, dav=dav)


def calendars(found):
    return sorted(c.name for c in found.calendars)


def walk(proxy):
    return [(method, path) for method, path, _what in proxy.requests]


# --- Radicale --------------------------------------------------------------------------


def test_root_walks_principal_then_home_then_lists(radicale, proxy):
    user, password = radicale.account
    found = discover(proxy.url + "/", user, password)
    assert found.home_url == f"{proxy.url}/{user}/"
    assert calendars(found) == ["Privé", "Werk"]
    # current-user-principal on the root, calendar-home-set on the principal, the listing.
    assert walk(proxy) == [("PROPFIND", "/"), ("PROPFIND", f"/{user}/"), ("PROPFIND", f"/{user}/")]


def test_well_known_redirect_is_repeated_as_the_same_propfind(radicale, proxy):
    """Radicale answers /.well-known/caldav with a 301; requests would send the PROPFIND
    on without its body, so the principal would be missing."""
    user, password = radicale.account
    found = discover(proxy.url + "/.well-known/caldav", user, password)
    assert calendars(found) == ["Privé", "Werk"]
    assert walk(proxy)[:2] == [("PROPFIND", "/.well-known/caldav"), ("PROPFIND", "/")]
    assert all(method == "PROPFIND" for method, _path in walk(proxy))


def test_a_wrong_password_is_refused_not_reported_as_no_calendars(radicale, proxy):
    user, _password = radicale.account
    with pytest.raises(AuthRefused):
        discover(proxy.url + "/", user, "wrong")


def test_an_address_without_calendars_is_no_calendars(radicale, proxy):
    user, password = radicale.account
    with pytest.raises(DavError) as failed:
        discover(proxy.url + "/.well-known/carddav/elsewhere", user, password)
    assert str(failed.value) == NOT_FOUND


# --- the iCloud shape (fake front door, Radicale as the other host) ----------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_well_known_redirect_to_a_context_path_then_a_home_on_another_host(
    radicale, proxy, entry, status
):
    user, password = radicale.account
    entry.redirect_status = status
    found = discover(entry.url + "/.well-known/caldav", user, password)
    assert found.home_url == f"{proxy.url}/{user}/"  # the other host
    assert calendars(found) == ["Privé", "Werk"]
    assert [(m, p) for m, p, _auth, _body in entry.seen] == [
        ("PROPFIND", "/.well-known/caldav"),
        ("PROPFIND", CONTEXT),  # repeated as a PROPFIND even after a 302, body and all
        ("PROPFIND", PRINCIPAL),
    ]
    assert all(auth and b"<D:prop>" in body for _m, _p, auth, body in entry.seen)
    assert walk(proxy) == [("PROPFIND", f"/{user}/")]  # only the listing on the home's host


def test_a_bare_server_address_is_asked_again_at_its_well_known_address(radicale, entry):
    user, password = radicale.account
    entry.redirect_status = 302
    for typed in (entry.url, entry.url + "/"):
        entry.seen.clear()
        assert calendars(discover(typed, user, password)) == ["Privé", "Werk"]
        assert [(m, p) for m, p, _a, _b in entry.seen][:2] == [
            ("PROPFIND", "/"),  # a web root: 405
            ("PROPFIND", "/.well-known/caldav"),
        ]


def test_well_known_redirect_to_another_host(radicale, proxy, entry):
    user, password = radicale.account
    entry.redirect_status = 301
    entry.redirect_to = proxy.url + "/"
    found = discover(entry.url + "/.well-known/caldav", user, password)
    assert found.home_url == f"{proxy.url}/{user}/"
    assert calendars(found) == ["Privé", "Werk"]
    assert walk(proxy)[0] == ("PROPFIND", "/")


def test_a_redirect_loop_ends_after_the_allowed_hops_and_says_so(radicale, entry, settings):
    user, password = radicale.account
    settings.ICS_MAX_REDIRECTS = 3
    entry.redirect_to = "/.well-known/caldav"
    with pytest.raises(DavError) as failed:
        discover(entry.url + "/.well-known/caldav", user, password)
    assert str(failed.value) == "The calendar server sent too many redirects."
    assert len(entry.seen) == 4  # the first request and three hops, no more


def test_a_redirect_from_https_down_to_http_is_refused():
    assert redirect_target("https://dav.example/a/", "/b/") == "https://dav.example/b/"
    assert redirect_target("http://dav.example/a/", "https://dav.example/b/").startswith("https")
    with pytest.raises(DavError, match="without https"):
        redirect_target("https://dav.example/.well-known/caldav", "http://dav.example/")
