"""Questions from the booking page: stored first, e-mailed after commit."""

from datetime import datetime

from django.db import transaction

from scheduler.emails import email_normalise
from scheduler.models import Practitioner, Question
from scheduler.signals import question_received


def question_create(
    *,
    practitioner: Practitioner,
    name: str,
    email: str,
    message: str,
    language: str,
    now: datetime,
) -> Question:
    """Store the question so nothing is lost if mail fails; the e-mail follows the commit."""
    with transaction.atomic():
        question = Question(
            practitioner=practitioner,
            name=name,
            email=email_normalise(email),  # where the answer will go
            message=message,
            language=language,
            created_at=now,
        )
        question.full_clean()
        question.save()
        question_received.send(sender=Question, question=question)
    return question
