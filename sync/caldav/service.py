"""CalDAV connections (iCloud, Nextcloud, Fastmail, any RFC 4791 server): add, discover,
push through the outbox, pull, and what happens when it breaks.

Every call to the server happens in a task (or the synccalendars command), never in a
request that serves clients: adding a connection answers 201 at once and a task started
after commit discovers the calendars (`available_calendars` fills in, `setup_pending`
turns false); synccalendars and the beat poll do the same for any connection still
waiting. Every request goes through sync.outbound (via sync.caldav.client).

A refused password (401/403) turns the connection to reconnect_needed, e-mails the
practitioner once, and stops every call until a new password is given by PATCH. Other
trouble is shown on the connection (`last_error`, Dutch first, then English) and tried
again later: pushes back off in the outbox, pulls wait as long again as the trouble has
lasted (at most MAX_PULL_BACKOFF). Whatever a server sends, and whatever breaks while
reading it, ends on that connection: it never escapes to stop the others.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from scheduler.models import Booking, BusyBlock, Practitioner, Session
from scheduler.practice import schedule_changed
from sync import mail, outbox
from sync.caldav.client import (
    PLAIN_HTTP,
    AuthRefused,
    CalDAVTrouble,
    Dav,
    DavError,
    explain,
    plain_http_refused,
)
from sync.caldav.discovery import account_discover, calendars_list
from sync.caldav.pull import calendar_pull
from sync.caldav.push import session_push
from sync.calendars import _record_limit
from sync.connections import MIRROR_PAST, connection_error_record, horizon_days
from sync.ics.fetch import FeedFetchError, check_address, normalise_feed_url
from sync.ics.subscribe import ImportLimitError
from sync.models import CalDAVCalendar, CalendarConnection, OutboxItem
from sync.outbound import OutboundError
from sync.sealing import seal, unseal

log = logging.getLogger(__name__)

MAX_PULL_BACKOFF = timedelta(hours=6)
LISTING_REFRESH = timedelta(hours=1)
RECONNECT_MESSAGE = (
    "The calendar server no longer accepts the password; please enter a new "
    "(app-specific) password for this calendar."
)


# What was being done, for the message on the connection: (English, Dutch).
FINDING = ("Finding the calendars failed", "De agenda's zoeken is mislukt")
READING = ("Reading the calendar failed", "De agenda lezen is mislukt")
REFUSED = ("The calendar server refused the change", "De agendaserver weigerde de wijziging")
SENDING = ("Sending to the calendar server failed", "Versturen naar de agendaserver is mislukt")
SYNCING = ("Syncing the calendar failed", "De agenda bijwerken is mislukt")
UNFORESEEN = "Er ging iets onverwachts mis met het antwoord van de agendaserver."


def _dav(connection: CalendarConnection) -> Dav:
    return Dav(
        username=connection.caldav_username,
        password=unseal(connection.caldav_password),
    )


def trouble_record(connection: CalendarConnection, doing: tuple[str, str], exc: Exception):
    """Show why on the connection, Dutch first: "<gedaan>: <reden> / <done>: <reason>".

    CalDAVTrouble says why in both languages; anything else is a server's answer nobody
    foresaw (or a bug): its type is shown, the rest goes to the log."""
    if isinstance(exc, CalDAVTrouble | OutboundError):
        exc = explain(exc)  # the reason a wrapped failure hides (too large, cut off...)
        english, dutch = str(exc), exc.dutch
    else:
        log.error("caldav connection %s: unforeseen trouble", connection.pk, exc_info=exc)
        english, dutch = f"{type(exc).__name__}: {str(exc)[:300]}", UNFORESEEN
    connection_error_record(connection, f"{doing[1]}: {dutch} / {doing[0]}: {english}")


def _plain_http_refuse(connection: CalendarConnection) -> bool:
    """An http:// address (stored before it was refused, or set in the admin) where that
    is not allowed: say so instead of sending the password in clear. True if refused."""
    if not plain_http_refused(connection.url):
        return False
    trouble_record(connection, SYNCING, DavError(PLAIN_HTTP[0], dutch=PLAIN_HTTP[1]))
    return True


# --- add, change, remove ------------------------------------------------------------------


def caldav_connection_create(
    *, practitioner: Practitioner, url: str, username: str, password: str, name: str = ""
) -> CalendarConnection:
    """Store the account (password encrypted); discovery runs in a task after commit.
    Raises FeedFetchError for an address we will not contact (same rules as ICS feeds) or
    an http:// one where that is not allowed (the password would travel in clear)."""
    url = caldav_url_check(url)
    return CalendarConnection.objects.create(
        practitioner=practitioner,
        kind=CalendarConnection.Kind.CALDAV,
        url=url,
        name=name,
        caldav_username=username,
        caldav_password=seal(password),
        push_calendar_id="",
        busy_calendar_ids=[],
    )


