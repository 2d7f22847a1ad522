"""Properties of the slot engine over random rules, busy time, zones and clocks."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.slots import available_slots, working_ranges
from scheduler.types import Interval, SlotInputs
from tests.factories import rules

ZONES = [ZoneInfo(z) for z in ("Europe/Amsterdam", "Australia/Sydney", "America/New_York", "UTC")]
# Windows around the 2027 switches of these zones, and an ordinary week.
FIRST_DAYS = [
    date(2027, 3, 25),
    date(2027, 10, 28),
    date(2027, 4, 1),
    date(2027, 9, 30),
    date(2027, 3, 11),
    date(2027, 11, 4),
    date(2027, 6, 14),
]


@st.composite
def day_ranges(draw):
    """0-3 sorted, non-overlapping wall-clock ranges on a 15-minute grid."""
    marks = sorted(draw(st.sets(st.integers(0, 95), min_size=0, max_size=6)))
    if len(marks) % 2:
        marks = marks[:-1]
    pairs = list(zip(marks[::2], marks[1::2], strict=True))
    return [(_quarter(a), _quarter(b)) for a, b in pairs]


def _quarter(n: int) -> time:
    return time(n // 4, (n % 4) * 15)


@st.composite
def scenarios(draw):
    tz = draw(st.sampled_from(ZONES))
    first_day = draw(st.sampled_from(FIRST_DAYS))
    span = draw(st.integers(0, 8))
    weekly = {d: draw(day_ranges()) for d in range(7)}
    override_days = draw(st.sets(st.integers(0, span + 12), max_size=3))
    overrides = {first_day + timedelta(days=o): draw(day_ranges()) for o in override_days}
    durations = draw(st.lists(st.sampled_from([15, 20, 30, 45, 60, 90]), min_size=1, max_size=3))
    offsets = sorted(
        draw(st.sets(st.integers(1, 11), min_size=len(durations) - 1, max_size=len(durations) - 1))
    )
    sessions = tuple(zip([0, *offsets], durations, strict=True))
    origin = datetime.combine(first_day, time(0), tzinfo=UTC) - timedelta(days=1)
    busy = tuple(
        Interval(origin + timedelta(minutes=s), origin + timedelta(minutes=s + length))
        for s, length in draw(
            st.lists(st.tuples(st.integers(0, 60 * 24 * 22), st.integers(1, 300)), max_size=25)
        )
    )
    slot_rules = rules(
        tz=tz,
        weekly=weekly,
        overrides=overrides,
        sessions=sessions,
        buffer_before=draw(st.sampled_from([0, 5, 15])),
        buffer_after=draw(st.sampled_from([0, 10, 15])),
        step=draw(st.sampled_from([15, 20, 30, 60])),
        min_notice=draw(st.integers(0, 60 * 48)),
        max_days_ahead=draw(st.integers(1, 10)),
    )
    now = origin + timedelta(minutes=draw(st.integers(0, 60 * 24 * 6)))
    return SlotInputs(slot_rules, busy), now, first_day, first_day + timedelta(days=span)


def _exists(day: date, at: time, tz: ZoneInfo) -> bool:
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def _overlaps(a: Interval, b: Interval) -> bool:
    return a.start < b.end and b.start < a.end


def _oracle(inputs: SlotInputs, now: datetime, start: date, end: date) -> set[datetime]:
    """Every grid start that satisfies every rule, checked the slow, obvious way."""
    r = inputs.rules
    found = set()
    day = start
    while day <= end:
        for wall in working_ranges(r, day):
            at = datetime.combine(day, wall.start)
            while at < datetime.combine(day, wall.end):
                if _candidate_ok(inputs, now, day, at.time()):
                    found.add(datetime.combine(day, at.time(), tzinfo=r.timezone).astimezone(UTC))
                at += r.step
        day += timedelta(days=1)
    return found


def _candidate_ok(inputs: SlotInputs, now: datetime, day: date, at: time) -> bool:
    r = inputs.rules
    for i, spec in enumerate(r.series):
        d = day + timedelta(days=spec.offset_days)
        if not _exists(d, at, r.timezone):
            return False
        begin = datetime.combine(d, at, tzinfo=r.timezone).astimezone(UTC)
        end = begin + spec.duration
        if i == 0 and not (now + r.min_notice <= begin <= now + timedelta(days=r.max_days_ahead)):
            return False
        inside = any(
            datetime.combine(d, w.start, tzinfo=r.timezone) <= begin
            and end <= datetime.combine(d, w.end, tzinfo=r.timezone)
            for w in working_ranges(r, d)
        )
        blocked = Interval(begin - r.buffer_before, end + r.buffer_after)
        if not inside or any(_overlaps(blocked, b) for b in inputs.busy):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_slots_are_exactly_the_starts_every_rule_allows(scenario):
    inputs, now, start, end = scenario
    slots = available_slots(inputs, now=now, first_day=start, last_day=end)
    assert {s.start for s in slots} == _oracle(inputs, now, start, end)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_slot_honours_hours_busy_time_buffers_notice_and_horizon(scenario):
    inputs, now, start, end = scenario
    r = inputs.rules
    slots = available_slots(inputs, now=now, first_day=start, last_day=end)
    assert [s.start for s in slots] == sorted({s.start for s in slots})  # sorted, no repeats
    for slot in slots:
        assert now + r.min_notice <= slot.start <= now + timedelta(days=r.max_days_ahead)
        first_local = slot.start.astimezone(r.timezone)
        assert start <= first_local.date() <= end
        assert (slot.start, slot.end) == (slot.sessions[0].start, slot.sessions[0].end)
        assert len(slot.sessions) == len(r.series)
        for spec, session in zip(r.series, slot.sessions, strict=True):
            at = session.start.astimezone(r.timezone)
            # Same local time of day on the right day; a time that exists, at its first fold.
            assert at.time() == first_local.time()
            assert at.date() == first_local.date() + timedelta(days=spec.offset_days)
            assert session.end - session.start == spec.duration
            assert at.fold == 0 and _exists(at.date(), at.time(), r.timezone)
            ranges = working_ranges(r, at.date())
            assert any(
                datetime.combine(at.date(), w.start, tzinfo=r.timezone) <= session.start
                and session.end <= datetime.combine(at.date(), w.end, tzinfo=r.timezone)
                for w in ranges
            ), "every session lies inside working hours of its own day"
            if spec.offset_days == 0:
                since_range_start = [
                    datetime.combine(at.date(), at.time()) - datetime.combine(at.date(), w.start)
                    for w in ranges
                    if w.start <= at.time()
                ]
                assert any(gap % r.step == timedelta(0) for gap in since_range_start), (
                    "the first session starts on a range's step grid"
                )
            blocked = Interval(session.start - r.buffer_before, session.end + r.buffer_after)
            assert not any(_overlaps(blocked, b) for b in inputs.busy)
