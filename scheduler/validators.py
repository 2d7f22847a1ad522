"""Rules for text people type, shared by the API and the booking page."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")

# Said as the text's whole shape rather than as a forbidden match (inverse_match): the
# OpenAPI schema publishes `pattern` as the text must match it, so an inverted rule read
# "a name must hold an angle bracket" to every generated client.
no_markup = RegexValidator(r"^[^<>]*$", _("Angle brackets are not allowed."))
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


# A web address or anything a mail client would turn into a link: a scheme, "www.", or a
# dot (also the full-width and ideographic ones) between a word and two or more letters.
LINK = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.\-]*:/|www[.\u3002\uff0e\uff61]|\w[.\u3002\uff0e\uff61][^\W\d_]{2,})"
)


def no_links(value: str) -> None:
    """A name is not a place for a web address (the practice mails it to whoever booked)."""
    if LINK.search(value):
        raise ValidationError(
            _("Please enter your name without a web address or link."), code="link_in_name"
        )
