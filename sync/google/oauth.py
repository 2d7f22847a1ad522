"""Connecting Google Calendar: OAuth web flow with PKCE, bound to the user who started it;
and revoking the grant of a removed connection (an outbox item, so Google hears it even
when it cannot be reached at the time)."""

import os
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from scheduler.models import Practitioner
from sync import jobs, outbox
from sync.google.client import SCOPES, oauth_flow, revoke
from sync.models import CalendarConnection, OAuthState, OutboxItem
from sync.sealing import seal

OAUTH_STATE_TTL = timedelta(hours=1)


def _flow(redirect_uri: str, state: str | None = None):
    config = {
        "web": {
            "client_id": settings.GOOGLE_CLIENT_ID,
            "client_secret": settings.GOOGLE_CLIENT_SECRET,
            "auth_uri": settings.GOOGLE_AUTH_URI,
            "token_uri": settings.GOOGLE_TOKEN_URI,
        }
    }
    if settings.DEBUG and redirect_uri.startswith(("http://127.0.0.1", "http://localhost")):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # loopback development only
    # Google may grant the scopes in another order or add earlier grants.
    os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"  # noqa: S105 - a switch, not a secret
    return oauth_flow(config, scopes=SCOPES, redirect_uri=redirect_uri, state=state)


def google_connect_start(*, practitioner: Practitioner, user, redirect_uri: str) -> str:
    """The URL to send the practitioner to; state, PKCE verifier and the user who asked are
    kept for the callback, which only that same logged-in user can complete."""
    flow = _flow(redirect_uri)
    flow.autogenerate_code_verifier = True
    url, state = flow.authorization_url(
        access_type="offline", prompt="consent", include_granted_scopes="true"
    )
    OAuthState.objects.create(
        state=state, practitioner=practitioner, user=user, code_verifier=flow.code_verifier
    )
    return url


class OAuthFailed(Exception):
    pass


def google_connect_finish(*, state: str, code: str, user, redirect_uri: str, now: datetime):
    """Exchange the code (with the kept PKCE verifier) and store the encrypted tokens.

    Only the user who started it may finish it: otherwise whoever completed a forwarded
    authorisation link would attach their own Google account to the practice."""
    saved = OAuthState.objects.filter(
        state=state, user_id=user.pk, created_at__gte=now - OAUTH_STATE_TTL
    ).first()
    if saved is None:
        raise OAuthFailed("This authorisation link has expired; please connect again.")
    flow = _flow(redirect_uri, state=state)
    flow.code_verifier = saved.code_verifier
    try:
        flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib raises many types; all mean "not connected"
        raise OAuthFailed("Google did not accept the authorisation.") from exc
    creds = flow.credentials
    with transaction.atomic():
        OAuthState.objects.filter(pk=saved.pk).delete()
        connection, _ = CalendarConnection.objects.update_or_create(
            practitioner=saved.practitioner,
            kind=CalendarConnection.Kind.GOOGLE,
            defaults={
                "name": "Google Calendar",
                "google_refresh_token": seal(creds.refresh_token or ""),
                "google_access_token": seal(creds.token or ""),
                "google_token_expiry": creds.expiry.replace(tzinfo=UTC) if creds.expiry else None,
                "status": CalendarConnection.Status.OK,
                "last_error": "",
                "alerted_at": None,
            },
        )
        # Whatever waited while the link was broken goes out on the next sync, which a
        # worker runs once this commits.
        outbox.connection_retry_now(connection_id=connection.pk, now=now)
        jobs.after_commit("google_setup", connection.pk)
    return connection


def revoke_enqueue(*, connection: CalendarConnection, now: datetime) -> None:
    """Ask Google to forget the connection's grant, in the caller's transaction."""
    outbox.revoke_enqueue(
        practitioner_id=connection.practitioner_id,
        sealed_token=connection.google_refresh_token,
        now=now,
        kind=OutboxItem.Kind.GOOGLE_REVOKE,
    )


def revoke_deliver(item: OutboxItem, *, message: str, now: datetime, clients: dict) -> int:
    """Deliver one claimed revocation (`message` is the refresh token); 1 when Google heard it."""
    try:
        revoke(message)
    except Exception as error:  # network trouble: Google must still hear it, later
        outbox.retry_later(item, f"{type(error).__name__}: {error}"[:2000], now)
        return 0
    outbox.done(item.pk, now=now)
    return 1
