"""Properties of series with follow-up windows over random rules, busy time and zones."""

import itertools
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.slots import available_slots, series_options, working_ranges
from scheduler.types import Interval, SessionSpec, SlotInputs
from tests.factories import rules
from tests.scheduler.test_slots_properties import (
    FIRST_DAYS,
    ZONES,
    _exists,
    _oracle,
    _overlaps,
    day_ranges,
    scenarios,
)


@st.composite
def windowed_series(draw):
    """Follow-ups with windows that never overlap one another or the first day."""
    count = draw(st.integers(1, 3))
    sessions = [(0, draw(st.sampled_from([30, 45, 60])))]
    latest = 0
    for _ in range(count):
        before = draw(st.integers(0, 2))
        offset = latest + draw(st.integers(1, 3)) + before
        after = draw(st.integers(0, 2))
        sessions.append((offset, draw(st.sampled_from([15, 20, 30])), before, after))
        latest = offset + after
    return tuple(sessions)


@st.composite
def windowed_scenarios(draw):
    tz = draw(st.sampled_from(ZONES))
    first_day = draw(st.sampled_from(FIRST_DAYS))
    span = draw(st.integers(0, 4))
    weekly = {d: draw(day_ranges()) for d in range(7)}
    sessions = draw(windowed_series())
    origin = datetime.combine(first_day, time(0), tzinfo=UTC) - timedelta(days=1)
    busy = tuple(
        Interval(origin + timedelta(minutes=s), origin + timedelta(minutes=s + length))
        for s, length in draw(
            st.lists(st.tuples(st.integers(0, 60 * 24 * 24), st.integers(1, 600)), max_size=30)
        )
    )
    slot_rules = rules(
        tz=tz,
        weekly=weekly,
        sessions=sessions,
        buffer_before=draw(st.sampled_from([0, 5, 15])),
        buffer_after=draw(st.sampled_from([0, 10, 15])),
        step=draw(st.sampled_from([15, 30, 60])),
        min_notice=draw(st.integers(0, 60 * 24)),
        max_days_ahead=draw(st.integers(1, 8)),
    )
    now = origin + timedelta(minutes=draw(st.integers(0, 60 * 24 * 3)))
    return SlotInputs(slot_rules, busy), now, first_day, first_day + timedelta(days=span)


def _blocked(r, session):
    return Interval(session.start - r.buffer_before, session.end + r.buffer_after)


def _session_ok(inputs, spec, session, first_local, first_blocked=None):
    """A session that lies on a working range of its own day, is free, inside its window."""
    r = inputs.rules
    at = session.start.astimezone(r.timezone)
    offset = (at.date() - first_local.date()).days
    assert spec.earliest_day <= offset <= spec.latest_day, "inside its window"
    if not spec.has_window:
        assert at.time() == first_local.time(), "a fixed follow-up keeps the time of day"
    assert session.end - session.start == spec.duration
    assert at.fold == 0 and _exists(at.date(), at.time(), r.timezone)
    assert any(
        datetime.combine(at.date(), w.start, tzinfo=r.timezone) <= session.start
        and session.end <= datetime.combine(at.date(), w.end, tzinfo=r.timezone)
        for w in working_ranges(r, at.date())
    ), "on a working range of its own day"
    blocked = _blocked(r, session)
    assert not any(_overlaps(blocked, b) for b in inputs.busy), "free of busy time"
    if first_blocked is not None:
        assert not _overlaps(blocked, first_blocked), "free of the first session"
    return offset


def _preference(spec):
    order = [spec.offset_days]
    for distance in range(1, 15):
        if distance <= spec.window_before:
            order.append(spec.offset_days - distance)
        if distance <= spec.window_after:
            order.append(spec.offset_days + distance)
    return order


def _minutes(instant, tz):
    local = instant.astimezone(tz)
    return local.hour * 60 + local.minute


