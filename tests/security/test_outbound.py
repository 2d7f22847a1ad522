"""Practitioner-given URLs cannot reach local services (SSRF), nor tell them apart."""

import contextlib
import ipaddress
import socket
import time
import zlib

import pytest
import requests

from sync import outbound
from sync.calendars import ics_connection_create
from sync.ics.fetch import FeedFetchError, check_address, download, normalise_feed_url
from tests import factories
from tests.memory import peak_growth
from tests.security.conftest import (
    answer_404,
    answer_calendar,
    answer_hang_up,
    answer_never,
    answer_trickled_head,
)

PUBLIC = "93.184.216.34"  # global, and not reachable from the test sandbox


def fetch_error(url) -> str:
    with pytest.raises(FeedFetchError) as caught:
        download(url)
    return str(caught.value)


# --- the address checked is the address connected to ----------------------------------


def test_backslash_before_at_never_reaches_the_host_before_it(private_refused, serve, resolver):
    """urlsplit reads calendar.example; requests connects to 127.0.0.1."""
    local = serve(answer_calendar)
    resolver.answers["calendar.example"] = [PUBLIC]
    url = f"http://127.0.0.1:{local.port}\\@calendar.example/calendar.ics"
    assert fetch_error(url) == outbound.FETCH_FAILED
    with pytest.raises(FeedFetchError):
        normalise_feed_url(url)
    assert local.connections == 0


@pytest.mark.django_db
def test_backslash_and_user_info_are_refused_when_typed(local_allowed, serve, resolver):
    local = serve(answer_calendar)
    resolver.answers["calendar.example"] = ["127.0.0.1"]
    person = factories.practitioner()
    for url in (
        f"http://127.0.0.1:{local.port}\\@calendar.example/calendar.ics",
        f"http://user:secret@127.0.0.1:{local.port}/calendar.ics",
        f"http://calendar.example@127.0.0.1:{local.port}/calendar.ics",
        f"http://127.0.0.1:{local.port}/cal\\endar.ics",
    ):
        with pytest.raises(FeedFetchError, match="not a valid address"):
            ics_connection_create(practitioner=person, url=url)
        with pytest.raises(FeedFetchError):
            download(url)
    assert local.connections == 0


def test_rebinding_name_is_resolved_once_and_pinned(private_refused, serve, resolver):
    """Public for the check, loopback for a second lookup: there is no second lookup."""
    local = serve(answer_calendar)
    resolver.answers["calendar.example"] = [PUBLIC, "127.0.0.1"]
    assert fetch_error(local.url(host="calendar.example")) == outbound.FETCH_FAILED
    assert resolver.calls["calendar.example"] == 1
    assert local.connections == 0


def test_a_name_with_one_local_address_among_public_ones_is_refused(
    private_refused, serve, resolver
):
    local = serve(answer_calendar)
    resolver.answers["calendar.example"] = [[PUBLIC, "127.0.0.1"]]
    assert fetch_error(local.url(host="calendar.example")) == outbound.FETCH_FAILED
    assert local.connections == 0


def test_pinned_connection_keeps_the_name_in_the_host_header(local_allowed, serve, resolver):
    local = serve(answer_calendar)
    resolver.answers["calendar.example"] = ["127.0.0.1"]
    fetched = download(local.url(host="calendar.example"))
    assert fetched.body.startswith(b"BEGIN:VCALENDAR")
    assert f"Host: calendar.example:{local.port}\r\n".encode() in local.heads[0]


def test_every_redirect_hop_is_checked_and_pinned(settings, serve, resolver):
    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    settings.ICS_TIMEOUT_SECONDS = 2
    target = serve(answer_calendar)
    resolver.answers["rebind.example"] = ["127.0.0.2", "127.0.0.1"]

    for location in (
        target.url(),
        f"http://127.0.0.2:{target.port}\\@x.example/",
        f"http://rebind.example:{target.port}/calendar.ics",
    ):

        def answer_redirect(server, conn, location=location):
            server.read_head(conn)
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n" % location.encode()
            )

        first = serve(answer_redirect, host="127.0.0.2")
        assert fetch_error(first.url()) == outbound.FETCH_FAILED
        assert first.connections == 1
    assert target.connections == 0


