"""Per-address limits for the public endpoints and pages; THROTTLE_ENABLED=0 turns them off.

An IPv4 client is counted by its address; an IPv6 client by its /64, the smallest block a
provider hands to one line (anyone holding one address holds the other 2**64 as well).
"""

import ipaddress

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

IPV6_PREFIX = 64


def client_network(address: str) -> str:
    """The key a client address is counted under: the IPv4 address, or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class PublicThrottle(SimpleRateThrottle):
    """Counts requests per client network and scope; rates come from PUBLIC_THROTTLE_RATES."""

    def get_rate(self):
        return settings.PUBLIC_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.THROTTLE_ENABLED:
            return True
        return super().allow_request(request, view)

    def get_ident(self, request):
        # DRF's ident honours NUM_PROXIES (X-Forwarded-For) and falls back to REMOTE_ADDR.
        return client_network(super().get_ident(request))

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SlotsThrottle(PublicThrottle):
    scope = "slots"


class BookingThrottle(PublicThrottle):
    scope = "booking"


class ManageThrottle(PublicThrottle):
    scope = "manage"


class PublicReadThrottle(PublicThrottle):
    scope = "public"


class AuthThrottle(PublicThrottle):
    scope = "auth"


class QuestionThrottle(PublicThrottle):
    """The booking page's question form (per client address, proxies honoured)."""

    scope = "question"
