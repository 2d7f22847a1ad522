"""The booking page's per-address limits: a sliding window in the cache, counted atomically.

The page counts exactly as the API's throttles do (api/throttling.py): the same client
address (X-Forwarded-For behind NUM_PROXIES proxies), the same key per IPv4 address or
IPv6 /64, the same rates (PUBLIC_THROTTLE_RATES) and the same cache entries, so a
booking through the page and one through the API count against one limit.

Counting is read, check, write; parallel requests must not all read the same count, or
24 questions at once pass a limit of 5. So one request's count is one atomic step: a
server-side script on Redis (the production cache), and under a lock elsewhere (a process
lock, which covers the tests' in-memory cache, plus a lock file for the file cache that
gunicorn's workers share by default).
"""

import contextlib
import ipaddress
import logging
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.core.files import locks

log = logging.getLogger(__name__)
_last_warning = [-3600.0]  # when Redis was last said to be unavailable (monotonic seconds)

IPV6_PREFIX = 64
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_network(address: str) -> str:
    """The key a client address is counted under: the IPv4 address, or the IPv6 /64 (the
    smallest block a provider hands to one line: holding one address is holding them all)."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def client_address(request) -> str:
    """The client's address: the one NUM_PROXIES trusted proxies saw, else REMOTE_ADDR."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    if forwarded and proxies:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return remote


def cache_key(scope: str, network: str) -> str:
    return f"throttle_{scope}_{network}"


def rate_of(scope: str) -> tuple[int, int]:
    """(requests, seconds) of a PUBLIC_THROTTLE_RATES entry such as "20/min"."""
    count, period = settings.PUBLIC_THROTTLE_RATES[scope].split("/")
    return int(count), PERIODS[period[0]]


def limit_reached(request, scope: str) -> bool:
    """Count this request under `scope`; True when the client is over the limit."""
    if not settings.THROTTLE_ENABLED:
        return False
    allowed, _wait = limit_take(scope, client_network(client_address(request)))
    return not allowed


def limit_take(scope: str, network: str) -> tuple[bool, float]:
    """Count one request of `network` under `scope`, atomically: (allowed, seconds until
    the oldest counted request leaves the window when it is not). A refused request is
    not counted."""
    allowed, seconds = rate_of(scope)
    key = cache_key(scope, network)
    now = time.time()
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _take_on_redis(backend, key, now, allowed, seconds)
    with _counting(backend):
        history = [t for t in backend.get(key, []) if t > now - seconds]
        if len(history) >= allowed:
            return False, max(0.0, history[-1] + seconds - now)
        backend.set(key, [now, *history], seconds)
    return True, 0.0


# One script call: drop what left the window, count, add this request when under the limit.
_SLIDING_WINDOW = """
local key, now, window, allowed = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= allowed then
  return {0, redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('EXPIRE', key, math.ceil(window))
return {1, '0'}
"""


def _take_on_redis(backend, key: str, now: float, allowed: int, seconds: int):
    from redis.exceptions import RedisError

    key = backend.make_and_validate_key(key)
    try:
        client = backend._cache.get_client(key, write=True)
        # The member only has to be unique; its score is the time.
        ok, oldest = client.eval(
            _SLIDING_WINDOW, 1, key, repr(now), seconds, allowed, f"{now!r}:{uuid.uuid4().hex}"
        )
    except RedisError as error:
        # As the cache does (config/cache.py): without Redis the limits wait, requests don't;
        # one warning a minute says so.
        if time.monotonic() - _last_warning[0] > 60:
            _last_warning[0] = time.monotonic()
            log.warning("rate limits not counted, cache unavailable: %s", type(error).__name__)
        return True, 0.0
    if int(ok):
        return True, 0.0
    return False, max(0.0, float(oldest) + seconds - now)


_process_lock = threading.Lock()


@contextlib.contextmanager
def _counting(backend):
    """Held while one request is counted: the threads of this process wait for each other,
    and with the file cache the other processes too (a lock file in the cache's folder)."""
    with _process_lock:
        if not isinstance(backend, FileBasedCache):
            yield
            return
        folder = Path(backend._dir)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "rate-limits.lock", "a+b") as handle:
            locks.lock(handle, locks.LOCK_EX)
            try:
                yield
            finally:
                locks.unlock(handle)