def test_a_redirect_whose_body_inflates_is_cut_at_a_small_cap(local_allowed, serve):
    """requests reads a redirect's body (to free the connection) before it follows or
    returns it, with no limit of its own: a gzip bomb there stops at 64 KB inflated."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(squeeze.compress(b" " * 1024 * 1024) for _ in range(300)) + squeeze.flush()

    def answer_redirect(server, conn):
        server.read_head(conn)
        head = (  # no Content-Length: the body runs to the close, only inflating counts
            "HTTP/1.1 302 Found\r\nLocation: /calendar.ics\r\nContent-Encoding: gzip\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            conn.sendall(head.encode() + bomb)

    first = serve(answer_redirect)
    with peak_growth() as grew:
        assert fetch_error(first.url()) == outbound.FETCH_FAILED  # a feed
    assert grew["mb"] < 50, f"a feed's redirect grew {grew['mb']:.0f} MB"
    session = outbound.pinned_session()
    with peak_growth() as grew, session, pytest.raises(outbound.OutboundError) as refused:
        session.get(first.url(), timeout=2)  # as python-caldav uses it
    assert grew["mb"] < 50, f"a session's redirect grew {grew['mb']:.0f} MB"
    assert "more than 65536 bytes" in refused.value.detail  # REDIRECT_MAX_BYTES
    assert first.connections == 2  # refused at the first hop, each time


# --- IPv6 forms that embed an IPv4 address ---------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible
        "[::7f00:1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:a9fe:a9fe]",  # mapped 169.254.169.254
        "[64:ff9b::127.0.0.1]",  # NAT64
        "[64:ff9b::a00:1]",  # NAT64 10.0.0.1
        "[64:ff9b:1::7f00:1]",  # local-use NAT64
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
    ],
)
def test_ipv6_forms_of_local_ipv4_addresses_are_refused(private_refused, host):
    with pytest.raises(FeedFetchError):
        check_address(f"http://{host}:8080/calendar.ics")
    assert fetch_error(f"http://{host}:8080/calendar.ics") == outbound.FETCH_FAILED


def test_embedded_ipv4_is_judged_as_that_address():
    loopback = outbound.Policy(
        allow_private=True, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),)
    )
    strict = outbound.Policy()
    assert outbound.address_allowed("::ffff:127.0.0.1", loopback)
    assert not outbound.address_allowed("::ffff:127.0.0.1", strict)
    assert not outbound.address_allowed("::127.0.0.1", loopback)  # deprecated: never
    assert outbound.address_allowed("64:ff9b::8.8.8.8", strict)  # NAT64 of a public address
    assert outbound.address_allowed("2002:808:808::1", strict)  # 6to4 of a public address
    assert outbound.address_allowed("::ffff:8.8.8.8", strict)
    assert outbound.address_allowed("2606:4700::1111", strict)
    assert not outbound.address_allowed("::1", strict)
    assert outbound.address_allowed("::1", outbound.Policy(allow_private=True))
    assert not outbound.address_allowed("::1", loopback)
    assert not outbound.address_allowed("fe80::1%1", strict)


# --- one wording for every failure ------------------------------------------------------


def test_refused_closed_silent_unknown_and_bad_status_read_the_same(settings, serve, resolver):
    settings.ICS_TIMEOUT_SECONDS = 1
    settings.ICS_ALLOW_PRIVATE_URLS = False
    refused = fetch_error("http://10.0.0.1/calendar.ics")
    refused_host = fetch_error("http://127.0.0.1:9/calendar.ics")

    settings.ICS_ALLOW_PRIVATE_URLS = True
    settings.ICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    closed = fetch_error(f"http://127.0.0.1:{closed_port}/calendar.ics")
    silent = fetch_error(serve(answer_never).url())
    hung_up = fetch_error(serve(answer_hang_up).url())
    missing = fetch_error(serve(answer_404).url())
    unknown = fetch_error("http://nowhere.example/calendar.ics")
    assert {refused, refused_host, closed, silent, hung_up, missing, unknown} == {
        outbound.FETCH_FAILED
    }


def test_addresses_entered_read_the_same_whether_refused_or_unknown(private_refused, resolver):
    messages = set()
    for url in ("http://10.0.0.1/c.ics", "http://127.0.0.1:22/c.ics", "http://nowhere.example/"):
        with pytest.raises(FeedFetchError) as caught:
            check_address(url)
        messages.add(str(caught.value))
    assert messages == {outbound.FETCH_FAILED}


# --- one deadline from the lookup to the last byte ---------------------------------------


def test_trickled_status_line_and_headers_are_cut_off_at_the_deadline(local_allowed, serve):
    server = serve(answer_trickled_head)
    started = time.monotonic()
    assert fetch_error(server.url()) == outbound.FETCH_FAILED
    assert time.monotonic() - started < 3.5  # the deadline is 2 s; the head takes a minute
    for _ in range(30):  # the server notices the hang-up on its next write
        if server.cut:
            break
        time.sleep(0.2)
    assert server.cut


def test_a_slow_dns_answer_counts_against_the_deadline(local_allowed, serve, resolver):
    server = serve(answer_calendar)

    def slow():
        time.sleep(4)
        return "127.0.0.1"

    resolver.answers["slow.example"] = [slow]
    started = time.monotonic()
    assert fetch_error(server.url(host="slow.example")) == outbound.FETCH_FAILED
    assert time.monotonic() - started < 3


# --- TLS stays verified against the name --------------------------------------------------


def test_https_pool_is_on_the_ip_with_sni_and_certificate_check_on_the_name():
    policy = outbound.Policy()
    adapter = outbound.PinnedAdapter(policy)
    url = "https://calendar.example/feed.ics"
    request = requests.Request("GET", url).prepare()
    target = outbound.parse_target(request.url)
    host_params, pool_kwargs = adapter.pinned_pool_key(request, True, None, target, PUBLIC)
    assert host_params == {"scheme": "https", "host": PUBLIC, "port": 443}
    assert pool_kwargs["server_hostname"] == "calendar.example"
    assert pool_kwargs["assert_hostname"] == "calendar.example"
    assert pool_kwargs["cert_reqs"] == "CERT_REQUIRED"

    adapter._pin.target, adapter._pin.address = target, PUBLIC
    pool = adapter.get_connection_with_tls_context(request, True)
    adapter.cert_verify(pool, url, True, None)
    connection = pool._new_conn()  # not connected: no network needed
    assert connection.host == PUBLIC
    assert connection.server_hostname == "calendar.example"
    assert connection.assert_hostname == "calendar.example"
    assert connection.cert_reqs == "CERT_REQUIRED" and connection.ca_certs


def test_a_request_without_a_checked_address_is_refused():
    adapter = outbound.PinnedAdapter(outbound.Policy())
    request = requests.Request("GET", "https://calendar.example/").prepare()
    with pytest.raises(outbound.OutboundError):
        adapter.get_connection_with_tls_context(request, True)
    with pytest.raises(outbound.OutboundError):
        adapter.get_connection("https://calendar.example/")


def test_pinned_session_refuses_proxies_and_ignores_the_environment(monkeypatch, private_refused):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    session = outbound.pinned_session()
    assert session.trust_env is False
    with pytest.raises(outbound.OutboundError):
        session.get("http://calendar.example/", proxies={"http": "http://127.0.0.1:3128"})


# --- the Google push hook -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["é", "tökén", "☃" * 10])
def test_webhook_with_a_non_ascii_token_is_a_404_not_a_500(token):
    from django.test import Client

    from sync.models import CalendarConnection, GoogleCalendarSync

    connection = CalendarConnection.objects.create(
        practitioner=factories.practitioner(), kind="google"
    )
    GoogleCalendarSync.objects.create(
        connection=connection, calendar_id="primary", channel_id="chan-1", channel_token="s3cret"
    )
    response = Client(raise_request_exception=False).post(
        "/sync/google/webhook/",
        headers={"X-Goog-Channel-ID": "chan-1", "X-Goog-Channel-Token": token},
    )
    assert response.status_code == 404


def _tls_server(serve, tmp_path, name: str):
    """An HTTPS server on 127.0.0.1 whose self-signed certificate is for `name` only."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    # Valid for a century: OpenSSL checks it against the system clock, which a test's own
    # clock (frozen, or moved by tests.clock_shift) does not move.
    valid = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid)
        .not_valid_after(valid.replace(year=2100))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    sni_seen = []
    context.sni_callback = lambda sock, server_name, ctx: sni_seen.append(server_name)

    def answer(server, conn):
        with context.wrap_socket(conn, server_side=True) as tls:
            answer_calendar(server, tls)

    return serve(answer), cert_file, sni_seen


def test_https_to_a_pinned_address_sends_sni_and_verifies_the_name(
    local_allowed, serve, resolver, tmp_path
):
    server, ca, sni_seen = _tls_server(serve, tmp_path, "calendar.example")
    resolver.answers["calendar.example"] = ["127.0.0.1"]
    resolver.answers["impostor.example"] = ["127.0.0.1"]
    with outbound.pinned_session() as session:
        session.verify = str(ca)
        answer = session.get(f"https://calendar.example:{server.port}/calendar.ics")
        assert answer.status_code == 200 and answer.content.startswith(b"BEGIN:VCALENDAR")
        assert sni_seen == ["calendar.example"]
        # Same IP, same trusted certificate, other name: the certificate is refused.
        with pytest.raises(outbound.OutboundError) as caught:
            session.get(f"https://impostor.example:{server.port}/calendar.ics")
        assert "SSLError" in caught.value.detail
