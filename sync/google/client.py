"""The one module that imports Google's libraries: the official client for a connection,
the OAuth flow, and what their errors mean.

httplib2 is not thread-safe, so every task builds its own client. The endpoints come from
settings (GOOGLE_API_ENDPOINT, GOOGLE_TOKEN_URI), so tests point it at a fake server.
"""

from datetime import UTC

import google.auth.exceptions
import httplib2
import requests
from django.conf import settings
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sync.models import CalendarConnection
from sync.sealing import seal, unseal

SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
]
# Network and auth trouble that is not a refused grant: retried, and shown on the connection.
TRANSIENT = (OSError, TimeoutError, httplib2.HttpLib2Error, google.auth.exceptions.GoogleAuthError)
# The client's own retries for 5xx, 429 and rate-limit 403s, with exponential backoff.
NUM_RETRIES = 3


class ReconnectNeeded(Exception):
    """Google refused the refresh token (invalid_grant): only the practitioner can fix it."""


def refused_grant(error: BaseException) -> bool:
    """Google refused the grant itself (revoked, expired, password change): only the
    practitioner can fix it. This surfaces as a RefreshError wherever a refresh happens:
    up front, or inside a call after the API answered 401 to a still-unexpired token."""
    return isinstance(error, ReconnectNeeded) or (
        isinstance(error, google.auth.exceptions.RefreshError) and "invalid_grant" in str(error)
    )


def credentials(connection: CalendarConnection) -> Credentials:
    creds = Credentials(
        token=unseal(connection.google_access_token) or None,
        refresh_token=unseal(connection.google_refresh_token),
        token_uri=settings.GOOGLE_TOKEN_URI,
        client_id=settings.GOOGLE_CLIENT_ID,
        client_secret=settings.GOOGLE_CLIENT_SECRET,
        scopes=SCOPES,
    )
    if connection.google_token_expiry:
        creds.expiry = connection.google_token_expiry.astimezone(UTC).replace(tzinfo=None)
    return creds


def calendar_service(connection: CalendarConnection):
    """A fresh client with fresh credentials; refreshes now so a revoked grant shows at once."""
    creds = credentials(connection)
    if not creds.valid:
        try:
            creds.refresh(Request())
        except google.auth.exceptions.RefreshError as exc:
            if refused_grant(exc):
                raise ReconnectNeeded(str(exc)) from exc
            raise
        _store_access_token(connection, creds)
    # A timeout on every call: a hanging Google must never hold a worker.
    http = AuthorizedHttp(creds, http=httplib2.Http(timeout=settings.GOOGLE_TIMEOUT_SECONDS))
    return build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.GOOGLE_API_ENDPOINT},
    )


def _store_access_token(connection: CalendarConnection, creds: Credentials) -> None:
    connection.google_access_token = seal(creds.token or "")
    connection.google_token_expiry = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None
    CalendarConnection.objects.filter(pk=connection.pk).update(
        google_access_token=connection.google_access_token,
        google_token_expiry=connection.google_token_expiry,
    )


def oauth_flow(config: dict, *, scopes, redirect_uri: str, state: str | None) -> Flow:
    return Flow.from_client_config(config, scopes=scopes, redirect_uri=redirect_uri, state=state)


def revoke(token: str) -> None:
    """Ask Google to forget a token; a token it does not know counts as revoked. Any other
    answer (5xx, 429) raises, so the outbox tries again."""
    answer = requests.post(
        settings.GOOGLE_REVOKE_URI,
        data={"token": token},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    if answer.status_code == 200:
        return
    if answer.status_code == 400 and "invalid_token" in (answer.text or ""):
        return  # already gone
    raise OSError(f"Google answered {answer.status_code} to the revocation")


def status_of(error: HttpError) -> int:
    return int(error.resp.status)


def reason_of(error: HttpError) -> str:
    try:
        return error.error_details[0].get("reason", "") if error.error_details else ""
    except (AttributeError, IndexError, TypeError):
        return ""


__all__ = [
    "NUM_RETRIES",
    "SCOPES",
    "TRANSIENT",
    "HttpError",
    "ReconnectNeeded",
    "calendar_service",
    "oauth_flow",
    "reason_of",
    "refused_grant",
    "revoke",
    "status_of",
]