@pytest.mark.slow
@settings(max_examples=250, deadline=None)
@given(windowed_scenarios())
def test_every_proposed_set_and_option_is_free_in_its_window_ordered_on_distinct_days(scenario):
    inputs, now, start, end = scenario
    r = inputs.rules
    slots = available_slots(inputs, now=now, first_day=start, last_day=end)
    assert [s.start for s in slots] == sorted({s.start for s in slots})
    for slot in slots:
        assert now + r.min_notice <= slot.start <= now + timedelta(days=r.max_days_ahead)
        first_local = slot.start.astimezone(r.timezone)
        assert start <= first_local.date() <= end
        assert len(slot.sessions) == len(r.series)
        offsets = [
            _session_ok(inputs, spec, s, first_local)
            for spec, s in zip(r.series, slot.sessions, strict=True)
        ]
        assert offsets == sorted(set(offsets)), "series order, never two on one day"
        blocked = [_blocked(r, s) for s in slot.sessions]
        for a, b in itertools.combinations(blocked, 2):
            assert not _overlaps(a, b), "the set's sessions are free of each other"

        offered = series_options(inputs, now=now, start=slot.start)
        assert offered.slot == slot, "deterministic: the same set again"
        assert offered.options[0] == (slot.sessions[0],)
        for index, (spec, options) in enumerate(zip(r.series, offered.options, strict=True)):
            assert slot.sessions[index] in options
            assert list(options) == sorted(options, key=lambda o: o.start)
            if index == 0:
                continue
            for option in options:
                _session_ok(inputs, spec, option, first_local, blocked[0])
            others = [b for j, b in enumerate(blocked) if j != index]

            def usable(option, others=others):
                return not any(_overlaps(_blocked(r, option), b) for b in others)

            proposed = slot.sessions[index]
            day = offsets[index]
            order = _preference(spec)
            for better in order[: order.index(day)]:
                assert not any(
                    usable(o)
                    for o in options
                    if (o.start.astimezone(r.timezone).date() - first_local.date()).days == better
                ), "no free start on a day nearer the ideal one"
            same_day = [
                o
                for o in options
                if (o.start.astimezone(r.timezone).date() - first_local.date()).days == day
                and usable(o)
            ]
            target = first_local.hour * 60 + first_local.minute
            best = min(
                same_day,
                key=lambda o: (abs(_minutes(o.start, r.timezone) - target), o.start),
            )
            same_time = [o for o in same_day if _minutes(o.start, r.timezone) == target]
            if same_time:
                assert proposed == same_time[0], "the same local time of day when it is free"
            else:
                assert abs(_minutes(proposed.start, r.timezone) - target) == abs(
                    _minutes(best.start, r.timezone) - target
                ), "else the nearest free time of that day"


@settings(max_examples=150, deadline=None)
@given(windowed_scenarios())
def test_a_start_is_offered_exactly_when_a_whole_free_set_exists(scenario):
    inputs, now, start, end = scenario
    r = inputs.rules
    offered = {s.start for s in available_slots(inputs, now=now, first_day=start, last_day=end)}
    # Zeroing the windows can only take starts away: a fixed set is a windowed one too.
    fixed = replace(r, series=tuple(SessionSpec(s.offset_days, s.duration) for s in r.series))
    fixed_starts = {
        s.start
        for s in available_slots(
            SlotInputs(fixed, inputs.busy), now=now, first_day=start, last_day=end
        )
    }
    assert fixed_starts <= offered
    # Brute force over the options of every offered start: some full set is free.
    for first in offered:
        options = series_options(inputs, now=now, start=first).options
        if _product_size(options) > 4000:
            continue
        assert any(_free_set(r, combo) for combo in itertools.product(*options))


def _product_size(options):
    size = 1
    for o in options:
        size *= len(o)
    return size


def _free_set(r, combo):
    days = [s.start.astimezone(r.timezone).date() for s in combo]
    if days != sorted(set(days)):
        return False
    blocked = [_blocked(r, s) for s in combo]
    return not any(_overlaps(a, b) for a, b in itertools.combinations(blocked, 2))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_with_windows_of_zero_the_engine_is_todays_fixed_offset_engine(scenario):
    """The oracle of the fixed-offset rules (test_slots_properties) still holds exactly."""
    inputs, now, start, end = scenario
    assert all(not spec.has_window for spec in inputs.rules.series)
    slots = available_slots(inputs, now=now, first_day=start, last_day=end)
    assert {s.start for s in slots} == _oracle(inputs, now, start, end)
    for slot in slots:
        first = slot.start.astimezone(inputs.rules.timezone)
        for spec, session in zip(inputs.rules.series, slot.sessions, strict=True):
            local = session.start.astimezone(inputs.rules.timezone)
            assert local.time() == first.time()
            assert local.date() == first.date() + timedelta(days=spec.offset_days)
