"""Per-address limits for the public endpoints and pages; THROTTLE_ENABLED=0 turns them off."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class PublicThrottle(SimpleRateThrottle):
    """Counts requests per client address and scope; rates come from PUBLIC_THROTTLE_RATES."""

    def get_rate(self):
        return settings.PUBLIC_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if not settings.THROTTLE_ENABLED:
            return True
        return super().allow_request(request, view)

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
