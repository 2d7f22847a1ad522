"""Subscribed calendars (ICS feeds): add, change, read and mirror their busy time; and
their connector (sync/connectors.py).

The connector lives here rather than in sync/ics/ because this module is the feeds'
service and sync/ics/ its parts (fetch, parse, write): the package stays below both."""

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scheduler.models import BusyBlock, Practitioner, Session
from scheduler.practice import schedule_changed
from scheduler.slots import BusyIndex
from scheduler.types import Interval
from sync import jobs
from sync.connections import MIRROR_PAST, connection_error_record, horizon_days
from sync.connectors import Connected, Connector
from sync.ics.fetch import FeedFetchError, check_address, download, normalise_feed_url
from sync.ics.limits import Limits
from sync.ics.limits import ics_busy_blocks_limited as ics_busy_blocks  # child process, limits
from sync.ics.subscribe import ImportLimitError
from sync.models import CalendarConnection

log = logging.getLogger(__name__)


def ics_connection_create(
    *, practitioner: Practitioner, url: str, name: str = "", block_all_day: bool = True
) -> CalendarConnection:
    """Add a subscribed calendar; raises FeedFetchError for an address we will not fetch."""
    url = normalise_feed_url(url)
    check_address(url)
    return CalendarConnection.objects.create(
        practitioner=practitioner,
        kind=CalendarConnection.Kind.ICS,
        url=url,
        name=name,
        block_all_day=block_all_day,
    )


def calendar_connection_update(*, connection: CalendarConnection, **fields) -> CalendarConnection:
    """Change a connection's settings; it is read afresh (the caller asks for the read)."""
    if "url" in fields:
        fields["url"] = normalise_feed_url(fields["url"])
        check_address(fields["url"])
    # Any change is read afresh: no validators or digest of the old settings.
    connection.etag = connection.last_modified = connection.content_hash = ""
    connection.import_context = ""
    for name, value in fields.items():
        setattr(connection, name, value)
    connection.save()
    return connection


def ics_connections_due(*, now: datetime):
    """Subscribed calendars not tried within the poll interval."""
    cutoff = now - timedelta(minutes=settings.ICS_POLL_MINUTES)
    return CalendarConnection.objects.filter(kind=CalendarConnection.Kind.ICS).filter(
        Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=cutoff)
    )


def ics_connection_sync(*, connection: CalendarConnection, now: datetime, force: bool = False):
    """Download, read and mirror one subscribed calendar.

    Claims the connection first, so two workers never sync it at once. A failed download
    or parse is recorded on the connection and keeps the busy time already mirrored.
    Returns False if another run had it or it is not due (unless `force`).
    """
    claim = CalendarConnection.objects.filter(pk=connection.pk)
    if not force:
        cutoff = now - timedelta(minutes=settings.ICS_POLL_MINUTES)
        claim = claim.filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=cutoff))
    if not claim.update(last_synced_at=now):
        return False
    connection.refresh_from_db()
    practitioner = connection.practitioner
    horizon = horizon_days(practitioner)
    # A new day moves the window, so recurrences must be expanded afresh; a new zone or
    # switch reads the same events differently. Then the validators do not apply.
    context = f"{now.date()}|{practitioner.timezone}|{connection.block_all_day}|{horizon}"
    same_context = connection.import_context == context
    try:
        fetched = download(
            connection.url,
            etag=connection.etag if same_context else "",
            last_modified=connection.last_modified if same_context else "",
        )
        digest = (
            fetched.body is not None and hashlib.sha256(context.encode() + fetched.body).hexdigest()
        )
        if fetched.body is None or digest == connection.content_hash:
            _record_success(connection, now, fetched)
            return True
        imported = ics_busy_blocks(
            fetched.body,
            zone=practitioner.zone,
            start=now - MIRROR_PAST,
            end=now + timedelta(days=horizon),
            block_all_day=connection.block_all_day,
            limits=_import_limits(),
        )
    except FeedFetchError as exc:
        connection_error_record(connection, str(exc))
        return True
    except ImportLimitError as exc:
        _record_limit(connection, str(exc))
        return True
    except Exception as exc:  # a feed can break the parser in ways nobody lists
        log.exception("calendar %s could not be read", connection.pk)
        connection_error_record(connection, f"The calendar could not be read: {str(exc)[:300]}")
        return True
    with transaction.atomic():
        if not CalendarConnection.objects.select_for_update().filter(pk=connection.pk).exists():
            return True  # removed while we were downloading: mirror nothing
        BusyBlock.objects.filter(practitioner=practitioner, source=connection.busy_source).delete()
        BusyBlock.objects.bulk_create(
            [
                BusyBlock(
                    practitioner=practitioner,
                    start=begin,
                    end=finish,
                    source=connection.busy_source,
                    external_id=uid,
                )
                for begin, finish, uid in imported.blocks
            ],
            batch_size=2000,
        )
        schedule_changed(practitioner.pk)
        connection.warnings = imported.warnings + _conflicts(practitioner, imported, now)
        connection.content_hash = digest
        connection.import_context = context
        _record_success(connection, now, fetched)
    return True


