"""What every calendar connection shares, whatever its kind."""

import logging
from datetime import timedelta

from django.db.models import Max

from scheduler.models import Practitioner
from sync.models import CalendarConnection

log = logging.getLogger(__name__)

# Busy time is mirrored from this long ago: a session that started a moment ago still
# blocks its buffer, and nothing older matters to the slots offered.
MIRROR_PAST = timedelta(days=1)
# Busy time is mirrored at least this far ahead, even for a practice that books only a
# few weeks out (a longer horizon set later must not find a gap).
MIN_HORIZON_DAYS = 120


def horizon_days(practitioner: Practitioner) -> int:
    """How many days ahead busy time is mirrored: as far as any active type books, plus a
    series' span, and at least MIN_HORIZON_DAYS."""
    furthest = practitioner.appointment_types.filter(active=True).aggregate(
        days=Max("max_days_ahead")
    )["days"]
    # Plus a series' span: its last session lies up to a few weeks after the first.
    return max((furthest or 0) + 31, MIN_HORIZON_DAYS)


def connection_error_record(connection: CalendarConnection, message: str) -> None:
    """Show the trouble on the connection (status error, the message as last_error).

    A connection that needs the practitioner (reconnect_needed) keeps saying so: later
    trouble must not hide why nothing works."""
    log.warning("calendar connection %s: %s", connection.pk, message)
    if connection.status != CalendarConnection.Status.RECONNECT_NEEDED:
        connection.status = CalendarConnection.Status.ERROR
        connection.last_error = message[:2000]
    CalendarConnection.objects.filter(pk=connection.pk).exclude(
        status=CalendarConnection.Status.RECONNECT_NEEDED
    ).update(status=CalendarConnection.Status.ERROR, last_error=message[:2000])


def connection_failure_record(connection: CalendarConnection, exc: BaseException) -> None:
    """Whatever escaped one connection's sync (a bug, an answer nobody foresaw): shown on
    that connection, Dutch first, so the run can go on with the next one."""
    log.error("calendar connection %s: sync failed", connection.pk, exc_info=exc)
    kind = type(exc).__name__
    connection_error_record(
        connection,
        f"De agenda bijwerken is mislukt: er ging iets onverwachts mis ({kind}). / "
        f"Syncing the calendar failed: {kind}: {str(exc)[:300]}",
    )
