"""The client's data under the AVG/GDPR: kept for a period, exported and erased on request.

Anonymising keeps a booking's times (the practice's agenda and the calendars stay right)
and removes everything that identifies the client.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from scheduler.booking import booking_cancel
from scheduler.emails import email_normalise
from scheduler.models import Booking, Practitioner, Question, WaitlistEntry
from scheduler.signals import booking_anonymised

ANONYMOUS_NAME = "(geanonimiseerd)"


def client_data_anonymise_expired(*, now: datetime, retention: timedelta) -> dict[str, int]:
    """Anonymise bookings whose last session ended before the retention period, and delete
    questions older than it. Returns how many of each."""
    cutoff = now - retention
    expired = (
        Booking.objects.filter(anonymised_at__isnull=True)
        .annotate(last_end=Max("sessions__end"))
        .filter(last_end__lt=cutoff)
    )
    with transaction.atomic():
        bookings = _anonymise(Booking.objects.filter(pk__in=expired.values("pk")), now)
        _, deleted = Question.objects.filter(created_at__lt=cutoff).delete()
        questions = deleted.get(Question._meta.label, 0)
        # Wait-list entries that stopped waiting before the retention period.
        WaitlistEntry.objects.filter(updated_at__lt=cutoff).exclude(
            status=WaitlistEntry.Status.WAITING
        ).delete()
    return {"bookings": bookings, "questions": questions}


def client_data_export(*, practitioner: Practitioner, email: str) -> dict:
    """Everything the practice holds about one client (by e-mail address), as data."""
    email = email_normalise(email)  # as stored, however the request writes it
    bookings = (
        Booking.objects.filter(practitioner=practitioner, client_email__iexact=email)
        .select_related("appointment_type")
        .prefetch_related("sessions")
        .order_by("created_at")
    )
    questions = Question.objects.filter(practitioner=practitioner, email__iexact=email)
    return {
        "email": email,
        "bookings": [
            {
                "id": b.pk,
                "appointment_type": b.appointment_type.name,
                "name": b.client_name,
                "email": b.client_email,
                "phone": b.client_phone,
                "notes": b.notes,
                "language": b.language,
                "status": b.status,
                "created_at": b.created_at.isoformat(),
                "sessions": [
                    {"start": s.start.isoformat(), "end": s.end.isoformat(), "status": s.status}
                    for s in sorted(b.sessions.all(), key=lambda s: s.position)
                ],
            }
            for b in bookings
        ],
        "questions": [
            {
                "name": q.name,
                "email": q.email,
                "message": q.message,
                "created_at": q.created_at.isoformat(),
            }
            for q in questions.order_by("created_at")
        ],
    }


def client_data_erase(*, practitioner: Practitioner, email: str, now: datetime) -> dict[str, int]:
    """Forget one client: cancel what is still to come, anonymise every booking, delete
    their questions."""
    email = email_normalise(email)  # as stored, however the request writes it
    bookings = Booking.objects.filter(practitioner=practitioner, client_email__iexact=email)
    # One transaction: all of it or none. The cancellation notices are written (to the
    # client's real address, in the outbox) before the address is anonymised.
    with transaction.atomic():
        for booking in bookings.filter(status=Booking.Status.CONFIRMED):
            if booking.sessions.filter(start__gt=now).exists():
                booking_cancel(booking=booking, now=now)
        erased = _anonymise(bookings, now)
        _, deleted = Question.objects.filter(
            practitioner=practitioner, email__iexact=email
        ).delete()
        questions = deleted.get(Question._meta.label, 0)
        WaitlistEntry.objects.filter(practitioner=practitioner, email__iexact=email).delete()
    return {"bookings": erased, "questions": questions}


def _anonymise(bookings, now: datetime) -> int:
    count = 0
    for booking in bookings.select_for_update():
        booking.client_name = ANONYMOUS_NAME
        booking.client_email = f"anonymised-{booking.pk}@invalid"
        booking.client_phone = ""
        booking.notes = ""
        booking.idempotency_key_hash = None
        booking.manage_token_sealed = ""
        booking.request_fingerprint = ""
        booking.anonymised_at = now
        booking.updated_at = now
        booking.save()
        booking_anonymised.send(sender=Booking, booking=booking)
        count += 1
    return count
