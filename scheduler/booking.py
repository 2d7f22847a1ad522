"""Writes: book, cancel, reschedule. Each is one transaction that re-checks the rules.

The code serialises bookings per practitioner (a row lock on PostgreSQL, IMMEDIATE
transactions on SQLite) and re-runs the slot engine before it writes. Under that, the
database is the last line: PostgreSQL's exclusion constraint refuses any two live
sessions of one practitioner whose blocked spans overlap, and such a refusal becomes
SlotUnavailable.
"""

import base64
import copy
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from scheduler.bounds import MAX_DAYS_AHEAD
from scheduler.emails import email_normalise
from scheduler.exceptions import (
    BookingNotChangeable,
    IdempotencyKeyReused,
    SlotUnavailable,
    TooManyBookings,
)
from scheduler.lifecycle import status_move
from scheduler.models import AppointmentType, Booking, Session
from scheduler.practice import practitioner_lock, schedule_changed
from scheduler.selectors import slot_choose
from scheduler.signals import booking_cancelled, booking_created, booking_rescheduled
from scheduler.slots import InvalidSessions, blocked_span
from scheduler.types import Slot, SlotRules

EXCLUSION_VIOLATION = "23P01"  # PostgreSQL SQLSTATE of an EXCLUDE constraint refusal


@dataclass(frozen=True)
class ClientDetails:
    name: str
    email: str
    phone: str = ""
    notes: str = ""
    language: str = Booking.Language.DUTCH


@dataclass(frozen=True)
class BookingResult:
    booking: Booking
    # The raw manage token: known to the request that created the booking, and to a
    # replay of it with the same Idempotency-Key. It is never stored in the clear.
    manage_token: str | None
    replayed: bool = False


