"""The wait list: clients waiting for a time that is full now, offered freed times.

Rules kept here (the e-mails are sync/waitlist.py's, through the outbox):
- An entry waits for one appointment type and a range of local dates of the first session
  (not in the past, latest >= earliest, inside the type's horizon, at most
  MAX_SLOT_RANGE_DAYS long as for GET /api/v1/slots/). An address (in its normal form,
  scheduler.emails) may hold WAITLIST_MAX_ENTRIES_PER_EMAIL waiting entries with one
  practitioner; joins are serialised per practitioner, so parallel ones cannot pass it.
- A time is offered when it is free as the slot engine sees it (selectors.slot_list: type,
  hours, busy time, notice, horizon; a series only when its whole set fits) and lies outside
  the client change window (booking.client_change_notice()).
- Times already free when the client joined are recorded as seen, never offered: the client
  saw them and chose the list. No entry is offered the same start twice (a unique
  constraint), nor more than one start per wave.
- Waves: per start, the WAITLIST_WAVE_SIZE oldest matching entries; the next wave only when
  WAITLIST_WAVE_MINUTES have passed since the last one and the time is still free.
- Claiming is an ordinary booking (booking_create: lock, engine re-check, exclusion
  constraint). The first claim wins and the entry leaves the list (claimed); a later claim
  gets "taken" with the nearest free times, and its entry keeps waiting.
"""

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from scheduler.booking import (
    BookingResult,
    ClientDetails,
    booking_create,
    client_change_notice,
    secret_hash,
)
from scheduler.bounds import MAX_SLOT_RANGE_DAYS
from scheduler.emails import email_normalise
from scheduler.exceptions import SchedulingError, SlotUnavailable
from scheduler.lifecycle import status_update
from scheduler.models import AppointmentType, Booking, WaitlistEntry, WaitlistOffer
from scheduler.practice import practitioner_lock
from scheduler.selectors import slot_alternatives, slot_list
from scheduler.signals import waitlist_joined
from scheduler.types import Slot

ALTERNATIVES = 3


class TooManyWaitlistEntries(SchedulingError):
    code = "too_many_waitlist_entries"
    status_code = 409
    default_detail = _(
        "This e-mail address is already on the wait list several times. "
        "Please leave one of those first."
    )


@dataclass(frozen=True)
class JoinResult:
    entry: WaitlistEntry
    manage_token: str  # the raw leave-the-list token: known only now


@dataclass(frozen=True)
class Offer:
    """One start to offer to some entries in this wave."""

    slot: Slot
    entries: list[WaitlistEntry]


@dataclass
class ClaimOutcome:
    """`won`: the booking is made (result set, or already made by this same offer).
    Else `reason` is "taken" (alternatives listed; the entry keeps waiting) or
    "not_waiting" (the entry left, expired or won another time)."""

    won: bool
    result: BookingResult | None = None
    booking: Booking | None = None
    reason: str = ""
    alternatives: list[Slot] = field(default_factory=list)


# --- joining and leaving ---------------------------------------------------------------


def waitlist_range_check(
    *, appointment_type: AppointmentType, earliest: date, latest: date, now: datetime
) -> None:
    """ValidationError (per field) unless [earliest, latest] can still be offered."""
    today = now.astimezone(appointment_type.practitioner.zone).date()
    horizon = today + timedelta(days=appointment_type.max_days_ahead)
    errors = {}
    if earliest < today:
        errors["earliest"] = [_("This date has passed.")]
    if latest < earliest:
        errors["latest"] = [_("Must not be before the first date.")]
    elif latest > horizon:
        errors["latest"] = [
            _("Times can be booked up to %(days)d days ahead.")
            % {"days": appointment_type.max_days_ahead}
        ]
    elif (latest - earliest).days >= MAX_SLOT_RANGE_DAYS:
        # Joining records every free time of the range as seen: bounded like the slots API.
        errors["latest"] = [
            _("The range may span at most %(days)d days.") % {"days": MAX_SLOT_RANGE_DAYS}
        ]
    if errors:
        raise ValidationError(errors)


