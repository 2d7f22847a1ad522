"""What every calendar connection shares, whatever its kind."""

import logging
from datetime import timedelta

from sync.models import CalendarConnection

log = logging.getLogger(__name__)

# Busy time is mirrored from this long ago: a session that started a moment ago still
# blocks its buffer, and nothing older matters to the slots offered.
MIRROR_PAST = timedelta(days=1)


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
