"""Booking events become outbox items inside the booking's own transaction.

E-mails are rendered now and calendar pushes queued now, so what leaves the service is
exactly what was committed (a rolled-back booking leaves nothing) and a broker outage at
commit only delays delivery (sync/outbox.py).
"""

from django.dispatch import receiver
from django.utils import timezone

from scheduler.signals import (
    booking_anonymised,
    booking_cancelled,
    booking_created,
    booking_rescheduled,
    question_received,
    waitlist_joined,
)
from sync import connectors, jobs, mail
from sync.waitlist import waitlist_joined_queue


@receiver(booking_created)
def _on_booking_created(sender, booking, manage_token, **kwargs):
    now = timezone.now()
    connectors.pushes_enqueue(booking=booking, now=now)
    mail.booking_confirmation_queue(booking, manage_token=manage_token, now=now)
    mail.practitioner_notice_queue(booking, event="created", now=now)


@receiver(booking_cancelled)
def _on_booking_cancelled(sender, booking, message="", **kwargs):
    now = timezone.now()
    connectors.pushes_enqueue(booking=booking, now=now)
    mail.booking_cancelled_queue(booking, message=message, now=now)
    mail.practitioner_notice_queue(booking, event="cancelled", now=now)
    _waitlist_check_after_commit(booking)


@receiver(booking_rescheduled)
def _on_booking_rescheduled(sender, booking, **kwargs):
    now = timezone.now()
    connectors.pushes_enqueue(booking=booking, now=now)
    mail.booking_rescheduled_queue(booking, now=now)
    mail.practitioner_notice_queue(booking, event="rescheduled", now=now)
    _waitlist_check_after_commit(booking)


@receiver(question_received)
def _on_question_received(sender, question, **kwargs):
    mail.question_queue(question, now=timezone.now())


@receiver(booking_anonymised)
def _on_booking_anonymised(sender, booking, **kwargs):
    # Our calendar events carry the client's details in their description: rewrite them.
    connectors.pushes_enqueue(booking=booking, now=timezone.now())


# --- wait list (sync/waitlist.py) ---


def _waitlist_check_after_commit(booking):
    # Time was freed: offer it once the change is committed (beat's sweep if the broker
    # is down).
    jobs.after_commit("waitlist_check", booking.practitioner_id)


@receiver(waitlist_joined)
def _on_waitlist_joined(sender, entry, manage_token, **kwargs):
    waitlist_joined_queue(entry, manage_token=manage_token, now=timezone.now())