def caldav_url_check(url: str) -> str:
    """The address as it will be stored, or FeedFetchError saying why it is refused:
    the address rules of ICS feeds first (so a refused host reads the same for both),
    then no plain http:// unless private addresses are allowed (tests, on-premise)."""
    url = normalise_feed_url(url)
    check_address(url)
    if plain_http_refused(url):
        raise FeedFetchError(PLAIN_HTTP[0])
    return url


def caldav_connection_update(
    *, connection: CalendarConnection, now: datetime, **fields
) -> CalendarConnection:
    """Change name, account, calendars. A new password (or user name) clears
    reconnect_needed and makes everything that waited due at once."""
    password = fields.pop("password", None)
    username = fields.pop("username", None)
    with transaction.atomic():
        connection = CalendarConnection.objects.select_for_update().get(pk=connection.pk)
        credentials = password is not None or (
            username is not None and username != connection.caldav_username
        )
        if username is not None:
            connection.caldav_username = username
        if password is not None:
            connection.caldav_password = seal(password)
        if credentials:
            connection.status = CalendarConnection.Status.OK
            connection.last_error = ""
            connection.alerted_at = None
            outbox.connection_retry_now(connection_id=connection.pk, now=now)
        new_push = fields.get("push_calendar_id")
        moved = new_push is not None and new_push != connection.push_calendar_id
        for name, value in fields.items():
            setattr(connection, name, value)
        connection.save()
        if moved:  # every live session moves to the newly chosen calendar
            _live_sessions_enqueue(connection, now)
    return connection


def _live_sessions_enqueue(connection: CalendarConnection, now: datetime) -> list[int]:
    sessions = Session.objects.filter(
        practitioner_id=connection.practitioner_id,
        status=Session.Status.CONFIRMED,
        booking__status=Booking.Status.CONFIRMED,
        end__gt=now,
    )
    rows = OutboxItem.objects.bulk_create(
        OutboxItem(
            kind=OutboxItem.Kind.CALDAV,
            practitioner_id=connection.practitioner_id,
            connection_id=connection.pk,
            session=session,
            created_at=now,
            next_attempt_at=now,
        )
        for session in sessions
    )
    ids = [row.pk for row in rows if row.pk is not None]
    if ids:
        transaction.on_commit(lambda: outbox.kick(ids))
    return ids


# --- discovery ----------------------------------------------------------------------------


def caldav_connection_setup(*, connection: CalendarConnection, now: datetime) -> bool:
    """Find the calendars; choose defaults (the first event calendar both ways); push the
    live sessions the first time; deliver what waited; pull. False when it failed."""
    connection.refresh_from_db()
    if connection.status == CalendarConnection.Status.RECONNECT_NEEDED:
        return False
    CalendarConnection.objects.filter(pk=connection.pk).update(last_synced_at=now)
    if _plain_http_refuse(connection):
        return False
    with _dav(connection) as dav:
        try:
            account = account_discover(
                url=connection.url,
                username=connection.caldav_username,
                password=unseal(connection.caldav_password),
                dav=dav,
            )
        except AuthRefused as exc:
            reconnect_needed(connection=connection, message=str(exc), now=now)
            return False
        except Exception as exc:  # CalDAVTrouble, or what a server sent that no parser foresaw
            trouble_record(connection, FINDING, exc)
            return False
    with transaction.atomic():
        connection = CalendarConnection.objects.select_for_update().get(pk=connection.pk)
        ids = [c.url for c in account.calendars]
        first_time = not connection.push_calendar_id
        if connection.push_calendar_id not in ids:
            connection.push_calendar_id = next(
                (c.url for c in account.calendars if c.takes_events), ""
            )
        if not connection.busy_calendar_ids and connection.push_calendar_id:
            connection.busy_calendar_ids = [connection.push_calendar_id]
        connection.caldav_home_url = account.home_url
        connection.available_calendars = [{"id": c.url, "name": c.name} for c in account.calendars]
        connection.status = CalendarConnection.Status.OK
        connection.last_error = ""
        connection.save(
            update_fields=[
                "push_calendar_id",
                "busy_calendar_ids",
                "caldav_home_url",
                "available_calendars",
                "status",
                "last_error",
            ]
        )
        if first_time and connection.push_calendar_id:
            _live_sessions_enqueue(connection, now)
    outbox.deliver_due(now=now, connection_id=connection.pk)
    caldav_connection_pull(connection=connection, now=now, force=True)
    return True


