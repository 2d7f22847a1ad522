"""What the booking pages (the client's and the practitioner's) read from a query or form."""

from datetime import UTC, date, datetime, timedelta


def instant_param(value) -> datetime | None:
    """A slot start as the pages send it: whole seconds since 1970 (no offsets to mangle)."""
    try:
        seconds = int(value)
        return datetime.fromtimestamp(seconds, tz=UTC) if 0 < seconds < 2**33 else None
    except (TypeError, ValueError, OverflowError):
        return None


def date_param(value) -> date | None:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if 2000 <= parsed.year <= 2999 else None


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
