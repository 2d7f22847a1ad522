"""The practitioner's outgoing iCalendar feeds: bookings with details, and busy time only.

Every session is one VEVENT with a stable UID, UTC times, DTSTAMP and LAST-MODIFIED from
the data (not the clock, or every fetch would look like a change), SEQUENCE from the
session and STATUS CONFIRMED or CANCELLED. Cancelled sessions stay in the feed for
CANCELLED_KEEP_DAYS so that subscribers see them go.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from scheduler.models import Practitioner, Session
from sync.ics.writer import instant, line, text
from sync.models import FeedToken

CANCELLED_KEEP_DAYS = 30
REFRESH = "PT15M"
PRODID = "-//BSR scheduling service//Feeds 1.0//NL"


@dataclass(frozen=True)
class FeedWindow:
    """Which sessions a feed holds; moves once a day, so the feed is stable within a day."""

    start: datetime
    cancelled_since: datetime

    @classmethod
    def at(cls, now: datetime) -> "FeedWindow":
        today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
        return cls(
            start=today - timedelta(days=settings.ICS_FEED_PAST_DAYS),
            cancelled_since=today - timedelta(days=CANCELLED_KEEP_DAYS),
        )


SESSION_FIELDS = ("pk", "start", "end", "status", "sequence", "updated_at")
DETAIL_FIELDS = (
    "booking_id",
    "booking__client_name",
    "booking__client_email",
    "booking__client_phone",
    "booking__notes",
    "booking__appointment_type__name",
)


def feed_sessions(*, practitioner: Practitioner, window: FeedWindow, with_details: bool):
    """The feed's sessions as named rows, in one bounded query, in start order."""
    sessions = (
        Session.objects.filter(practitioner=practitioner, end__gte=window.start)
        .filter(Q(status=Session.Status.CONFIRMED) | Q(updated_at__gte=window.cancelled_since))
        .order_by("start", "pk")
    )
    fields = SESSION_FIELDS + (DETAIL_FIELDS if with_details else ())
    return sessions.values_list(*fields, named=True)


def feed_etag(*, token: FeedToken, window: FeedWindow) -> str:
    """Changes whenever the feed's content can: a schedule change, a rename, a new day."""
    practitioner = token.practitioner
    key = f"{token.kind}:{token.token}:{practitioner.schedule_version}:{practitioner.name}:"
    key += window.start.isoformat()
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def feed_last_modified(*, token: FeedToken, window: FeedWindow) -> datetime:
    changed = token.practitioner.schedule_changed_at or token.created_at
    return max(changed, token.created_at, window.start)


def feed_build(*, token: FeedToken, window: FeedWindow, admin_url=None) -> str:
    """The whole feed as text. `admin_url(booking_id)` links bookings to the admin."""
    practitioner = token.practitioner
    with_details = token.kind == FeedToken.Kind.BOOKINGS
    title = practitioner.name if with_details else f"{practitioner.name} (bezet/busy)"
    parts = [
        "BEGIN:VCALENDAR\r\n",
        line("VERSION", "2.0"),
        line("PRODID", PRODID),
        line("CALSCALE", "GREGORIAN"),
        line("X-WR-CALNAME", text(title)),
        line("REFRESH-INTERVAL;VALUE=DURATION", REFRESH),
        line("X-PUBLISHED-TTL", REFRESH),
    ]
    domain = settings.ICS_UID_DOMAIN
    sessions = feed_sessions(practitioner=practitioner, window=window, with_details=with_details)
    for session in sessions:
        changed = instant(session.updated_at)
        cancelled = session.status == Session.Status.CANCELLED
        parts += [
            "BEGIN:VEVENT\r\n",
            line("UID", f"{token.kind}-{session.pk}@{domain}"),
            line("DTSTAMP", changed),
            line("LAST-MODIFIED", changed),
            line("DTSTART", instant(session.start)),
            line("DTEND", instant(session.end)),
            line("SEQUENCE", str(session.sequence)),
            line("STATUS", "CANCELLED" if cancelled else "CONFIRMED"),
        ]
        if with_details:
            name = session.booking__client_name
            summary = f"{name} ({session.booking__appointment_type__name})"
            details = [
                f"Cliënt / client: {name}",
                f"E-mail: {session.booking__client_email}",
                f"Telefoon / phone: {session.booking__client_phone or '-'}",
                f"Notities / notes: {session.booking__notes or '-'}",
            ]
            if admin_url is not None:
                details.append(f"Boeking / booking: {admin_url(session.booking_id)}")
            parts += [line("SUMMARY", text(summary)), line("DESCRIPTION", text("\n".join(details)))]
        else:
            parts += [line("SUMMARY", "Bezet / Busy"), line("CLASS", "PRIVATE")]
        parts += [line("TRANSP", "OPAQUE"), "END:VEVENT\r\n"]
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


def feed_tokens(practitioner: Practitioner) -> dict[str, FeedToken]:
    """The practitioner's feed secrets, made on first use."""
    tokens = {t.kind: t for t in practitioner.feeds.all()}
    for kind in FeedToken.Kind.values:
        if kind not in tokens:
            tokens[kind] = FeedToken.objects.get_or_create(practitioner=practitioner, kind=kind)[0]
    return tokens


def feed_tokens_rotate(practitioner: Practitioner) -> dict[str, FeedToken]:
    """New secrets for every feed; the old URLs stop working at once."""
    with transaction.atomic():
        FeedToken.objects.filter(practitioner=practitioner).delete()
        return {
            kind: FeedToken.objects.create(practitioner=practitioner, kind=kind)
            for kind in FeedToken.Kind.values
        }
