"""Google busy time -> BusyBlock rows: a full sync, then incremental with the sync token.

The sync token is stored only after the last page. A 410 (fullSyncRequired) drops the
mirror of that calendar and syncs fully again. Cancelled, transparent and declined events
do not block, nor do our own booking events; all-day events block whole local days unless
the connection says otherwise.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from scheduler.models import BusyBlock
from scheduler.practice import schedule_changed
from sync.google.client import NUM_RETRIES, HttpError, status_of
from sync.google.push import OWN_EVENT_PROPERTY
from sync.models import CalendarConnection, GoogleCalendarSync

PAGE_SIZE = 2500
MIRROR_PAST = timedelta(days=1)


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
