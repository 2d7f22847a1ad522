"""Per-address limits for the public API; THROTTLE_ENABLED=0 turns them off.

Counted as the booking page counts (web/limits.py): per IPv4 address or IPv6
/64, under the same cache keys and with the same atomic step, so page and API share one
limit per scope and parallel requests cannot pass it together.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from web.limits import cache_key, client_network, limit_take


class PublicThrottle(SimpleRateThrottle):
    """Counts requests per client network and scope; rates come from PUBLIC_THROTTLE_RATES."""

    def get_rate(self):
        return settings.PUBLIC_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.THROTTLE_ENABLED:
            return True
        # Not DRF's own read-then-write of the history: one atomic step, shared with the page.
        allowed, self._wait = limit_take(self.scope, self.get_ident(request))
        return allowed

    def wait(self):
        return self._wait

    def get_ident(self, request):
        # DRF's ident honours NUM_PROXIES (X-Forwarded-For) and falls back to REMOTE_ADDR.
        return client_network(super().get_ident(request))

    def get_cache_key(self, request, view):
        return cache_key(self.scope, self.get_ident(request))


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
