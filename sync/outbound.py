"""Outbound HTTP to an address a practitioner typed in (calendar feeds and CalDAV servers).

One piece, so every such request gets the same protection against server-side request
forgery:

* The URL is parsed with urllib3's parser, the one requests itself uses, and refused when
  it holds a backslash, user info, whitespace or control characters, or a scheme other
  than http(s) (`parse_target`).
* The host is resolved once and every address it resolves to is judged
  (`address_allowed`): loopback, private, link-local, reserved and multicast are refused
  unless ICS_ALLOW_PRIVATE_URLS (narrowed by ICS_ALLOWED_NETWORKS) allows them; IPv6 forms
  that embed an IPv4 address (::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are
  judged by that IPv4 address; IPv4-compatible ::a.b.c.d and local NAT64 64:ff9b:1::/48
  are refused outright.
* The connection goes to exactly the address that was judged (`PinnedAdapter`): the
  urllib3 pool is opened on the IP while the Host header, TLS SNI and the certificate
  check keep the name. No second lookup, so DNS rebinding has nothing to rebind.
* Redirects are followed hop by hop, each through the same check and pinning.
* One deadline covers DNS, connect, TLS, headers and body (`deadline`): when it passes,
  the sockets in use are shut down, so a server trickling its headers cannot hold a
  worker.
* No body is read beyond a byte cap, counted after decompression (a gzip bomb inflates
  64 KB at a time, so it is stopped at the cap): the caller's own streamed reads use
  `read_capped`, and whatever requests itself would read whole (a redirect's body, an
  answer asked for without stream=True) is read capped by a hook on every hop.
* Every refusal or failure raises `OutboundError`, whose message is one sentence whatever
  went wrong (the reason is logged on the server only), so the error is no port scanner.

Use `safe_get`/`safe_request` for a bounded, buffered request, or `pinned_session()` for
a requests.Session (CalDAV: PROPFIND/REPORT with auth) that carries the same protection.
"""

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError
from urllib3.util import parse_url

log = logging.getLogger(__name__)

FETCH_FAILED = "The calendar could not be fetched."
INVALID_URL = "This is not a valid address."
USER_AGENT = "bsr-scheduler/1 (calendar sync)"


class OutboundError(requests.RequestException):
    """Refused or failed. str() is the public message; `detail` is for the server log."""

    def __init__(self, detail: str, public: str = FETCH_FAILED):
        super().__init__(public)
        self.detail = detail
        self.public = public

    def __str__(self) -> str:
        return self.public


class TooLarge(OutboundError):
    """The answer is larger than the byte cap (counted after decompression)."""

    def __init__(self, detail: str, cap: int):
        super().__init__(detail)
        self.cap = cap


class CutOff(OutboundError):
    """The answer stopped before its end, before the deadline: the server hung up."""


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False
    allowed_networks: tuple = ()  # of ip_network; empty: every private network
    timeout: float = 20.0  # seconds, from the DNS lookup to the last byte
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5

    @classmethod
    def from_settings(cls) -> "Policy":
        """The ICS_* settings, read now (they hold for every practitioner-given URL)."""
        return cls(
            allow_private=bool(settings.ICS_ALLOW_PRIVATE_URLS),
            allowed_networks=tuple(
                ipaddress.ip_network(str(n).strip(), strict=False)
                for n in settings.ICS_ALLOWED_NETWORKS
                if str(n).strip()
            ),
            timeout=float(settings.ICS_TIMEOUT_SECONDS),
            max_bytes=int(settings.ICS_MAX_BYTES),
            max_redirects=int(settings.ICS_MAX_REDIRECTS),
        )


# --- URLs and addresses ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scheme: str  # http or https
    hostname: str  # lower case, IDNA, no brackets: what TLS verifies
    port: int
    host_header: str  # as sent in Host: brackets for IPv6, port unless the default


