"""A Google connection's health: a client for it, or the reason there is none.

A refused grant (invalid_grant, wherever it surfaces) needs the practitioner: the
connection turns reconnect_needed, they get one e-mail, and no call is made until they
connect again. Any other trouble is shown on the connection and tried again next round.
"""

from datetime import datetime

from django.db import transaction

from sync import mail
from sync.connections import connection_error_record
from sync.google.client import TRANSIENT, ReconnectNeeded, calendar_service, refused_grant
from sync.models import CalendarConnection


def service_or_alert(connection: CalendarConnection, now: datetime):
    """A client for the connection, or None after marking it reconnect_needed (mailed once)."""
    if connection.status == CalendarConnection.Status.RECONNECT_NEEDED:
        return None
    try:
        return calendar_service(connection)
    except ReconnectNeeded as exc:
        reconnect_needed(connection=connection, message=str(exc), now=now)
        return None
    except TRANSIENT as exc:  # e.g. invalid_client, or Google unreachable: try next round
        connection_error_record(
            connection, f"Cannot reach Google: {type(exc).__name__}: {exc}"[:500]
        )
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


def trouble(connection: CalendarConnection, error: BaseException, now: datetime, what: str):
    """Network or auth trouble from a call: a refused grant needs the practitioner; anything
    else is shown and tried again next round."""
    if refused_grant(error):
        reconnect_needed(connection=connection, message=str(error), now=now)
    else:
        connection_error_record(connection, f"{what}: {type(error).__name__}.")
