"""Writes of the workspace that the domain does not already offer: days off over a range,
and answering questions (the reply leaves through the outbox)."""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from scheduler.models import DateOverride, Practitioner, Question
from scheduler.practice import date_override_save
from sync import mail
from workspace.models import QuestionAnswer

MAX_DAYS_OFF_RANGE = 62


def days_off_save(
    *,
    practitioner: Practitioner,
    first: date,
    last: date,
    ranges: list[tuple[time, time]],
) -> list[DateOverride]:
    """Give every date from `first` to `last` these hours (none: closed), replacing what
    those dates had; all or none."""
    if last < first:
        raise ValidationError(_("The last day lies before the first."))
    if (last - first).days >= MAX_DAYS_OFF_RANGE:
        raise ValidationError(
            _("A range holds at most %(days)d days.") % {"days": MAX_DAYS_OFF_RANGE}
        )
    existing = {
        o.date: o
        for o in DateOverride.objects.filter(practitioner=practitioner, date__range=(first, last))
    }
    saved = []
    with transaction.atomic():
        # Never a day past `last`: the day after 9999-12-31 does not exist.
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            saved.append(
                date_override_save(
                    practitioner=practitioner, date=day, ranges=ranges, override=existing.get(day)
                )
            )
    return saved


def question_mark_answered(*, question: Question, now: datetime) -> QuestionAnswer:
    answer, _created = QuestionAnswer.objects.get_or_create(
        question=question, defaults={"answered_at": now}
    )
    return answer


def question_reopen(*, question: Question) -> None:
    QuestionAnswer.objects.filter(question=question).delete()


def question_reply(*, question: Question, reply: str, now: datetime) -> QuestionAnswer:
    """E-mail the reply to whoever asked (sync/mail.py) and mark the question answered, in
    one transaction: the e-mail is an outbox item, delivered after commit."""
    with transaction.atomic():
        mail.question_reply_queue(question, reply=reply, now=now)
        answer, _created = QuestionAnswer.objects.update_or_create(
            question=question, defaults={"answered_at": now, "reply": reply}
        )
    return answer