_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_target(url: str) -> Target:
    """Parse `url` as requests will; refuse anything a second parser could read otherwise."""
    if not isinstance(url, str) or not url:
        raise OutboundError("no URL", INVALID_URL)
    if "\\" in url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise OutboundError("backslash, space or control character in URL", INVALID_URL)
    try:
        parts = parse_url(url)
        split = urlsplit(url)
        split.port  # noqa: B018 - raises ValueError for a malformed port
    except (LocationParseError, ValueError) as exc:
        raise OutboundError(f"unparsable URL ({type(exc).__name__})", INVALID_URL) from exc
    scheme = (parts.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS:
        raise OutboundError(f"scheme {scheme!r} refused", INVALID_URL)
    if parts.auth is not None or "@" in (split.netloc or ""):
        raise OutboundError("user info in URL", INVALID_URL)
    host = (parts.host or "").strip("[]").lower()
    if not host:
        raise OutboundError("no host in URL", INVALID_URL)
    # The standard library's reading must agree, or some other layer may see another host.
    other = (split.hostname or "").lower()
    if other != host and _idna(other) != host:
        raise OutboundError(f"parsers disagree on the host ({host!r}/{other!r})", INVALID_URL)
    port = parts.port or _DEFAULT_PORTS[scheme]
    shown = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != _DEFAULT_PORTS[scheme]:
        shown = f"{shown}:{parts.port}"
    return Target(scheme=scheme, hostname=host, port=port, host_header=shown)


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def address_allowed(address, policy: Policy | None = None) -> bool:
    """May we connect to this IP address? Accepts a string or an ipaddress object."""
    policy = policy or Policy.from_settings()
    if isinstance(address, str):
        try:
            address = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
    if address.version == 6:
        if address in _NAT64_LOCAL:
            return False  # the IPv4 address may sit anywhere in it: not worth guessing
        if address in _COMPATIBLE and int(address) > 1:  # :: and ::1 are judged as they are
            return False
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return address_allowed(inner, policy)
    if address.is_global and not address.is_multicast:
        return True
    if not policy.allow_private:
        return False
    networks = policy.allowed_networks
    return not networks or any(address in network for network in networks)


def resolve(target: Target, policy: Policy, timeout: float) -> list[str]:
    """The addresses the host resolves to, once, each judged; refuses if any is refused."""
    found: list = []

    def lookup():
        try:
            found.append(
                socket.getaddrinfo(
                    target.hostname, target.port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP
                )
            )
        except Exception as exc:  # handed to the caller's thread
            found.append(exc)

    # In a thread of its own so the lookup, too, keeps to the deadline.
    worker = threading.Thread(target=lookup, name="outbound-dns", daemon=True)
    worker.start()
    worker.join(max(timeout, 0))
    if not found:
        raise OutboundError(f"{target.hostname}: DNS lookup took too long")
    if isinstance(found[0], Exception):
        exc = found[0]
        raise OutboundError(f"{target.hostname}: cannot resolve ({exc})") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in found[0]))
    if not addresses:
        raise OutboundError(f"{target.hostname}: no address")
    for address in addresses:
        if not address_allowed(address, policy):
            raise OutboundError(f"{target.hostname}: address {address} refused")
    return addresses


def check_url(url: str, policy: Policy | None = None) -> Target:
    """Parse and resolve without connecting: for validating an address when it is entered."""
    policy = policy or Policy.from_settings()
    target = parse_target(url)
    try:
        resolve(target, policy, policy.timeout)
    except OutboundError as exc:
        log.info("outbound address refused: %s", exc.detail)
        raise
    return target


# --- one deadline for the whole exchange ---------------------------------------------------

_local = threading.local()


class Deadline:
    """A time limit; when it passes, every socket handed to `watch` is shut down."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._timer = threading.Timer(max(seconds, 0), self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if self.expired or left <= 0:
            raise OutboundError("deadline passed")
        return left

    def watch(self, sock) -> None:
        # A duplicate descriptor of the same socket: shutting it down ends reads blocked on
        # the original, even under TLS, and it cannot be closed and reused under us.
        try:
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError, AttributeError):
            return
        with self._lock:
            if not self.expired:
                self._watched.append(dup)
                return
        _shut(dup)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            watched, self._watched = self._watched, []
        for dup in watched:
            _shut(dup)

    def start(self) -> None:
        self._timer.start()

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            watched, self._watched = self._watched, []
        for dup in watched:
            dup.close()


def _shut(sock) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Everything outbound in this block, on this thread, ends within `seconds`.

    Nested blocks share the outermost deadline.
    """
    current = getattr(_local, "deadline", None)
    if current is not None:
        yield current
        return
    current = Deadline(seconds)
    _local.deadline = current
    current.start()
    try:
        yield current
    finally:
        _local.deadline = None
        current.close()