def waitlist_join(
    *,
    appointment_type: AppointmentType,
    client: ClientDetails,
    earliest: date,
    latest: date,
    now: datetime,
) -> JoinResult:
    """Put the client on the list; the confirmation e-mail (with the leave link) follows
    the commit through the `waitlist_joined` signal."""
    waitlist_range_check(
        appointment_type=appointment_type, earliest=earliest, latest=latest, now=now
    )
    email = email_normalise(client.email)  # as the cap compares it and the mail goes
    # What is free now the client has seen: only times freed later are offered. Read before
    # the lock (it is the slow part): a time booked meanwhile is merely recorded as seen, a
    # time freed meanwhile is not, and is offered.
    seen = slot_list(
        appointment_type=appointment_type, first_day=earliest, last_day=latest, now=now
    )
    with transaction.atomic():
        # Joins of one practice wait for each other, so each counts every entry committed
        # before it.
        practitioner_lock(appointment_type.practitioner_id)
        limit = settings.WAITLIST_MAX_ENTRIES_PER_EMAIL
        held = WaitlistEntry.objects.filter(
            practitioner_id=appointment_type.practitioner_id,
            email__iexact=email,
            status=WaitlistEntry.Status.WAITING,
        ).count()
        if limit > 0 and held >= limit:
            raise TooManyWaitlistEntries()
        token = secrets.token_urlsafe(32)
        entry = WaitlistEntry(
            practitioner_id=appointment_type.practitioner_id,
            appointment_type=appointment_type,
            name=client.name,
            email=email,
            phone=client.phone,
            language=client.language,
            earliest=earliest,
            latest=latest,
            manage_token_hash=secret_hash(token),
            created_at=now,
            updated_at=now,
        )
        entry.full_clean(exclude=["practitioner", "appointment_type", "booking"])
        entry.save()
        WaitlistOffer.objects.bulk_create(
            WaitlistOffer(entry=entry, start=slot.start, created_at=now) for slot in seen
        )
        waitlist_joined.send(sender=WaitlistEntry, entry=entry, manage_token=token)
    return JoinResult(entry=entry, manage_token=token)


def waitlist_entry_by_token(token: str) -> WaitlistEntry | None:
    """The entry a leave-the-list token opens, or None. Compared by its hash only."""
    digest = secret_hash(token)
    entry = (
        WaitlistEntry.objects.select_related("appointment_type", "practitioner")
        .filter(manage_token_hash=digest)
        .first()
    )
    if entry is None or not hmac.compare_digest(entry.manage_token_hash, digest):
        return None
    return entry


def waitlist_leave(*, entry: WaitlistEntry, now: datetime) -> WaitlistEntry:
    """Take a waiting entry off the list (nothing more is offered); otherwise no change."""
    status_update(
        WaitlistEntry.objects.filter(pk=entry.pk), WaitlistEntry.Status.LEFT, updated_at=now
    )
    entry.refresh_from_db()
    return entry


def waitlist_expire(*, now: datetime) -> int:
    """Entries whose last date has passed (in their practitioner's zone) expire."""
    expired = 0
    waiting = WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
    zones = waiting.values_list("practitioner__timezone", flat=True).distinct()
    for zone_name in zones:
        today = now.astimezone(ZoneInfo(zone_name)).date()
        expired += status_update(
            waiting.filter(practitioner__timezone=zone_name, latest__lt=today),
            WaitlistEntry.Status.EXPIRED,
            updated_at=now,
        )
    return expired


def waitlist_entry_list(*, practitioner_id: int, status: str | None = None) -> list[WaitlistEntry]:
    """The practitioner's entries, oldest first (the order offers go out in)."""
    entries = WaitlistEntry.objects.filter(practitioner_id=practitioner_id).order_by(
        "created_at", "pk"
    )
    if status:
        entries = entries.filter(status=status)
    return list(entries)


# --- offering --------------------------------------------------------------------------