def secret_hash(secret: str) -> str:
    """How a secret the client holds is stored and looked up: manage, leave-the-list and
    claim tokens, Idempotency-Keys. The secret itself is never stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def booking_by_manage_token(token: str) -> Booking | None:
    """The booking a manage token opens, or None. The token is compared by its hash only."""
    digest = secret_hash(token)
    booking = Booking.objects.filter(manage_token_hash=digest).first()
    if booking is None or not hmac.compare_digest(booking.manage_token_hash, digest):
        return None
    return booking


def booking_create(
    *,
    appointment_type: AppointmentType,
    start: datetime,
    client: ClientDetails,
    now: datetime,
    idempotency_key: str | None = None,
    by_practitioner: bool = False,
    notice_waived: bool = False,
    sessions: list[datetime] | None = None,
) -> BookingResult:
    """Book every session of the slot starting at `start`, or none of them.

    `sessions`, if given, is the client's choice of every session's start inside the
    series' windows (the first equal to `start`); without it the proposed set is booked.
    A choice outside the windows or out of order is a ValidationError on `sessions`; a
    chosen session that is not free is SlotUnavailable.

    Raises SlotUnavailable if the slot is not offered right now, IdempotencyKeyReused if
    the key came with another request, TooManyBookings if the client's e-mail address
    already holds MAX_UPCOMING_BOOKINGS_PER_EMAIL upcoming bookings with this practitioner
    (not checked when `by_practitioner`: the practitioner books for a client), and
    ValidationError for bad client details. With `notice_waived` (the practitioner's
    workspace) the type's minimum notice and horizon do not apply.
    """
    fingerprint = _request_fingerprint(appointment_type.pk, start, client, sessions)
    # Stored and capped as the mail will go: one mailbox, however it was written.
    email = email_normalise(client.email)
    try:
        with transaction.atomic():
            _lock_practitioner(appointment_type.practitioner_id)
            if idempotency_key:
                earlier = _booking_by_idempotency_key(idempotency_key)
                if earlier is not None:
                    return _replay(earlier, fingerprint, idempotency_key)
            if not AppointmentType.objects.filter(pk=appointment_type.pk, active=True).exists():
                raise SlotUnavailable("This appointment type cannot be booked.")
            if not by_practitioner:
                # Under the practitioner's lock: parallel requests cannot all pass the cap.
                _check_upcoming_cap(appointment_type.practitioner_id, email, now)
            slot, rules = _offered_slot(
                _as_booked_by(appointment_type, notice_waived=notice_waived),
                start,
                now,
                sessions=sessions,
            )
            token = secrets.token_urlsafe(32)
            booking = Booking(
                practitioner_id=appointment_type.practitioner_id,
                appointment_type=appointment_type,
                client_name=client.name,
                client_email=email,
                client_phone=client.phone,
                notes=client.notes,
                language=client.language,
                manage_token_hash=secret_hash(token),
                idempotency_key_hash=secret_hash(idempotency_key) if idempotency_key else None,
                manage_token_sealed=_seal(token, idempotency_key) if idempotency_key else "",
                request_fingerprint=fingerprint,
                created_at=now,
                updated_at=now,
            )
            # Uniqueness and the foreign keys are the database's to enforce (and were just
            # read); full_clean would query for each.
            booking.full_clean(
                exclude=["practitioner", "appointment_type"],
                validate_unique=False,
                validate_constraints=False,
            )
            booking.save()
            _write_sessions(booking, slot, rules, now)
            booking_created.send(sender=Booking, booking=booking, manage_token=token)
    except IntegrityError as exc:
        if idempotency_key:
            earlier = _booking_by_idempotency_key(idempotency_key)
            if earlier is not None:
                return _replay(earlier, fingerprint, idempotency_key)
        _raise_if_overlap(exc)
        raise
    return BookingResult(booking=booking, manage_token=token)


def booking_cancel(
    *, booking: Booking, now: datetime, notice: timedelta = timedelta(0), message: str = ""
) -> Booking:
    """Cancel the booking and free at once every session that has not started yet.

    `notice` is how long before its next session a booking may still be cancelled (clients
    get the practice's cancellation window; the practitioner none); `message` is the
    practitioner's word to the client, sent with the cancellation. Cancelling a cancelled
    booking changes nothing. Sessions already started stay as they are: they took place.
    """
    with transaction.atomic():
        _lock_practitioner(booking.practitioner_id)
        booking = Booking.objects.get(pk=booking.pk)
        if booking.status == Booking.Status.CANCELLED:
            return booking
        upcoming = list(
            booking.sessions.filter(start__gt=now)
            .exclude(status=Session.Status.CANCELLED)
            .order_by("start")
        )
        if not upcoming:
            raise BookingNotChangeable("This booking has already taken place.")
        _check_notice(upcoming[0].start, now, notice)
        for session in upcoming:
            status_move(session, Session.Status.CANCELLED)
            session.sequence += 1
            session.updated_at = now
        Session.objects.bulk_update(upcoming, ["status", "sequence", "updated_at"])
        status_move(booking, Booking.Status.CANCELLED)
        booking.cancelled_at = now
        booking.updated_at = now
        booking.save(update_fields=["status", "cancelled_at", "updated_at"])
        booking_cancelled.send(sender=Booking, booking=booking, message=message)
    return booking


def booking_reschedule(
    *,
    booking: Booking,
    start: datetime,
    now: datetime,
    notice: timedelta = timedelta(0),
    notice_waived: bool = False,
    sessions: list[datetime] | None = None,
) -> Booking:
    """Move every session of the booking to the slot starting at `start`.

    `sessions` chooses every session's start as in booking_create; with the current first
    start it moves follow-ups inside their windows and leaves the first session in place.

    Atomic: the old time is given up only when the new time is taken. The booking's own
    sessions do not count as busy, so a booking can move by less than its length.
    `notice` works as in booking_cancel, on the booking's current first session;
    `notice_waived` as in booking_create.
    """
    chosen = sessions  # the name `sessions` is the booking's own rows below
    try:
        with transaction.atomic():
            _lock_practitioner(booking.practitioner_id)
            booking = Booking.objects.select_related("appointment_type").get(pk=booking.pk)
            if booking.status != Booking.Status.CONFIRMED:
                raise BookingNotChangeable("A cancelled booking cannot be moved.")
            sessions = list(booking.sessions.order_by("position"))
            if sessions[0].start <= now:
                raise BookingNotChangeable("This booking has already started.")
            _check_notice(sessions[0].start, now, notice)
            slot, rules = _offered_slot(
                _as_booked_by(booking.appointment_type, notice_waived=notice_waived),
                start,
                now,
                exclude_booking=booking,
                sessions=chosen,
            )
            if len(slot.sessions) != len(sessions):
                raise BookingNotChangeable(
                    "The appointment type has changed; please make a new booking."
                )
            if [(s.start, s.end) for s in sessions] == [(n.start, n.end) for n in slot.sessions]:
                return booking
            # Free the old rows first so that, inside this transaction, a moved session
            # never collides with an old one of the same booking; each is taken again at
            # its new time below.
            for session in sessions:
                status_move(session, Session.Status.CANCELLED)
            Session.objects.bulk_update(sessions, ["status"])
            for session, new in zip(sessions, slot.sessions, strict=True):
                blocked = blocked_span(rules, new)
                session.start, session.end = new.start, new.end
                session.blocked_start, session.blocked_end = blocked.start, blocked.end
                status_move(session, Session.Status.CONFIRMED)
                session.sequence += 1
                session.updated_at = now
                session.reminder_sent_at = None  # a moved appointment gets its own reminder
                session.full_clean()
            Session.objects.bulk_update(
                sessions,
                [
                    "start",
                    "end",
                    "blocked_start",
                    "blocked_end",
                    "status",
                    "sequence",
                    "updated_at",
                    "reminder_sent_at",
                ],
            )
            booking.updated_at = now
            booking.save(update_fields=["updated_at"])
            booking_rescheduled.send(sender=Booking, booking=booking)
    except IntegrityError as exc:
        _raise_if_overlap(exc)
        raise
    return booking


# --- the practitioner books: notice and horizon waived ---------------------------------


def _as_booked_by(appointment_type: AppointmentType, *, notice_waived: bool) -> AppointmentType:
    return practitioner_booking_type(appointment_type) if notice_waived else appointment_type


def practitioner_booking_type(appointment_type: AppointmentType) -> AppointmentType:
    """The type as the practitioner books it (by phone, at the desk): no minimum notice and
    the longest horizon. An unsaved copy; hours, buffers, busy time and the series still
    apply, and the booking is re-checked under the lock like any other."""
    relaxed = copy.copy(appointment_type)
    relaxed.min_notice_minutes = 0
    relaxed.max_days_ahead = MAX_DAYS_AHEAD
    return relaxed


def upcoming_bookings_of_email(*, practitioner_id: int, email: str, now: datetime) -> int:
    """Live bookings of this e-mail address (in its normal form, scheduler.emails; case
    aside) with this practitioner that have a session still to end. A series is one
    booking."""
    return (
        Booking.objects.filter(
            practitioner_id=practitioner_id,
            client_email__iexact=email_normalise(email),
            status=Booking.Status.CONFIRMED,
            sessions__status=Session.Status.CONFIRMED,
            sessions__end__gt=now,
        )
        .distinct()
        .count()
    )


def _check_upcoming_cap(practitioner_id: int, email: str, now: datetime) -> None:
    limit = settings.MAX_UPCOMING_BOOKINGS_PER_EMAIL
    if limit <= 0:
        return
    held = upcoming_bookings_of_email(practitioner_id=practitioner_id, email=email, now=now)
    if held >= limit:
        raise TooManyBookings(limit)


def _lock_practitioner(practitioner_id: int) -> None:
    # Serialises writes for one practitioner, so the re-check below sees every earlier
    # booking; what follows changes slots, so cached ones are stale.
    practitioner_lock(practitioner_id)
    schedule_changed(practitioner_id)


def _offered_slot(
    appointment_type: AppointmentType,
    start: datetime,
    now: datetime,
    exclude_booking: Booking | None = None,
    sessions: list[datetime] | None = None,
) -> tuple[Slot, SlotRules]:
    """The slot at `start` as offered now (with the chosen `sessions`, if any), with the
    rules it was offered under."""
    try:
        slot, rules = slot_choose(
            appointment_type=appointment_type,
            start=start,
            sessions=sessions,
            now=now,
            exclude_booking_id=exclude_booking.pk if exclude_booking else None,
        )
    except InvalidSessions as exc:
        raise ValidationError({"sessions": [str(exc)]}) from exc
    if slot is None:
        raise SlotUnavailable()
    return slot, rules


def _write_sessions(booking: Booking, slot: Slot, rules: SlotRules, now: datetime) -> None:
    rows = []
    for position, interval in enumerate(slot.sessions):
        blocked = blocked_span(rules, interval)
        rows.append(
            Session(
                booking=booking,
                practitioner_id=booking.practitioner_id,
                position=position,
                start=interval.start,
                end=interval.end,
                blocked_start=blocked.start,
                blocked_end=blocked.end,
                updated_at=now,
            )
        )
    Session.objects.bulk_create(rows)


def client_change_notice() -> timedelta:
    """How long before an appointment a client may still cancel or move it online."""
    return timedelta(hours=settings.CLIENT_CHANGE_NOTICE_HOURS)


def booking_changeable_until(
    *, booking: Booking, now: datetime, notice: timedelta
) -> datetime | None:
    """Until when the client may cancel or move the booking online: `notice` before its
    next session still to come; None once it is cancelled or has no session ahead."""
    if booking.status != Booking.Status.CONFIRMED:
        return None
    upcoming = [
        s.start
        for s in booking.sessions.all()
        if s.status == Session.Status.CONFIRMED and s.start > now
    ]
    return min(upcoming) - notice if upcoming else None


def _check_notice(next_start: datetime, now: datetime, notice: timedelta) -> None:
    if next_start - now < notice:
        hours = int(notice.total_seconds() // 3600)
        raise BookingNotChangeable(
            f"Changes are possible up to {hours} hours before the appointment; "
            "please contact the practice."
        )


def _booking_by_idempotency_key(key: str) -> Booking | None:
    return Booking.objects.filter(idempotency_key_hash=secret_hash(key)).first()


def _replay(earlier: Booking, fingerprint: str, key: str) -> BookingResult:
    if not hmac.compare_digest(earlier.request_fingerprint, fingerprint):
        raise IdempotencyKeyReused()
    return BookingResult(
        booking=earlier, manage_token=_unseal(earlier.manage_token_sealed, key), replayed=True
    )


def _sealing_key(idempotency_key: str) -> Fernet:
    # Only someone who holds the Idempotency-Key (the client) and the server's secret can
    # open the sealed token; the database alone reveals neither the key nor the token.
    digest = hmac.new(
        settings.SECRET_KEY.encode(), b"idempotency:" + idempotency_key.encode(), hashlib.sha256
    ).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _seal(token: str, idempotency_key: str) -> str:
    return _sealing_key(idempotency_key).encrypt(token.encode()).decode()


def _unseal(sealed: str, idempotency_key: str) -> str | None:
    if not sealed:
        return None
    try:
        return _sealing_key(idempotency_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def _raise_if_overlap(exc: IntegrityError) -> None:
    if getattr(exc.__cause__, "sqlstate", None) == EXCLUSION_VIOLATION:
        raise SlotUnavailable() from exc


def _request_fingerprint(
    appointment_type_id: int,
    start: datetime,
    client: ClientDetails,
    sessions: list[datetime] | None = None,
) -> str:
    request = {
        "appointment_type": appointment_type_id,
        "start": start.astimezone(UTC).isoformat(),
        "name": client.name,
        "email": client.email,
        "phone": client.phone,
        "notes": client.notes,
        "language": client.language,
    }
    if sessions is not None:
        # The chosen set is part of the request; without a choice the fingerprint is what
        # it always was (the proposed set is booked).
        request["sessions"] = [s.astimezone(UTC).isoformat() for s in sessions]
    canonical = json.dumps(request, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
