"""Download a subscribed calendar safely: conditional, bounded, and never to a private host."""

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from django.conf import settings


class FeedFetchError(Exception):
    """The download failed; the message is shown on the connection."""


@dataclass(frozen=True)
class Download:
    body: bytes | None  # None: not modified since the validators we sent
    etag: str
    last_modified: str


def normalise_feed_url(url: str) -> str:
    """webcal:// and webcals:// are https; anything but http(s) is refused."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a malformed port or host
    except ValueError as exc:
        raise FeedFetchError("This is not a valid address.") from exc
    scheme = parts.scheme.lower()
    if scheme in {"webcal", "webcals"}:
        scheme = "https"
    if scheme not in {"http", "https"} or not parts.hostname:
        raise FeedFetchError("Use an http://, https:// or webcal:// address.")
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def check_address(url: str) -> None:
    """Refuse hosts that resolve to private, loopback, link-local or reserved addresses."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError) as exc:
        raise FeedFetchError(f"Cannot resolve {parts.hostname!r}.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_global and not address.is_multicast:
            continue
        if not _private_allowed(address):
            raise FeedFetchError(
                f"Refused: {parts.hostname} is a private or local address ({address})."
            )


def _check_peer(response, url: str) -> None:
    sock = _socket_of(response)
    if sock is None:
        return
    try:
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    except (OSError, ValueError):
        return
    if not (peer.is_global and not peer.is_multicast) and not _private_allowed(peer):
        raise FeedFetchError(
            f"Refused: {urlsplit(url).hostname} is a private or local address ({peer})."
        )


def _socket_of(response):
    # urllib3 hands the socket to http.client's response once headers are read; reach it
    # there (private attributes, so every step may be missing).
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    return getattr(getattr(fp, "raw", None), "_sock", None)


def _private_allowed(address) -> bool:
    if not settings.ICS_ALLOW_PRIVATE_URLS:
        return False
    networks = settings.ICS_ALLOWED_NETWORKS
    return not networks or any(address in ipaddress.ip_network(n) for n in networks)


def download(url: str, *, etag: str = "", last_modified: str = "") -> Download:
    """GET the feed, following a few redirects, each checked before it is contacted."""
    headers = {"User-Agent": "bsr-scheduler/1 (calendar sync)", "Accept": "text/calendar, */*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + settings.ICS_TIMEOUT_SECONDS
    with requests.Session() as session:
        for _ in range(settings.ICS_MAX_REDIRECTS + 1):
            check_address(url)
            try:
                response = session.get(
                    url,
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=settings.ICS_TIMEOUT_SECONDS,
                )
            except requests.Timeout as exc:
                raise FeedFetchError("The calendar server did not answer in time.") from exc
            except requests.RequestException as exc:
                raise FeedFetchError(f"Download failed: {type(exc).__name__}.") from exc
            with response:
                # The name may have resolved differently for the connection than for the
                # check above (DNS rebinding): judge the address actually connected to.
                _check_peer(response, url)
                if response.is_redirect:
                    url = normalise_feed_url(urljoin(url, response.headers.get("Location", "")))
                    continue
                if response.status_code == 304:
                    return Download(None, etag, last_modified)
                if response.status_code != 200:
                    raise FeedFetchError(
                        f"The calendar server answered HTTP {response.status_code}."
                    )
                body = _read_capped(response, deadline)
                return Download(
                    body,
                    response.headers.get("ETag", "")[:512],
                    response.headers.get("Last-Modified", "")[:64],
                )
    raise FeedFetchError("Too many redirects.")


def _read_capped(response, deadline: float) -> bytes:
    limit = settings.ICS_MAX_BYTES
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FeedFetchError(f"The calendar is larger than {limit // (1024 * 1024)} MB.")
    # A server that trickles bytes never trips the per-read timeout: close the response
    # when the whole download's time is up, which ends the blocked read.
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0), _abort, args=(response,))
    watchdog.start()
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > limit:
                raise FeedFetchError(f"The calendar is larger than {limit // (1024 * 1024)} MB.")
            chunks.append(chunk)
    except FeedFetchError:
        raise
    except Exception as exc:  # what a closed or broken stream raises varies by layer
        if time.monotonic() >= deadline:
            raise FeedFetchError("The calendar server did not answer in time.") from exc
        raise FeedFetchError(f"Download failed: {type(exc).__name__}.") from exc
    finally:
        watchdog.cancel()
    if time.monotonic() >= deadline:
        raise FeedFetchError("The calendar server did not answer in time.")
    return b"".join(chunks)


def _abort(response) -> None:
    """Unblock a read in progress: shut the socket down, then close the response."""
    sock = _socket_of(response)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    response.close()
