"""Rules for text people type, shared by the API and the booking page."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")

no_markup = RegexValidator(r"[<>]", _("Angle brackets are not allowed."), inverse_match=True)
phone_characters = RegexValidator(
    r"^[0-9+()\-. /]*$", _("Use digits, spaces and + ( ) - . / only.")
)


def no_control_characters(value: str) -> None:
    """Single-line text: nothing that could end a line or a header."""
    if CONTROL.search(value):
        raise ValidationError(_("Control characters are not allowed here."))


def no_control_characters_but_newlines(value: str) -> None:
    if CONTROL_BUT_NEWLINES.search(value):
        raise ValidationError(_("Control characters are not allowed here."))