def waitlist_offers_due(*, appointment_type: AppointmentType, now: datetime) -> list[Offer]:
    """This wave's offers for one type: per free start, the oldest matching entries that
    have not had that start, up to the wave size. Reads only; the caller records them
    (waitlist_offer_record) under the practitioner's lock."""
    entries = list(
        WaitlistEntry.objects.filter(
            appointment_type=appointment_type, status=WaitlistEntry.Status.WAITING
        ).order_by("created_at", "pk")
    )
    if not entries:
        return []
    zone = appointment_type.practitioner.zone
    today = now.astimezone(zone).date()
    first = max(today, min(e.earliest for e in entries))
    last = min(
        max(e.latest for e in entries), today + timedelta(days=appointment_type.max_days_ahead)
    )
    if last < first:
        return []
    cutoff = now + client_change_notice()
    slots = [
        s
        for s in slot_list(
            appointment_type=appointment_type, first_day=first, last_day=last, now=now
        )
        if s.start >= cutoff
    ]
    if not slots:
        return []
    wave_gap = timedelta(minutes=settings.WAITLIST_WAVE_MINUTES)
    had: set[tuple[int, datetime]] = set()
    resting: set[int] = set()  # had an e-mailed offer in the current wave period
    last_wave: dict[datetime, datetime] = {}
    for entry_id, start, created_at, mailed in WaitlistOffer.objects.filter(
        entry__in=entries, start__gte=slots[0].start, start__lte=slots[-1].start
    ).values_list("entry_id", "start", "created_at", "claim_token_hash"):
        had.add((entry_id, start))
        if mailed:
            last_wave[start] = max(last_wave.get(start, created_at), created_at)
    for entry_id in (
        WaitlistOffer.objects.filter(
            entry__in=entries, claim_token_hash__isnull=False, created_at__gt=now - wave_gap
        )
        .values_list("entry_id", flat=True)
        .distinct()
    ):
        resting.add(entry_id)
    offers = []
    for slot in slots:
        previous = last_wave.get(slot.start)
        if previous is not None and previous > now - wave_gap:
            continue  # this start's wave is still open
        day = slot.start.astimezone(zone).date()
        chosen = [
            e
            for e in entries
            if e.earliest <= day <= e.latest
            and (e.pk, slot.start) not in had
            and e.pk not in resting
        ][: settings.WAITLIST_WAVE_SIZE]
        if chosen:
            resting.update(e.pk for e in chosen)
            offers.append(Offer(slot=slot, entries=chosen))
    return offers


def waitlist_offer_record(*, entry: WaitlistEntry, start: datetime, now: datetime) -> str:
    """Record that `start` is offered to `entry`; the raw claim token (only known now)."""
    token = secrets.token_urlsafe(32)
    WaitlistOffer.objects.create(
        entry=entry, start=start, claim_token_hash=secret_hash(token), created_at=now
    )
    return token


def waitlist_offer_by_token(token: str) -> WaitlistOffer | None:
    digest = secret_hash(token)
    offer = (
        WaitlistOffer.objects.select_related(
            "entry__appointment_type__practitioner", "entry__booking"
        )
        .filter(claim_token_hash=digest)
        .first()
    )
    if offer is None or not hmac.compare_digest(offer.claim_token_hash or "", digest):
        return None
    return offer


# --- claiming --------------------------------------------------------------------------


class _NotWaiting(Exception):
    pass


def waitlist_claim(*, offer: WaitlistOffer, now: datetime) -> ClaimOutcome:
    """Book the offered start for the entry's client. The first claim wins; TooManyBookings
    (the address's cap) passes through to the caller."""
    entry = offer.entry
    if entry.status == WaitlistEntry.Status.CLAIMED and offer.claimed_at is not None:
        return ClaimOutcome(won=True, booking=entry.booking)  # this link, clicked again
    if entry.status != WaitlistEntry.Status.WAITING:
        return ClaimOutcome(won=False, reason="not_waiting")
    appointment_type = entry.appointment_type
    try:
        if offer.start - now < client_change_notice():
            raise SlotUnavailable()
        with transaction.atomic():
            result = booking_create(
                appointment_type=appointment_type,
                start=offer.start,
                client=ClientDetails(
                    name=entry.name, email=entry.email, phone=entry.phone, language=entry.language
                ),
                now=now,
            )
            won = status_update(
                WaitlistEntry.objects.filter(pk=entry.pk),
                WaitlistEntry.Status.CLAIMED,
                booking=result.booking,
                updated_at=now,
            )
            if not won:
                raise _NotWaiting  # won another offered time meanwhile: book nothing
            WaitlistOffer.objects.filter(pk=offer.pk).update(claimed_at=now)
    except SlotUnavailable:
        return ClaimOutcome(
            won=False,
            reason="taken",
            alternatives=slot_alternatives(
                appointment_type=appointment_type, near=offer.start, now=now, count=ALTERNATIVES
            ),
        )
    except _NotWaiting:
        return ClaimOutcome(won=False, reason="not_waiting")
    entry.refresh_from_db()
    return ClaimOutcome(won=True, result=result, booking=result.booking)


def waitlist_offer_open(*, offer: WaitlistOffer, now: datetime) -> bool:
    """Whether the offered start can still be claimed (for the claim page's first view)."""
    from scheduler.selectors import slot_find

    if offer.entry.status != WaitlistEntry.Status.WAITING:
        return False
    if offer.start - now < client_change_notice():
        return False
    slot, _rules = slot_find(
        appointment_type=offer.entry.appointment_type, start=offer.start, now=now
    )
    return slot is not None
