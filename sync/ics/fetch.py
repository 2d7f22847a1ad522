"""Download a subscribed calendar safely: conditional, bounded, and never to a private host.

The protection itself (address checks, pinning, one deadline, one error message) is
sync.outbound, shared with every other URL a practitioner can give.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from sync import outbound

log = logging.getLogger(__name__)


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
        raise FeedFetchError(outbound.INVALID_URL) from exc
    scheme = parts.scheme.lower()
    if scheme in {"webcal", "webcals"}:
        scheme = "https"
    if scheme not in {"http", "https"} or not parts.hostname:
        raise FeedFetchError("Use an http://, https:// or webcal:// address.")
    normal = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    try:
        outbound.parse_target(normal)  # backslashes, user info: refused as they are typed
    except outbound.OutboundError as exc:
        raise FeedFetchError(str(exc)) from exc
    return normal


def check_address(url: str) -> None:
    """Refuse hosts that resolve to private, loopback, link-local or reserved addresses."""
    try:
        outbound.check_url(url)
    except outbound.OutboundError as exc:
        raise FeedFetchError(str(exc)) from exc


def download(url: str, *, etag: str = "", last_modified: str = "") -> Download:
    """GET the feed, following a few redirects, each checked and pinned before it is contacted."""
    headers = {"Accept": "text/calendar, */*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        fetched = outbound.safe_get(url, headers=headers)
    except outbound.OutboundError as exc:
        raise FeedFetchError(outbound.FETCH_FAILED) from exc
    if fetched.status_code == 304:
        return Download(None, etag, last_modified)
    if fetched.status_code != 200:
        log.warning(
            "calendar download from %s answered HTTP %s",
            urlsplit(fetched.url).hostname,
            fetched.status_code,
        )
        raise FeedFetchError(outbound.FETCH_FAILED)
    return Download(
        fetched.content,
        fetched.headers.get("ETag", "")[:512],
        fetched.headers.get("Last-Modified", "")[:64],
    )
