"""The booking page's per-address limits: a small sliding window in the cache.

The page counts exactly as the API's throttles do (api/throttling.py): the same client
address (X-Forwarded-For behind NUM_PROXIES proxies), the same key per IPv4 address or
IPv6 /64, the same rates (PUBLIC_THROTTLE_RATES) and the same cache entries, so a
booking through the page and one through the API count against one limit.
"""

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache

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
    allowed, seconds = rate_of(scope)
    key = cache_key(scope, client_network(client_address(request)))
    now = time.time()
    history = [t for t in cache.get(key, []) if t > now - seconds]
    if len(history) >= allowed:
        return True
    cache.set(key, [now, *history], seconds)
    return False
