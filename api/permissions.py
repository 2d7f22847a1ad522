from rest_framework.permissions import AllowAny, IsAuthenticated

from api.throttling import BookingThrottle


class IsPractitioner(IsAuthenticated):
    """A logged-in user with a practitioner profile; the views scope data to it."""

    message = "This account is not a practitioner."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and hasattr(request.user, "practitioner")


class PublicPostMixin:
    """A list endpoint whose POST is public (a client's request, throttled per address like
    bookings) and whose other methods are the practitioner's own.

    A public POST ignores a stale session cookie (no CSRF token demanded); a view that
    wants to know a practitioner who happens to be logged in names the authenticators
    that may tell it in `public_post_authenticators`."""

    def public_post_authenticators(self) -> list:
        return []

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsPractitioner()]

    def get_throttles(self):
        return [BookingThrottle()] if self.request.method == "POST" else []

    def get_authenticators(self):
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST":
            return self.public_post_authenticators()
        return super().get_authenticators()
