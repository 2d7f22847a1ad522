"""What the workspace keeps beside the domain: whether a question was answered."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from scheduler.models import Question


class QuestionAnswer(models.Model):
    """A question from the booking page marked answered, with the reply sent (if any)."""

    question = models.OneToOneField(
        Question, on_delete=models.CASCADE, primary_key=True, related_name="answer"
    )
    answered_at = models.DateTimeField(_("answered at"))
    # The practitioner's reply as sent through the outbox; empty when answered elsewhere.
    reply = models.TextField(_("reply"), blank=True, max_length=5000)

    class Meta:
        verbose_name = _("answer to a question")
        verbose_name_plural = _("answers to questions")

    def __str__(self) -> str:
        return f"{self.question} ({self.answered_at:%Y-%m-%d})"
