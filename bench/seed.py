"""Test data for the benchmarks: a practice with a long history and a busy month."""

from datetime import UTC, date, datetime, time, timedelta

from scheduler.models import Booking, BusyBlock, Session

MONTH_BOOKINGS = 60  # the same in every scenario: about three a working day
SESSIONS_PER_BOOKING = 1000


def build_practice():
    from tests import factories

    owner = factories.practitioner()
    other = factories.practitioner()
    follow_up = factories.appointment_type(
        owner, duration_minutes=30, buffer_after_minutes=10, max_days_ahead=90
    )
    return owner, other, follow_up


def bench_booking(owner, appointment_type, n, *, now):
    return Booking.objects.create(
        practitioner=owner,
        appointment_type=appointment_type,
        client_name="Bench",
        client_email="bench@example.nl",
        manage_token_hash=f"bench-{owner.pk}-{n}",
        created_at=now,
        updated_at=now,
    )


def add_history(owner, other, appointment_type, count, *, month_start: date, now: datetime):
    """`count` sessions and `count` busy blocks: the month's share fixed, the rest past.

    The month from `month_start` always holds MONTH_BOOKINGS sessions (and as many busy
    blocks); the rest lie before it, alternating between `owner` and `other`.
    """
    sessions, blocks = [], []
    parents = {}

    def parent(person, i):
        key = (person.pk, i // SESSIONS_PER_BOOKING)
        if key not in parents:
            parents[key] = bench_booking(person, appointment_type, key[1], now=now)
        return parents[key]

    month_slots = [
        datetime.combine(month_start, time(8), tzinfo=UTC) + timedelta(days=d, hours=h)
        for d in range(31)
        for h in (0, 5)
    ][:MONTH_BOOKINGS]
    history = max(count - MONTH_BOOKINGS, 0) if count else 0
    for i, start in enumerate(month_slots if count else []):
        sessions.append(_session(owner, parent(owner, i), start, i, now))
        blocks.append(
            BusyBlock(
                practitioner=owner,
                start=start + timedelta(hours=2),
                end=start + timedelta(hours=2, minutes=30),
                source="bench",
            )
        )
    for i in range(history):
        # Alternate practitioners; step back an hour each time from the month start.
        person = owner if i % 2 else other
        start = datetime.combine(month_start, time(8), tzinfo=UTC) - timedelta(days=9, hours=i)
        n = MONTH_BOOKINGS + i
        sessions.append(_session(person, parent(person, n), start, n % SESSIONS_PER_BOOKING, now))
        blocks.append(
            BusyBlock(
                practitioner=person,
                start=start - timedelta(days=4000),
                end=start - timedelta(days=4000) + timedelta(minutes=45),
                source="bench",
            )
        )
    Session.objects.bulk_create(sessions, batch_size=5000)
    BusyBlock.objects.bulk_create(blocks, batch_size=5000)


def _session(owner, booking, start, position, now):
    end = start + timedelta(minutes=30)
    return Session(
        booking=booking,
        practitioner=owner,
        position=position,
        start=start,
        end=end,
        blocked_start=start,
        blocked_end=end + timedelta(minutes=10),
        updated_at=now,
    )
