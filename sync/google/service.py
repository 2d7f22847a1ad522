"""Google connections: connect (OAuth with PKCE), push via the outbox, pull, watch, break.

Every call to Google happens in a task (or the synccalendars command), never in a request
that serves clients; a refused refresh token turns the connection to reconnect_needed,
mails the practitioner once and stops all retries until they reconnect.
"""

import contextlib
import logging
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from google.auth.exceptions import GoogleAuthError
from google_auth_oauthlib.flow import Flow
from httplib2 import HttpLib2Error

from scheduler.models import Booking, BusyBlock, Practitioner
from scheduler.practice import schedule_changed
from sync import mail, outbox
from sync.google.client import (
    SCOPES,
    HttpError,
    ReconnectNeeded,
    calendar_service,
    reason_of,
    refused_grant,
    status_of,
)
from sync.google.pull import calendar_pull
from sync.google.push import session_push
from sync.google.tokens import decrypt_token, encrypt_token
from sync.models import (
    CalendarConnection,
    GoogleCalendarSync,
    GoogleEvent,
    OAuthState,
    OutboxItem,
)

log = logging.getLogger(__name__)

OAUTH_STATE_TTL = timedelta(hours=1)
CHANNEL_TTL = timedelta(days=7)
CHANNEL_RENEW_BEFORE = timedelta(days=1)
RETRYABLE = {429, 500, 502, 503, 504}
# Network and auth trouble that is not a refused grant: retried, and shown on the connection.
TRANSIENT = (OSError, TimeoutError, HttpLib2Error, GoogleAuthError)
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


# --- connect ---------------------------------------------------------------------


def _flow(redirect_uri: str, state: str | None = None) -> Flow:
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
    return Flow.from_client_config(config, scopes=SCOPES, redirect_uri=redirect_uri, state=state)


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
                "google_refresh_token": encrypt_token(creds.refresh_token or ""),
                "google_access_token": encrypt_token(creds.token or ""),
                "google_token_expiry": creds.expiry.replace(tzinfo=UTC) if creds.expiry else None,
                "status": CalendarConnection.Status.OK,
                "last_error": "",
                "alerted_at": None,
            },
        )
        # Whatever waited while the link was broken goes out on the next sync.
        outbox.connection_retry_now(connection_id=connection.pk, now=now)
    return connection


def google_connection_setup(*, connection: CalendarConnection, now: datetime) -> None:
    """After connecting: list calendars, default to primary both ways, deliver what
    waited, pull and watch. Connected to another Google account than before: the old
    account's mirror and event links are dropped and every live session is pushed anew."""
    service = _service_or_alert(connection, now)
    if service is None:
        return
    try:
        items = service.calendarList().list().execute(num_retries=3).get("items", [])
    except HttpError as error:
        _record_error(connection, f"Reading Google Calendar failed ({status_of(error)}).")
        return
    except TRANSIENT as error:
        _trouble(connection, error, now, "Reading Google Calendar failed")
        return
    account = next((c["id"] for c in items if c.get("primary")), "")
    if connection.google_account and account and account != connection.google_account:
        _account_changed(connection, now)
    connection.google_account = account or connection.google_account
    connection.available_calendars = [
        {"id": c["id"], "summary": c.get("summary", ""), "primary": bool(c.get("primary"))}
        for c in items
    ]
    if not connection.busy_calendar_ids:
        connection.busy_calendar_ids = ["primary"]
    connection.save(update_fields=["google_account", "available_calendars", "busy_calendar_ids"])
    outbox.deliver_due(now=now, connection_id=connection.pk)
    google_connection_pull(connection=connection, now=now, service=service)
    channels_renew(connection=connection, now=now, service=service)


