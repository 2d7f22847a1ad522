"""Logins (admin, POST /api/v1/auth/token/): lockout by django-axes, then the password."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from rest_framework.throttling import BaseThrottle


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Every login over HTTP (the admin's form, the token endpoint) passes its request and is
    counted per username and address. A call without a request (the test client's
    login(), scripts) has no address to count and is left to the next backend instead of
    failing outright as axes would.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_address(request) -> str | None:
    """The client's address as the throttles count it (X-Forwarded-For behind NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


class PasswordBackend(ModelBackend):
    """Django's ModelBackend, telling a hash upgrade at login from a password change.

    When the hasher or its work factor changes, a login rewrites the stored hash of the
    same password. Changing the password revokes the API token (scheduler/tokens.py); this
    upgrade must not, or every integration would stop at the next login.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user_model().set_password(password)  # as ModelBackend: same time either way
            return None
        user._password_at_login = password
        try:
            if user.check_password(password) and self.user_can_authenticate(user):
                return user
        finally:
            del user._password_at_login
        return None
