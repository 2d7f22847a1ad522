"""Wait-list e-mails: the joined confirmation (with the leave link) and the offers of freed
times (with a claim link each), rendered now and left in the outbox (sync/outbox.py).

`waitlist_offers_send` runs after a cancellation or reschedule commits (sync/receivers.py)
and on beat's sweep, which also covers new hours and removed busy time.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from scheduler.models import AppointmentType, WaitlistEntry
from scheduler.practice import practitioner_lock
from scheduler.types import Slot
from scheduler.waitlist import waitlist_expire, waitlist_offer_record, waitlist_offers_due
from sync.mail import _queue


def waitlist_manage_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("waitlist-page", args=[token])


def waitlist_claim_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("waitlist-claim", args=[token])


def waitlist_joined_queue(entry: WaitlistEntry, *, manage_token: str, now: datetime):
    practitioner = entry.practitioner
    return _queue(
        practitioner_id=practitioner.pk,
        now=now,
        to=entry.email,
        template="client_waitlist_joined",
        context={
            "entry": entry,
            "practitioner": practitioner,
            "manage_url": waitlist_manage_url(manage_token),
        },
        language=entry.language,
        zone=practitioner.timezone,
        reply_to=practitioner.email or None,
    )


def waitlist_offer_queue(entry: WaitlistEntry, *, slot: Slot, claim_token: str, now: datetime):
    practitioner = entry.practitioner
    zone = practitioner.zone
    return _queue(
        practitioner_id=practitioner.pk,
        now=now,
        to=entry.email,
        template="client_waitlist_offer",
        context={
            "entry": entry,
            "practitioner": practitioner,
            "sessions": [
                {"start": s.start.astimezone(zone), "end": s.end.astimezone(zone)}
                for s in slot.sessions
            ],
            "zone": practitioner.timezone,
            "claim_url": waitlist_claim_url(claim_token),
        },
        language=entry.language,
        zone=practitioner.timezone,
        reply_to=practitioner.email or None,
    )


def waitlist_offers_send(*, practitioner_id: int, now: datetime) -> int:
    """Offer this practitioner's free times to the waiting entries (one wave); how many
    offers went into the outbox. One sender per practitioner at a time, and none while a
    booking of theirs is made or changed (the practitioner's lock)."""
    with transaction.atomic():
        practitioner = practitioner_lock(practitioner_id)
        if practitioner is None:
            return 0
        types = AppointmentType.objects.filter(
            practitioner=practitioner,
            active=True,
            waitlist_entries__status=WaitlistEntry.Status.WAITING,
        ).distinct()
        sent = 0
        for appointment_type in types:
            appointment_type.practitioner = practitioner
            for offer in waitlist_offers_due(appointment_type=appointment_type, now=now):
                for entry in offer.entries:
                    entry.practitioner = practitioner
                    token = waitlist_offer_record(entry=entry, start=offer.slot.start, now=now)
                    waitlist_offer_queue(entry, slot=offer.slot, claim_token=token, now=now)
                    sent += 1
    return sent


def waitlist_sweep(*, now: datetime) -> int:
    """Beat: expire past entries, then one wave for every practitioner with waiting ones."""
    waitlist_expire(now=now)
    practitioners = (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
        .values_list("practitioner_id", flat=True)
        .distinct()
    )
    return sum(waitlist_offers_send(practitioner_id=pk, now=now) for pk in list(practitioners))