def _import_limits() -> Limits:
    return Limits(
        seconds=settings.ICS_IMPORT_TIMEOUT_SECONDS,
        memory_mb=settings.ICS_IMPORT_MAX_MB,
    )


def _conflicts(practitioner: Practitioner, imported, now: datetime) -> list[str]:
    """Bookings that now overlap busy time: flagged to the practitioner, never cancelled."""
    if not imported.blocks:
        return []
    busy = BusyIndex(Interval(begin, finish) for begin, finish, _ in imported.blocks)
    flagged = []
    for session in (
        Session.objects.filter(practitioner=practitioner, end__gt=now)
        .exclude(status=Session.Status.CANCELLED)
        .select_related("booking")
        .order_by("start")
    ):
        if not busy.is_free(session.start, session.end):
            local = session.start.astimezone(practitioner.zone)
            flagged.append(
                f"Booking {session.booking_id} on {local:%Y-%m-%d %H:%M} overlaps busy time "
                "in this calendar."
            )
    return flagged


def _record_success(connection: CalendarConnection, now: datetime, fetched) -> None:
    # Only the fields this sync owns: the practitioner may have changed others meanwhile.
    connection.status = CalendarConnection.Status.OK
    connection.last_success_at = now
    connection.last_error = ""
    connection.etag = fetched.etag or connection.etag
    connection.last_modified = fetched.last_modified or connection.last_modified
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=connection.status,
        last_success_at=now,
        last_error="",
        etag=connection.etag,
        last_modified=connection.last_modified,
        warnings=connection.warnings,
        content_hash=connection.content_hash,
        import_context=connection.import_context,
    )


def _record_limit(connection: CalendarConnection, reason: str) -> None:
    """A feed too heavy to read: say so in plain words, keep the busy time already known."""
    message = (
        f"Deze agenda is te zwaar om in te lezen ({reason}). De bezette tijden van de "
        "vorige keer blijven gelden. / This calendar is too heavy to read "
        f"({reason}). The busy time read last time still applies."
    )
    # The validators and digest stay those of the last good read, so the next poll reads
    # the feed again instead of taking a 304 for success.
    connection.warnings = [message, *[w for w in connection.warnings if w != message][:49]]
    connection_error_record(connection, message)
    CalendarConnection.objects.filter(pk=connection.pk).update(warnings=connection.warnings)


def busy_mirrored_at(*, practitioner_id: int) -> datetime | None:
    """How fresh the mirrored busy time is: the oldest last success over the practitioner's
    connections; None when none is connected or one was never read."""
    times = list(
        CalendarConnection.objects.filter(practitioner_id=practitioner_id).values_list(
            "last_success_at", flat=True
        )
    )
    if not times or any(t is None for t in times):
        return None
    return min(times)


class IcsConnector(Connector):
    """A calendar published as an ICS feed: read only, by polling its address."""

    kind = CalendarConnection.Kind.ICS
    label = _("Subscription (ICS)")
    editable = frozenset({"name", "block_all_day", "url"})

    def url_check(self, url: str) -> str:
        url = normalise_feed_url(url)
        check_address(url)
        return url

    def connect(self, *, practitioner, user, values, redirect_uri, now) -> Connected:
        connection = ics_connection_create(
            practitioner=practitioner,
            url=values["url"],
            name=values.get("name", ""),
            block_all_day=values.get("block_all_day", True),
        )
        self.sync_soon(connection)
        return Connected(connection=connection)

    def update(self, *, connection, values, now):
        connection = calendar_connection_update(connection=connection, **values)
        self.sync_soon(connection)
        return connection

    def read(self, *, connection, now, force=False):
        ics_connection_sync(connection=connection, now=now, force=force)

    def read_due(self, *, now):
        for connection_id in ics_connections_due(now=now).values_list("pk", flat=True):
            jobs.send("ics_sync", connection_id)

    def sync_now(self, *, connection, now):
        self.read(connection=connection, now=now, force=True)

    def sync_soon(self, connection):
        jobs.after_commit("ics_sync", connection.pk, force=True)

    def busy_blocks(self, connection):
        return Q(source=connection.busy_source)