# --- push (outbox items of kind "caldav") -------------------------------------------------


def push_item_deliver(item: OutboxItem, *, now: datetime, clients: dict) -> int:
    """Deliver one claimed outbox item: make the server match its session. 1 when done."""
    connection = item.connection
    if connection.pk not in clients:
        clients[connection.pk] = _dav(connection)
    dav = clients[connection.pk]
    if dav is None:
        return 0  # refused earlier in this round: no more calls
    session = item.session
    # The rows this push answers for: those pending now (a later change leaves its own).
    pending = list(
        OutboxItem.objects.filter(
            connection=connection, session=session, done_at__isnull=True
        ).values_list("pk", flat=True)
    )
    try:
        session.refresh_from_db()
        connection.refresh_from_db()
        session_push(connection=connection, session=session, dav=dav)
    except AuthRefused as exc:
        dav.close()
        clients[connection.pk] = None
        reconnect_needed(connection=connection, message=str(exc), now=now)
        return 0
    except DavError as exc:
        outbox.retry_later(item, str(exc), now, at_least=timedelta(hours=1))
        trouble_record(connection, REFUSED, exc)
        return 0
    except CalDAVTrouble as exc:  # 5xx, timeouts, dropped answers: back off, try again
        outbox.retry_later(item, str(exc), now)
        trouble_record(connection, SENDING, exc)
        return 0
    outbox.done(*pending, now=now)
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.Status.OK, last_error=""
    )
    return 1


def clients_close(clients: dict) -> None:
    for dav in clients.values():
        if dav is not None:
            dav.close()


# --- pull ---------------------------------------------------------------------------------


def caldav_connections_due(*, now: datetime) -> list[int]:
    """Connections to poll now: CALDAV_POLL_MINUTES after the last try; after a failure,
    as long again as the trouble has lasted (doubling), at most MAX_PULL_BACKOFF."""
    poll = timedelta(minutes=settings.CALDAV_POLL_MINUTES)
    due = []
    for pk, tried, succeeded, created, status in (
        CalendarConnection.objects.filter(kind=CalendarConnection.Kind.CALDAV)
        .exclude(status=CalendarConnection.Status.RECONNECT_NEEDED)
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lte=now - poll))
        .values_list("pk", "last_synced_at", "last_success_at", "created_at", "status")
    ):
        wait = poll
        if status == CalendarConnection.Status.ERROR and tried is not None:
            wait = min(max(poll, tried - (succeeded or created)), MAX_PULL_BACKOFF)
        if tried is None or now - tried >= wait:
            due.append(pk)
    return due


