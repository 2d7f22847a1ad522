"""Booking events become background work once their transaction has committed."""

from functools import partial

from django.db import transaction
from django.dispatch import receiver

from scheduler.signals import (
    booking_cancelled,
    booking_created,
    booking_rescheduled,
    question_received,
)
from sync import tasks
from sync.mail import seal_manage_token


@receiver(booking_created)
def _on_booking_created(sender, booking, manage_token, **kwargs):
    sealed = seal_manage_token(manage_token)
    transaction.on_commit(partial(tasks.booking_mail.delay, booking.pk, "created", sealed))


@receiver(booking_cancelled)
def _on_booking_cancelled(sender, booking, **kwargs):
    transaction.on_commit(partial(tasks.booking_mail.delay, booking.pk, "cancelled"))


@receiver(booking_rescheduled)
def _on_booking_rescheduled(sender, booking, **kwargs):
    transaction.on_commit(partial(tasks.booking_mail.delay, booking.pk, "rescheduled"))


@receiver(question_received)
def _on_question_received(sender, question, **kwargs):
    transaction.on_commit(partial(tasks.question_mail.delay, question.pk))
