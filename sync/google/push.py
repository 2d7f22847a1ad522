"""Bookings -> Google: make our event for a session match the session, whatever happened.

Event ids come from the session (base32hex), so an insert answered 409 was already done,
a retried delete that gets 404/410 is done too, and no retry can create a second event.
Updates send the stored etag as If-Match; a 412 means someone changed the event, so we
read it again and retry with the new etag.
"""

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse

from scheduler.models import Booking, Session
from sync import outbox
from sync.connections import connection_error_record
from sync.google.client import (
    NUM_RETRIES,
    TRANSIENT,
    HttpError,
    reason_of,
    refused_grant,
    status_of,
)
from sync.google.connection import reconnect_needed, service_or_alert
from sync.models import CalendarConnection, GoogleEvent, OutboxItem

log = logging.getLogger(__name__)

OWN_EVENT_PROPERTY = "bsrScheduler"


def event_id_for(session: Session) -> str:
    """A Google event id from base32hex characters (a-v, 0-9), stable for the session."""
    raw = f"bsr-session-{session.pk}".encode()
    return base64.b32hexencode(raw).decode().lower().rstrip("=")


def event_body(session: Session) -> dict:
    booking = session.booking
    zone = booking.practitioner.timezone
    admin = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "admin:scheduler_booking_change", args=[booking.pk]
    )
    # Title without personal data; client details only in the (private) description.
    body = {
        "id": event_id_for(session),
        "summary": f"{booking.appointment_type.name} (BSR)",
        "description": "\n".join(
            [
                f"Cliënt: {booking.client_name}",
                f"E-mail: {booking.client_email}",
                f"Telefoon: {booking.client_phone or '-'}",
                f"Notities: {booking.notes or '-'}",
                f"Boeking: {admin}",
            ]
        ),
        "start": {"dateTime": session.start.isoformat(), "timeZone": zone},
        "end": {"dateTime": session.end.isoformat(), "timeZone": zone},
        "visibility": "private",
        "transparency": "opaque",
        "status": "confirmed",
        "extendedProperties": {"private": {OWN_EVENT_PROPERTY: "1", "session": str(session.pk)}},
    }
    if settings.PRACTICE_LOCATION:
        body["location"] = settings.PRACTICE_LOCATION
    return body


@dataclass(frozen=True)
class PushResult:
    action: str  # "inserted", "updated", "deleted", "absent"


def session_push(*, connection: CalendarConnection, session: Session, service) -> PushResult:
    """Bring Google in line with the session now. Raises HttpError for the caller to judge."""
    link = GoogleEvent.objects.filter(connection=connection, session=session).first()
    calendar_id = link.calendar_id if link else connection.push_calendar_id or "primary"
    live = (
        session.status == Session.Status.CONFIRMED
        and session.booking.status == Booking.Status.CONFIRMED
    )
    events = service.events()
    event_id = event_id_for(session)
    if not live:
        if link is not None and not link.deleted:
            _scrub(events, calendar_id, event_id, session)
        try:
            events.delete(calendarId=calendar_id, eventId=event_id).execute(num_retries=NUM_RETRIES)
        except HttpError as error:
            if status_of(error) not in (404, 410):
                raise
        _remember(connection, session, calendar_id, event_id, etag="", deleted=True)
        return PushResult("deleted")
    body = event_body(session)
    if link is None or link.deleted or not link.etag:
        try:
            created = events.insert(calendarId=calendar_id, body=body).execute(
                num_retries=NUM_RETRIES
            )
            _remember(connection, session, calendar_id, event_id, etag=created.get("etag", ""))
            return PushResult("inserted")
        except HttpError as error:
            if status_of(error) != 409:
                raise
        # 409: an earlier attempt created it (or it exists from before): update it instead.
        current = _get(events, calendar_id, event_id)
        if current is None:
            return PushResult("absent")
        etag = current.get("etag", "")
    else:
        etag = link.etag
    return _update(connection, session, events, calendar_id, event_id, body, etag)


def _scrub(events, calendar_id, event_id, session) -> None:
    """Blank the client's details before deleting: Google keeps deleted events in the
    calendar's trash (and shows them to "restore"), description included."""
    body = {
        "summary": f"{session.booking.appointment_type.name} (BSR)",
        "description": "",
        "location": "",
    }
    try:
        events.patch(calendarId=calendar_id, eventId=event_id, body=body).execute(
            num_retries=NUM_RETRIES
        )
    except HttpError as error:
        if status_of(error) not in (404, 410):
            raise


def _update(connection, session, events, calendar_id, event_id, body, etag) -> PushResult:
    for _ in range(3):
        request = events.patch(calendarId=calendar_id, eventId=event_id, body=body)
        if etag:
            request.headers["If-Match"] = etag
        try:
            updated = request.execute(num_retries=NUM_RETRIES)
        except HttpError as error:
            if status_of(error) == 412:  # changed in Google meanwhile: read again, retry
                current = _get(events, calendar_id, event_id)
                if current is None:
                    return PushResult("absent")
                etag = current.get("etag", "")
                continue
            if status_of(error) in (404, 410):
                # The practitioner deleted our event in Google; an id cannot be reused.
                _remember(connection, session, calendar_id, event_id, etag="", deleted=True)
                return PushResult("absent")
            raise
        _remember(connection, session, calendar_id, event_id, etag=updated.get("etag", ""))
        return PushResult("updated")
    raise RuntimeError("The event kept changing in Google; will try again.")


def _get(events, calendar_id, event_id) -> dict | None:
    try:
        event = events.get(calendarId=calendar_id, eventId=event_id).execute(
            num_retries=NUM_RETRIES
        )
    except HttpError as error:
        if status_of(error) in (404, 410):
            return None
        raise
    return None if event.get("status") == "cancelled" else event


def _remember(connection, session, calendar_id, event_id, *, etag: str, deleted: bool = False):
    GoogleEvent.objects.update_or_create(
        connection=connection,
        session=session,
        defaults={
            "calendar_id": calendar_id,
            "event_id": event_id,
            "etag": etag,
            "deleted": deleted,
        },
    )


RETRYABLE = {429, 500, 502, 503, 504}
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


def push_item_deliver(item: OutboxItem, *, now: datetime, services: dict) -> int:
    """Deliver one claimed outbox item: make Google match its session. 1 when done."""
    connection = item.connection
    if connection.pk not in services:
        services[connection.pk] = service_or_alert(connection, now)
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
        result = session_push(connection=connection, session=session, service=service)
    except HttpError as error:
        status, reason = status_of(error), reason_of(error)
        if status in RETRYABLE or (status == 403 and reason in RATE_LIMIT_REASONS):
            outbox.retry_later(item, f"Google answered {status} {reason}".strip(), now)
        else:
            message = f"Google refused the change ({status} {reason}): {error}"[:2000]
            outbox.retry_later(item, message, now, at_least=timedelta(hours=1))
            connection_error_record(connection, message)
        return 0
    except (*TRANSIENT, RuntimeError) as error:  # dropped connections, timeouts, auth trouble
        if refused_grant(error):
            services[connection.pk] = None  # no more calls for this connection
            reconnect_needed(connection=connection, message=str(error), now=now)
            return 0
        outbox.retry_later(item, f"{type(error).__name__}: {error}"[:2000], now)
        connection_error_record(connection, f"Sending to Google failed: {type(error).__name__}.")
        return 0
    log.info("google connection %s: session %s %s", connection.pk, session.pk, result.action)
    outbox.done(*pending, now=now)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.OK, last_success_at=now, last_error=""
    )
    return 1
