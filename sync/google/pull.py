"""Google busy time -> BusyBlock rows: a full sync, then incremental with the sync token.

The sync token is stored only after the last page. A 410 (fullSyncRequired) drops the
mirror of that calendar and syncs fully again. Cancelled, transparent and declined events
do not block, nor do our own booking events; all-day events block whole local days unless
the connection says otherwise.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from scheduler.models import Booking, BusyBlock
from scheduler.practice import schedule_changed
from sync import connectors, outbox
from sync.connections import MIRROR_PAST, connection_error_record
from sync.google.client import NUM_RETRIES, TRANSIENT, HttpError, status_of
from sync.google.connection import service_or_alert, trouble
from sync.google.push import OWN_EVENT_PROPERTY
from sync.google.watch import channels_renew
from sync.models import CalendarConnection, GoogleCalendarSync, GoogleEvent

PAGE_SIZE = 2500


def calendar_pull(*, sync: GoogleCalendarSync, service, now: datetime) -> int:
    """Pull one calendar; returns how many events were read. Every future event is
    mirrored: an incremental sync never returns an untouched event again."""
    if sync.sync_token:
        try:
            return _incremental(sync, service, now)
        except HttpError as error:
            if status_of(error) != 410:
                raise
            sync.sync_token = ""  # the token expired: start again from scratch
    return _full(sync, service, now)


def _pages(service, **params):
    token = None
    while True:
        page = (
            service.events()
            .list(pageToken=token, maxResults=PAGE_SIZE, singleEvents=True, **params)
            .execute(num_retries=NUM_RETRIES)
        )
        yield page
        token = page.get("nextPageToken")
        if not token:
            return


def _full(sync, service, now) -> int:
    events, next_token = [], ""
    for page in _pages(
        service, calendarId=sync.calendar_id, timeMin=(now - MIRROR_PAST).isoformat()
    ):
        events += page.get("items", [])
        next_token = page.get("nextSyncToken", next_token)
    connection = sync.connection
    blocks = [block for event in events if (block := _busy_block(event, connection, sync, now))]
    with transaction.atomic():
        BusyBlock.objects.filter(source=sync.busy_source).delete()
        BusyBlock.objects.bulk_create(blocks, batch_size=2000)
        _save(sync, next_token, now)
    return len(events)


def _incremental(sync, service, now) -> int:
    changed, next_token = [], ""
    for page in _pages(
        service, calendarId=sync.calendar_id, syncToken=sync.sync_token, showDeleted=True
    ):
        changed += page.get("items", [])
        next_token = page.get("nextSyncToken", next_token)
    connection = sync.connection
    with transaction.atomic():
        ids = [event["id"] for event in changed if "id" in event]
        BusyBlock.objects.filter(source=sync.busy_source, external_id__in=ids).delete()
        blocks = [
            block for event in changed if (block := _busy_block(event, connection, sync, now))
        ]
        BusyBlock.objects.bulk_create(blocks, batch_size=2000)
        _save(sync, next_token, now)
    return len(changed)


def _save(sync, next_token, now) -> None:
    sync.sync_token = next_token
    sync.last_pulled_at = now
    sync.save(update_fields=["sync_token", "last_pulled_at"])
    schedule_changed(sync.connection.practitioner_id)


def _busy_block(event, connection: CalendarConnection, sync, now):
    if not _blocks_time(event, connection):
        return None
    zone = connection.practitioner.zone
    start, end = event.get("start", {}), event.get("end", {})
    if "date" in start:
        first = date.fromisoformat(start["date"])
        last = date.fromisoformat(end.get("date", start["date"])) if end else first
        if last <= first:
            last = first + timedelta(days=1)
        begin = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
        finish = datetime.combine(last, time(0), tzinfo=zone).astimezone(UTC)
    else:
        try:
            begin = datetime.fromisoformat(start["dateTime"]).astimezone(UTC)
            finish = datetime.fromisoformat(end["dateTime"]).astimezone(UTC)
        except (KeyError, ValueError):
            return None
    # No cut in the future: an incremental sync never returns an untouched event again,
    # so one far ahead must be mirrored now to block its day when that day comes in reach.
    if finish <= begin or finish < now - MIRROR_PAST:
        return None
    return BusyBlock(
        practitioner_id=connection.practitioner_id,
        start=begin,
        end=finish,
        source=sync.busy_source,
        external_id=event["id"][:1024],
    )


def _blocks_time(event, connection: CalendarConnection) -> bool:
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return False
    if event.get("extendedProperties", {}).get("private", {}).get(OWN_EVENT_PROPERTY) == "1":
        return False  # our own booking event: the session itself already blocks the time
    for attendee in event.get("attendees", []):
        if attendee.get("self") and attendee.get("responseStatus") == "declined":
            return False
    return not ("date" in event.get("start", {}) and not connection.block_all_day)


def google_connections_due(*, now: datetime) -> list[int]:
    """The polling fallback behind push notifications: connections not read for
    GOOGLE_POLL_MINUTES that do not wait for the practitioner."""
    cutoff = now - timedelta(minutes=settings.GOOGLE_POLL_MINUTES)
    return list(
        CalendarConnection.objects.filter(kind=CalendarConnection.Kind.GOOGLE)
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=cutoff))
        .exclude(status=CalendarConnection.Status.RECONNECT_NEEDED)
        .values_list("pk", flat=True)
    )


def google_connection_pull(*, connection: CalendarConnection, now: datetime, service=None) -> None:
    service = service or service_or_alert(connection, now)
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
    except (HttpError, *TRANSIENT) as error:
        _read_failed(connection, error, now)
        return
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.OK, last_success_at=now, last_error=""
    )


def _read_failed(connection: CalendarConnection, error: Exception, now: datetime) -> None:
    if isinstance(error, HttpError):
        connection_error_record(connection, f"Reading Google Calendar failed ({status_of(error)}).")
    else:
        trouble(connection, error, now, "Reading Google Calendar failed")


def google_connection_setup(*, connection: CalendarConnection, now: datetime) -> None:
    """After connecting: list calendars, default to primary both ways, deliver what
    waited, pull and watch. Connected to another Google account than before: the old
    account's mirror and event links are dropped and every live session is pushed anew."""
    service = service_or_alert(connection, now)
    if service is None:
        return
    try:
        items = service.calendarList().list().execute(num_retries=3).get("items", [])
    except (HttpError, *TRANSIENT) as error:
        _read_failed(connection, error, now)
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
            connectors.pushes_enqueue(booking=booking, now=now)
        schedule_changed(connection.practitioner_id)
