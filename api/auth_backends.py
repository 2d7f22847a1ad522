"""Logins (admin, workspace, POST /api/v1/auth/token/): lockout by django-axes, then the
password.

Two locks, both for AXES_COOLOFF_MINUTES after the last failure:
- per username and address: AXES_FAILURE_LIMIT failures of one username from one address
  (an IPv4 address, or an IPv6 /64 as the rate limits count it) refuse that pair;
- per account: AXES_ACCOUNT_FAILURE_LIMIT failures of one username from any addresses
  refuse every login to it, right password or not, so guessing from many addresses (26 in
  127.0.0.x) stops too. An address counts at most AXES_FAILURE_LIMIT towards it: what it
  sends once locked is refused unchecked (no guess), so one address alone cannot lock the
  practitioner out everywhere. The account's owner gets one e-mail per lock, through the
  outbox.
"""

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.db.models import Sum, Value
from django.db.models.functions import Least
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from scheduler.practice import account_lock
from sync.mail import login_locked_queue
from web.limits import client_network


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Every login over HTTP (the admin's form, the token endpoint) passes its request and is
    counted per username and address, and per account. A call without a request (the
    test client's login(), scripts) has no address to count and is left to the next
    backend instead of failing outright as axes would.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_address(request) -> str | None:
    """The client's address as the throttles count it (X-Forwarded-For behind NUM_PROXIES):
    an IPv4 address, or for IPv6 the first address of its /64, which stands for all of it
    (one line holds the whole /64, so 26 of its addresses are one address here)."""
    ident = BaseThrottle().get_ident(request)
    if ident is None:
        return None
    return client_network(ident).split("/", 1)[0]


class LoginLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with the per-account lock added (AXES_HANDLER)."""

    def get_failures(self, request, credentials=None) -> int:
        # Axes refuses when this reaches AXES_FAILURE_LIMIT; a locked account reaches it
        # from every address.
        failures = super().get_failures(request, credentials)
        limit = settings.AXES_ACCOUNT_FAILURE_LIMIT
        if limit > 0 and self.account_failures(request, credentials) >= limit:
            return max(failures, get_failure_limit(request, credentials))
        return failures

    def account_failures(self, request, credentials=None) -> int:
        """Failed logins of this username within the cool-off, from any address, each
        address counting at most AXES_FAILURE_LIMIT (beyond it, its attempts were refused
        without a password check)."""
        per_address = Least("failures_since_start", Value(get_failure_limit(request, credentials)))
        return self._account_attempts(request, credentials).aggregate(n=Sum(per_address))["n"] or 0

    def _account_attempts(self, request, credentials=None):
        username = get_client_username(request, credentials)
        attempts = AccessAttempt.objects.filter(username=username)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        return attempts

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        user = _account(get_client_username(request, credentials)) if request else None
        if user is None:
            return super().user_login_failed(sender, credentials, request=request, **kwargs)
        with transaction.atomic():
            # Failures of one account wait for each other here, so exactly one of them sees
            # the count cross the limit and mails, however many arrive at once.
            account_lock(user.pk)
            before = self.account_failures(request, credentials)
            super().user_login_failed(sender, credentials, request=request, **kwargs)
            after = self.account_failures(request, credentials)
            limit = settings.AXES_ACCOUNT_FAILURE_LIMIT
            if limit > 0 and before < limit <= after:
                # One e-mail per lock: refused attempts during it count on (axes extends
                # the cool-off) but never cross the limit again until the lock is over.
                now = timezone.now()
                attempts = self._account_attempts(request, credentials)
                login_locked_queue(
                    user=user,
                    failures=attempts.aggregate(n=Sum("failures_since_start"))["n"],
                    addresses=attempts.values("ip_address").distinct().count(),
                    until=now + settings.AXES_COOLOFF_TIME,
                    now=now,
                )
        return None


def _account(username):
    if not username:
        return None
    user_model = get_user_model()
    try:
        return user_model._default_manager.get_by_natural_key(username)
    except user_model.DoesNotExist:
        return None


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