def _watch(sock) -> None:
    current = getattr(_local, "deadline", None)
    if current is not None and sock is not None:
        current.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)  # before TLS, so a trickled handshake is cut off too
        return sock

    def request(self, *args, **kwargs):
        _watch(self.sock)  # a kept-alive connection, under this request's deadline
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args, **kwargs):
        _watch(self.sock)
        return super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# --- the transport adapter -------------------------------------------------------------------


class PinnedAdapter(HTTPAdapter):
    """Connects to the address that was checked, never to a second lookup of the name."""

    def __init__(self, policy: Policy | None = None, **kwargs):
        self.policy = policy or Policy.from_settings()
        self._pin = threading.local()
        kwargs.setdefault("max_retries", 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if proxies and select_proxy(request.url, proxies):
            raise OutboundError("a proxy would connect for us: refused")
        target = parse_target(request.url)
        with deadline(self.policy.timeout) as limit:
            addresses = resolve(target, self.policy, limit.remaining())
            request.headers["Host"] = target.host_header
            failure = None
            for address in addresses:
                self._pin.target, self._pin.address = target, address
                try:
                    return super().send(
                        request,
                        stream=stream,
                        timeout=_within(timeout, limit.remaining()),
                        verify=verify,
                        cert=cert,
                        proxies=None,
                    )
                except requests.ConnectionError as exc:
                    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
                    if not isinstance(reason, ConnectTimeoutError):
                        raise  # only a failed connect is worth trying the next address
                    failure = exc
                finally:
                    self._pin.target = self._pin.address = None
            raise failure

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        target = getattr(self._pin, "target", None)
        address = getattr(self._pin, "address", None)
        if target is None or address is None:
            raise OutboundError("no checked address for this request")
        host_params, pool_kwargs = self.pinned_pool_key(request, verify, cert, target, address)
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def pinned_pool_key(self, request, verify, cert, target: Target, address: str):
        """Pool for the checked IP; TLS (SNI and the certificate) still for the name."""
        _, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params = {"scheme": target.scheme, "host": address, "port": target.port}
        if target.scheme == "https":
            pool_kwargs["server_hostname"] = target.hostname
            pool_kwargs["assert_hostname"] = target.hostname
        return host_params, pool_kwargs

    def get_connection(self, url, proxies=None):  # the pre-2.32 entry point: never unchecked
        raise OutboundError("unpinned connection refused")


def _within(timeout, left: float):
    """A per-read timeout no longer than what is left of the deadline."""
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(t, left) for t in timeout)
    if isinstance(timeout, int | float):
        return min(timeout, left)
    return left


class PinnedSession(requests.Session):
    """A requests.Session whose every request (and redirect hop) is checked and pinned.

    Errors of any kind come out as OutboundError. With stream=False the body is read
    within the deadline; with stream=True wrap the reading in `deadline(...)` as well.
    """

    def __init__(self, policy: Policy | None = None):
        super().__init__()
        self.policy = policy or Policy.from_settings()
        self.trust_env = False  # no proxies or .netrc from the environment
        self.max_redirects = self.policy.max_redirects
        self.headers["User-Agent"] = USER_AGENT
        self.hooks["response"].append(self._bounded)
        adapter = PinnedAdapter(self.policy)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def _bounded(self, response, *, stream=False, **_kwargs):
        """Response hook, on every hop: read now, capped, what requests would read whole.

        requests reads a redirect's body before following it (and before handing it back
        with allow_redirects=False), and the whole answer of a request made without
        stream=True, all without any limit. A library given this session (python-caldav)
        makes such requests. Streamed answers are left to the caller (`read_capped`)."""
        if response.is_redirect:
            cap = REDIRECT_MAX_BYTES
        elif stream:
            return response
        else:
            cap = self.policy.max_bytes
        response._content = read_capped(response, cap, getattr(_local, "deadline", None))
        response._content_consumed = True
        return response

    def request(self, method, url, *args, **kwargs):
        parse_target(url)  # as typed: requests would quietly re-quote a backslash
        return super().request(method, url, *args, **kwargs)

    def send(self, request, **kwargs):
        with deadline(self.policy.timeout) as limit:
            kwargs["timeout"] = _within(kwargs.get("timeout"), limit.remaining())
            try:
                return super().send(request, **kwargs)
            except OutboundError:
                raise
            except Exception as exc:
                raise OutboundError(_describe(exc, limit, request.url)) from exc