def caldav_connection_pull(
    *, connection: CalendarConnection, now: datetime, force: bool = False
) -> bool:
    """Mirror the busy calendars' changes. Claims the connection first (two workers never
    pull it at once). A failure is recorded and keeps the busy time known before."""
    claim = CalendarConnection.objects.filter(pk=connection.pk).exclude(
        status=CalendarConnection.Status.RECONNECT_NEEDED
    )
    if not force:
        cutoff = now - timedelta(minutes=settings.CALDAV_POLL_MINUTES)
        claim = claim.filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lte=cutoff))
    if not claim.update(last_synced_at=now):
        return False
    connection.refresh_from_db()
    if not connection.caldav_home_url:
        return caldav_connection_setup(connection=connection, now=now)
    if _plain_http_refuse(connection):
        return True
    practitioner = connection.practitioner
    wanted = list(connection.busy_calendar_ids or [])
    for stale in connection.caldav_calendars.exclude(url__in=wanted):
        _drop_mirror(stale)
    states = {s.url: s for s in connection.caldav_calendars.all()}
    # The home listing (one PROPFIND) is needed for calendars not yet synced or without
    # sync-collection (their ctag), and hourly for the names; otherwise the sync-collection
    # REPORT alone says whether anything changed.
    listing_due = (
        connection.caldav_listed_at is None
        or now - connection.caldav_listed_at >= LISTING_REFRESH
        or any(url not in states or states[url].sync_collection is not True for url in wanted)
    )
    warnings: list[str] = []
    listing = None
    with _dav(connection) as dav:
        try:
            if listing_due:
                found = calendars_list(home_url=connection.caldav_home_url, dav=dav)
                listing = {c.url: c for c in found}
            start = now - MIRROR_PAST
            end = now + timedelta(days=horizon_days(practitioner))
            for url in wanted:
                state = (
                    states.get(url)
                    or CalDAVCalendar.objects.get_or_create(connection=connection, url=url)[0]
                )
                if listing is not None and url not in listing:
                    warnings.append("A calendar chosen to block time no longer exists.")
                    _drop_mirror(state)
                    continue
                result = calendar_pull(
                    state=state,
                    listing=listing[url] if listing is not None else None,
                    dav=dav,
                    practitioner=practitioner,
                    now=now,
                    start=start,
                    end=end,
                    block_all_day=connection.block_all_day,
                )
                warnings += result.warnings
        except AuthRefused as exc:
            reconnect_needed(connection=connection, message=str(exc), now=now)
            return True
        except ImportLimitError as exc:  # as for a feed: too heavy, the last busy time holds
            _record_limit(connection, str(exc))
            return True
        except Exception as exc:  # CalDAVTrouble, or what a server sent that no parser foresaw
            trouble_record(connection, READING, exc)
            return True
    done = {
        "status": CalendarConnection.Status.OK,
        "last_success_at": now,
        "last_error": "",
        "warnings": warnings[:50],
    }
    if listing is not None:
        done["available_calendars"] = [{"id": c.url, "name": c.name} for c in listing.values()]
        done["caldav_listed_at"] = now
    CalendarConnection.objects.filter(pk=connection.pk).update(**done)
    return True


def _drop_mirror(state: CalDAVCalendar) -> None:
    with transaction.atomic():
        BusyBlock.objects.filter(source=state.busy_source).delete()
        state.delete()
        schedule_changed(state.connection.practitioner_id)


# --- when it breaks -----------------------------------------------------------------------


def reconnect_needed(*, connection: CalendarConnection, message: str, now: datetime) -> None:
    """The password is refused: say so on the connection, e-mail the practitioner once."""
    log.warning("caldav connection %s: %s", connection.pk, message)
    with transaction.atomic():
        CalendarConnection.objects.filter(pk=connection.pk).update(
            status=CalendarConnection.Status.RECONNECT_NEEDED, last_error=RECONNECT_MESSAGE
        )
        first = CalendarConnection.objects.filter(pk=connection.pk, alerted_at__isnull=True).update(
            alerted_at=now
        )
        connection.refresh_from_db()
        if first:
            mail.reconnect_needed_queue(connection, now=now)


def caldav_connection_sync_now(*, connection: CalendarConnection, now: datetime) -> None:
    """What `synccalendars` does for one CalDAV connection: discovery if still pending,
    then deliver its waiting pushes and pull."""
    if connection.status == CalendarConnection.Status.RECONNECT_NEEDED:
        return
    if not connection.caldav_home_url:
        caldav_connection_setup(connection=connection, now=now)
        return
    outbox.deliver_due(now=now, connection_id=connection.pk)
    caldav_connection_pull(connection=connection, now=now, force=True)