def _account_changed(connection: CalendarConnection, now: datetime) -> None:
    with transaction.atomic():
        BusyBlock.objects.filter(source__startswith=f"google:{connection.pk}:").delete()
        connection.google_calendars.all().delete()
        GoogleEvent.objects.filter(connection=connection).delete()
        connection.busy_calendar_ids = ["primary"]
        connection.push_calendar_id = "primary"
        connection.save(update_fields=["busy_calendar_ids", "push_calendar_id"])
        live = Booking.objects.filter(
            practitioner_id=connection.practitioner_id,
            status=Booking.Status.CONFIRMED,
            sessions__end__gt=now,
        ).distinct()
        for booking in live:
            outbox.pushes_enqueue(booking=booking, now=now)
        schedule_changed(connection.practitioner_id)


def google_connection_disconnect(*, connection: CalendarConnection, now: datetime) -> None:
    """Remove the mirror and the connection; asking Google to forget the grant leaves
    through the outbox in the same transaction, so it happens even if the broker is down."""
    with transaction.atomic():
        BusyBlock.objects.filter(source__startswith=f"google:{connection.pk}:").delete()
        outbox.revoke_enqueue(
            practitioner_id=connection.practitioner_id,
            sealed_token=connection.google_refresh_token,
            now=now,
        )
        connection.delete()
        schedule_changed(connection.practitioner_id)


def google_token_revoke(encrypted_token: str) -> None:
    from sync.google.client import revoke

    token = decrypt_token(encrypted_token)
    if token:
        revoke(token)


# --- push (outbox items of kind "google") ---------------------------------------------------


def push_item_deliver(item: OutboxItem, *, now: datetime, services: dict) -> int:
    """Deliver one claimed outbox item: make Google match its session. 1 when done."""
    connection = item.connection
    if connection.pk not in services:
        services[connection.pk] = _service_or_alert(connection, now)
    service = services[connection.pk]
    if service is None:
        return 0
    session = item.session
    # The rows this push answers for: those pending now. A change committed after the
    # session is read below leaves its own row pending for the next drain.
    pending = list(
        OutboxItem.objects.filter(
            connection=connection, session=session, done_at__isnull=True
        ).values_list("pk", flat=True)
    )
    try:
        session.refresh_from_db()
        session_push(connection=connection, session=session, service=service)
    except HttpError as error:
        status, reason = status_of(error), reason_of(error)
        if status in RETRYABLE or (status == 403 and reason in RATE_LIMIT_REASONS):
            outbox.retry_later(item, f"Google answered {status} {reason}".strip(), now)
        else:
            message = f"Google refused the change ({status} {reason}): {error}"[:2000]
            outbox.retry_later(item, message, now, at_least=timedelta(hours=1))
            _record_error(connection, message)
        return 0
    except (*TRANSIENT, RuntimeError) as error:  # dropped connections, timeouts, auth trouble
        if refused_grant(error):
            services[connection.pk] = None  # no more calls for this connection
            reconnect_needed(connection=connection, message=str(error), now=now)
            return 0
        outbox.retry_later(item, f"{type(error).__name__}: {error}"[:2000], now)
        _record_error(connection, f"Sending to Google failed: {type(error).__name__}.")
        return 0
    outbox.done(*pending, now=now)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.OK, last_success_at=now, last_error=""
    )
    return 1


# --- pull and watch ---------------------------------------------------------------------


def google_connection_pull(*, connection: CalendarConnection, now: datetime, service=None) -> None:
    service = service or _service_or_alert(connection, now)
    if service is None:
        return
    CalendarConnection.objects.filter(pk=connection.pk).update(last_synced_at=now)
    wanted = connection.busy_calendar_ids or ["primary"]
    stale = connection.google_calendars.exclude(calendar_id__in=wanted)
    for sync in stale:
        BusyBlock.objects.filter(source=sync.busy_source).delete()
    stale.delete()
    try:
        for calendar_id in wanted:
            sync, _ = GoogleCalendarSync.objects.get_or_create(
                connection=connection, calendar_id=calendar_id
            )
            calendar_pull(sync=sync, service=service, now=now)
    except HttpError as error:
        _record_error(connection, f"Reading Google Calendar failed ({status_of(error)}).")
        return
    except TRANSIENT as error:
        _trouble(connection, error, now, "Reading Google Calendar failed")
        return
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.OK, last_success_at=now, last_error=""
    )