def pinned_session(policy: Policy | None = None) -> PinnedSession:
    return PinnedSession(policy)


def _describe(exc: BaseException, limit: Deadline | None, url: str) -> str:
    """Why, for the log: exception types and OS error text; never the path or query."""
    names, seen = [], exc
    while seen is not None and len(names) < 8:
        names.append(type(seen).__name__)
        if isinstance(seen, OSError) and seen.strerror:
            names.append(seen.strerror)
        reason = getattr(seen, "reason", None)
        if not isinstance(reason, BaseException):
            reason = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = reason or seen.__cause__ or seen.__context__
    host = urlsplit(url).hostname if isinstance(url, str) else "?"
    late = "deadline passed; " if limit is not None and limit.expired else ""
    return f"{host}: {late}{' < '.join(names)}"


# A redirect's body is read only to free the connection; real servers send a line of HTML.
REDIRECT_MAX_BYTES = 64 * 1024


# --- a whole bounded request ---------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    status_code: int
    headers: CaseInsensitiveDict
    content: bytes  # read for 2xx answers only
    url: str  # after redirects


def safe_request(
    method: str,
    url: str,
    *,
    headers: dict | None = None,
    data=None,
    auth=None,
    policy: Policy | None = None,
    max_bytes: int | None = None,
) -> Fetched:
    """One request, redirects followed (each hop checked and pinned), the body capped,
    all within the policy's deadline. Raises OutboundError for anything that goes wrong."""
    policy = policy or Policy.from_settings()
    limit_bytes = policy.max_bytes if max_bytes is None else max_bytes
    try:
        with deadline(policy.timeout) as limit, pinned_session(policy) as session:
            for _hop in range(policy.max_redirects + 1):
                response = session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    auth=auth,
                    stream=True,
                    allow_redirects=False,
                    timeout=limit.remaining(),
                )
                with response:
                    if response.is_redirect:
                        following = urljoin(url, response.headers["Location"])
                        if _origin(following) != _origin(url):
                            auth = None  # credentials stay with the server they were for
                        code = response.status_code
                        if code == 303 or (code in (301, 302) and method.upper() == "POST"):
                            method, data = "GET", None
                        url = following
                        continue
                    content = b""
                    if 200 <= response.status_code < 300:
                        content = read_capped(response, limit_bytes, limit)
                    return Fetched(response.status_code, response.headers, content, url)
            raise OutboundError(f"{urlsplit(url).hostname}: too many redirects")
    except OutboundError as exc:
        log.warning("outbound %s refused or failed: %s", method, exc.detail)
        raise
    except Exception as exc:  # preparing the request, or anything unforeseen
        failure = OutboundError(_describe(exc, None, url))
        log.warning("outbound %s refused or failed: %s", method, failure.detail)
        raise failure from exc


def safe_get(url: str, *, headers: dict | None = None, policy: Policy | None = None, **kwargs):
    return safe_request("GET", url, headers=headers, policy=policy, **kwargs)


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.hostname, parts.port)


def read_capped(response, limit_bytes: int, limit: Deadline | None) -> bytes:
    """The body, decompressed, at most `limit_bytes` of it (TooLarge past that).

    iter_content asks urllib3 for 64 KB at a time and urllib3 inflates no more than it was
    asked for, so a gzip bomb never holds more than the cap and one chunk in memory. A
    stream that breaks off is CutOff, unless the deadline cut it (then a plain failure)."""
    host = urlsplit(response.url or "").hostname
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise TooLarge(f"{host}: declares {declared} bytes, over {limit_bytes}", limit_bytes)
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > limit_bytes:
                raise TooLarge(f"{host}: more than {limit_bytes} bytes", limit_bytes)
            chunks.append(chunk)
    except OutboundError:
        raise
    except Exception as exc:  # what a cut or broken stream raises varies by layer
        if limit is not None and limit.expired:
            raise OutboundError(_describe(exc, limit, response.url)) from exc
        raise CutOff(_describe(exc, limit, response.url)) from exc
    if limit is not None:
        limit.remaining()  # raises if the last bytes came too late
    return b"".join(chunks)
