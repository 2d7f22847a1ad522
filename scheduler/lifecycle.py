"""The statuses of bookings, their sessions and wait-list entries, and the moves allowed
between them: one table, and one way to move (`status_move` for a row in hand,
`status_update` for an UPDATE that only moves rows whose status allows it).

A new status is one line in its enum plus its moves in MOVES. Code and templates compare
statuses through these enums, never as bare strings.
"""

from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from scheduler.exceptions import StatusMoveRefused


class BookingStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("confirmed")
    CANCELLED = "cancelled", _("cancelled")


class SessionStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("confirmed")
    CANCELLED = "cancelled", _("cancelled")


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting"
    CLAIMED = "claimed"  # won an offered time: `booking` holds it
    LEFT = "left"
    EXPIRED = "expired"


# From each status, the statuses it may move to.
MOVES: dict[type[models.TextChoices], dict[str, frozenset[str]]] = {
    BookingStatus: {
        BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELLED}),
        BookingStatus.CANCELLED: frozenset(),
    },
    SessionStatus: {
        SessionStatus.CONFIRMED: frozenset({SessionStatus.CANCELLED}),
        # Only inside booking_reschedule: it releases the booking's sessions and takes them
        # again at their new times, in one transaction.
        SessionStatus.CANCELLED: frozenset({SessionStatus.CONFIRMED}),
    },
    WaitlistStatus: {
        WaitlistStatus.WAITING: frozenset(
            {WaitlistStatus.CLAIMED, WaitlistStatus.LEFT, WaitlistStatus.EXPIRED}
        ),
        WaitlistStatus.CLAIMED: frozenset(),
        WaitlistStatus.LEFT: frozenset(),
        WaitlistStatus.EXPIRED: frozenset(),
    },
}


def may_move(statuses: type[models.TextChoices], current: str, to: str) -> bool:
    return to in MOVES[statuses][current]


def status_move(obj: models.Model, to: str) -> None:
    """Set `obj.status` to `to` (the caller saves it), or StatusMoveRefused when its
    lifecycle does not allow that move from its current status."""
    if not may_move(type(obj).Status, obj.status, to):
        raise StatusMoveRefused(f"{type(obj).__name__} {obj.pk}: {obj.status} -> {to}")
    obj.status = to


def status_update(queryset: QuerySet, to: str, **fields) -> int:
    """Move, in one UPDATE, the rows of `queryset` whose status may move to `to` (setting
    `fields` too); how many moved. Of two updates racing for one row, only the first finds
    it in a status it may leave."""
    statuses = queryset.model.Status
    sources = [status for status in statuses.values if may_move(statuses, status, to)]
    return queryset.filter(status__in=sources).update(status=to, **fields)
