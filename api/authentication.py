"""Authentication for endpoints that anyone may call but that know their practitioner.

Booking is public: a client with a stale session cookie (and no CSRF token) or a broken
Authorization header must still book, as anyone. These classes therefore never refuse a
request; credentials that do not hold (a bad token, a session without its CSRF token)
simply leave it anonymous, so a forged cross-site request gains nothing.
"""

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied


class OptionalTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            return None


class OptionalSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except PermissionDenied:  # the CSRF check failed
            return None
