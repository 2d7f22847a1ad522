"""The scheduling error family. Each carries the code and HTTP status the API renders."""

from django.utils.functional import lazy


class SchedulingError(Exception):
    code = "scheduling_error"
    status_code = 400
    default_detail = "The request cannot be scheduled."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class SlotUnavailable(SchedulingError):
    code = "slot_unavailable"
    status_code = 409
    default_detail = "This time is no longer available."


class BookingNotChangeable(SchedulingError):
    code = "booking_not_changeable"
    status_code = 409
    default_detail = "This booking can no longer be changed."


class StatusMoveRefused(BookingNotChangeable):
    """A status change its lifecycle (scheduler/lifecycle.py) does not allow."""


class IdempotencyKeyReused(SchedulingError):
    code = "idempotency_key_reused"
    status_code = 422
    default_detail = "This Idempotency-Key was already used with a different request."


class AppointmentTypeInUse(SchedulingError):
    code = "appointment_type_in_use"
    status_code = 409
    default_detail = "This appointment type has bookings; set active to false instead."


class TooManyBookings(SchedulingError):
    """The client's e-mail address already holds the most upcoming bookings allowed.

    The detail is translated when shown (the API and the page show it in the client's
    language)."""

    code = "too_many_bookings"
    status_code = 409

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(_too_many_bookings_message(limit))


def _too_many_bookings_text(limit: int) -> str:
    from django.utils.translation import ngettext

    return ngettext(
        "This e-mail address already has %(limit)d upcoming appointment. "
        "Please contact the practice to book more.",
        "This e-mail address already has %(limit)d upcoming appointments. "
        "Please contact the practice to book more.",
        limit,
    ) % {"limit": limit}


_too_many_bookings_message = lazy(_too_many_bookings_text, str)
