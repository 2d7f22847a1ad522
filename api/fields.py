"""Serializer fields that hold the contract's input rules in one place."""

import re
from datetime import UTC

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduler.validators import CONTROL, CONTROL_BUT_NEWLINES

MIN_YEAR, MAX_YEAR = 2000, 2999
HH_MM = "%H:%M"
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant that must carry its UTC offset; naive times are refused."""

    default_error_messages = {
        "naive": "Give the time with its UTC offset, e.g. 2027-03-29T09:00:00+02:00.",
        "range": f"The year must be between {MIN_YEAR} and {MAX_YEAR}.",
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            self.fail("range")
        try:
            value.astimezone(UTC)
        except OverflowError:
            self.fail("range")
        return super().enforce_timezone(value)


class BoundedDateField(serializers.DateField):
    default_error_messages = {"range": f"The year must be between {MIN_YEAR} and {MAX_YEAR}."}

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            self.fail("range")
        return parsed


class StrictCharField(serializers.CharField):
    """Text that must be a JSON string and holds no control characters.

    Line breaks are allowed only where `multiline` says so; NUL and the other control
    characters never are, so nothing a client sends can split a header, a log line or a
    calendar property.
    """

    default_error_messages = {
        "not_a_string": "Must be a string.",
        "control": "Control characters are not allowed here.",
    }

    def __init__(self, *, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        # Checked before trimming: a trailing CR/LF is refused, not quietly cut off.
        pattern = CONTROL_BUT_NEWLINES if self.multiline else CONTROL
        if pattern.search(data):
            self.fail("control")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: strings, floats and booleans are refused rather than coerced."""

    default_error_messages = {"not_an_integer": "Must be a whole number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "09:00"}
)
class HourMinuteField(serializers.TimeField):
    """A wall-clock time of day as HH:MM, in and out."""

    def __init__(self, **kwargs):
        super().__init__(format=HH_MM, input_formats=[HH_MM], **kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str) or not _HH_MM.match(value):
            self.fail("invalid", format="HH:MM")
        return super().to_internal_value(value)