def channels_renew(*, connection: CalendarConnection, now: datetime, service=None) -> None:
    """Watch every busy calendar; renew channels a day before they expire."""
    due = connection.google_calendars.filter(
        Q(channel_id="") | Q(channel_expires_at__lt=now + CHANNEL_RENEW_BEFORE)
    )
    if not due.exists():
        return
    service = service or _service_or_alert(connection, now)
    if service is None:
        return
    address = settings.PUBLIC_BASE_URL.rstrip("/") + "/sync/google/webhook/"
    for sync in due:
        if sync.channel_id:
            with contextlib.suppress(HttpError):  # an expired channel is gone anyway
                service.channels().stop(
                    body={"id": sync.channel_id, "resourceId": sync.channel_resource_id}
                ).execute(num_retries=2)
        channel_id, token = uuid.uuid4().hex, secrets.token_urlsafe(32)
        expiration = int((now + CHANNEL_TTL).timestamp() * 1000)
        try:
            channel = (
                service.events()
                .watch(
                    calendarId=sync.calendar_id,
                    body={
                        "id": channel_id,
                        "type": "web_hook",
                        "address": address,
                        "token": token,
                        "expiration": str(expiration),
                    },
                )
                .execute(num_retries=2)
            )
        except HttpError as error:
            log.warning("watch failed for %s: %s (polling continues)", sync, status_of(error))
            continue
        except TRANSIENT as error:
            _trouble(connection, error, now, "Watching Google Calendar failed")
            return
        sync.channel_id, sync.channel_token = channel_id, token
        sync.channel_resource_id = channel.get("resourceId", "")
        sync.channel_expires_at = datetime.fromtimestamp(
            int(channel.get("expiration", expiration)) / 1000, tz=UTC
        )
        sync.save()


# --- when it breaks ---------------------------------------------------------------------


def _service_or_alert(connection: CalendarConnection, now: datetime):
    """A client for the connection, or None after marking it reconnect_needed (mailed once)."""
    if connection.status == CalendarConnection.Status.RECONNECT_NEEDED:
        return None
    try:
        return calendar_service(connection)
    except ReconnectNeeded as exc:
        reconnect_needed(connection=connection, message=str(exc), now=now)
        return None
    except TRANSIENT as exc:  # e.g. invalid_client, or Google unreachable: try next round
        _record_error(connection, f"Cannot reach Google: {type(exc).__name__}: {exc}"[:500])
        return None


def reconnect_needed(*, connection: CalendarConnection, message: str, now: datetime) -> None:
    """The practitioner must connect again: say so on the connection, e-mail them once."""
    with transaction.atomic():
        CalendarConnection.objects.filter(pk=connection.pk).update(
            status=CalendarConnection.Status.RECONNECT_NEEDED,
            last_error="Google no longer accepts this connection; please connect again. "
            + message[:500],
        )
        first = CalendarConnection.objects.filter(pk=connection.pk, alerted_at__isnull=True).update(
            alerted_at=now
        )
        connection.refresh_from_db()
        if first:
            mail.reconnect_needed_queue(connection, now=now)


def _trouble(connection: CalendarConnection, error: BaseException, now: datetime, what: str):
    """Network or auth trouble from a call: a refused grant needs the practitioner; anything
    else is shown and tried again next round."""
    if refused_grant(error):
        reconnect_needed(connection=connection, message=str(error), now=now)
    else:
        _record_error(connection, f"{what}: {type(error).__name__}.")


def _record_error(connection: CalendarConnection, message: str) -> None:
    log.warning("google connection %s: %s", connection.pk, message)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.ERROR, last_error=message[:2000]
    )
