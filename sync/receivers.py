"""Booking events become background work once their transaction has committed."""

from functools import partial

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from scheduler.signals import (
    booking_anonymised,
    booking_cancelled,
    booking_created,
    booking_rescheduled,
    question_received,
)
from sync import tasks
from sync.google.service import outbox_enqueue
from sync.mail import seal_manage_token


def _to_google(booking) -> None:
    """Outbox rows commit with the booking change; a drain task follows the commit."""
    for connection_id in outbox_enqueue(booking=booking, now=timezone.now()):
        transaction.on_commit(partial(tasks.outbox_drain.delay, connection_id))


@receiver(booking_created)
def _on_booking_created(sender, booking, manage_token, **kwargs):
    sealed = seal_manage_token(manage_token)
    _to_google(booking)
    transaction.on_commit(partial(tasks.booking_mail.delay, booking.pk, "created", sealed))


@receiver(booking_cancelled)
def _on_booking_cancelled(sender, booking, message="", **kwargs):
    _to_google(booking)
    transaction.on_commit(
        partial(tasks.booking_mail.delay, booking.pk, "cancelled", message=message)
    )


@receiver(booking_rescheduled)
def _on_booking_rescheduled(sender, booking, **kwargs):
    _to_google(booking)
    transaction.on_commit(partial(tasks.booking_mail.delay, booking.pk, "rescheduled"))


@receiver(question_received)
def _on_question_received(sender, question, **kwargs):
    transaction.on_commit(partial(tasks.question_mail.delay, question.pk))


@receiver(booking_anonymised)
def _on_booking_anonymised(sender, booking, **kwargs):
    # Our Google events carry the client's details in their description: rewrite them.
    _to_google(booking)
