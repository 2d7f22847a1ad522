"""Series with follow-up windows: the engine's proposed set, its options, DST, validation."""

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from scheduler.slots import (
    InvalidSessions,
    available_slots,
    choose_sessions,
    find_slot,
    series_options,
)
from scheduler.types import Interval, SlotInputs, series_from_json
from tests.factories import AMSTERDAM, local, rules

# The demo: Mon-Fri 09:00-17:00, intake 60/30/30 on days 0, 3 (-1..+1), 10 (-1..+2).
WINDOWED = ((0, 60), (3, 30, 1, 1), (10, 30, 1, 2))
FIXED = ((0, 60), (3, 30), (10, 30))
MONDAY = date(2027, 6, 14)
NOW = local(AMSTERDAM, 2027, 6, 1, 8)


def inputs(sessions=WINDOWED, busy=(), **fields):
    return SlotInputs(rules(sessions=sessions, **fields), tuple(busy))


def at(day: date, hour: int, minute: int = 0):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


def local_days(slot, first):
    return [(s.start.astimezone(AMSTERDAM).date() - first).days for s in slot.sessions]


def week(sessions):
    return available_slots(
        inputs(sessions), now=NOW, first_day=MONDAY, last_day=MONDAY + timedelta(days=4)
    )


def test_fixed_intake_never_starts_on_wednesday_or_thursday_but_windowed_does_every_day():
    fixed_days = {s.start.astimezone(AMSTERDAM).weekday() for s in week(FIXED)}
    windowed_days = {s.start.astimezone(AMSTERDAM).weekday() for s in week(WINDOWED)}
    assert fixed_days == {0, 1, 4}
    assert windowed_days == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("weekday", "days"),
    [
        (0, [0, 3, 10]),  # Mon -> Thu -> Thu: the ideal days
        (1, [0, 3, 10]),  # Tue -> Fri -> Fri
        (2, [0, 2, 9]),  # Wed -> Fri (Sat closed; Fri before Sun) -> Fri (Sat, Fri)
        (3, [0, 4, 11]),  # Thu -> Mon (Sun, then Sat closed, Mon) -> Mon (Sun, Sat, Mon)
        (4, [0, 3, 10]),  # Fri -> Mon -> Mon
    ],
)
def test_proposed_days_are_the_ideal_else_the_nearest_working_day(weekday, days):
    day = MONDAY + timedelta(days=weekday)
    slot = find_slot(inputs(), now=NOW, start=at(day, 10))
    assert slot is not None
    assert local_days(slot, day) == days
    assert all(s.start.astimezone(AMSTERDAM).time() == time(10) for s in slot.sessions)


def test_a_busy_follow_up_hour_moves_to_the_nearest_free_time_that_day():
    thursday = MONDAY + timedelta(days=3)
    busy = [Interval(at(thursday, 10), at(thursday, 11))]
    slot = find_slot(inputs(busy=busy), now=NOW, start=at(MONDAY, 10))
    # 09:00 and 11:00 are both an hour away on the 60-minute grid: the earlier wins.
    assert slot.sessions[1] == Interval(at(thursday, 9), at(thursday, 9, 30))
    assert find_slot(inputs(FIXED, busy=busy), now=NOW, start=at(MONDAY, 10)) is None


def test_a_full_ideal_day_moves_the_follow_up_to_the_nearest_day():
    thursday = MONDAY + timedelta(days=3)
    busy = [Interval(at(thursday, 0), at(thursday, 23))]
    slot = find_slot(inputs(busy=busy), now=NOW, start=at(MONDAY, 10))
    assert local_days(slot, MONDAY) == [0, 2, 10]  # Wednesday before Friday


def test_no_free_set_in_the_windows_means_no_slot():
    busy = [
        Interval(at(MONDAY + timedelta(days=d), 0), at(MONDAY + timedelta(days=d), 23))
        for d in (2, 3, 4)
    ]
    assert find_slot(inputs(busy=busy), now=NOW, start=at(MONDAY, 10)) is None


def test_options_list_every_free_start_of_each_window_and_the_proposed_set():
    offered = series_options(inputs(), now=NOW, start=at(MONDAY, 10))
    assert offered.options[0] == (offered.slot.sessions[0],)
    second = offered.options[1]
    # Wed, Thu and Fri, on the 60-minute grid from 09:00 to 16:00: 8 starts a day.
    assert len(second) == 24
    assert {o.start.astimezone(AMSTERDAM).date() for o in second} == {
        MONDAY + timedelta(days=d) for d in (2, 3, 4)
    }
    assert offered.slot.sessions[1] in second and offered.slot.sessions[2] in offered.options[2]
    # Days 9..12 of a Monday start are Wed, Thu, Fri and Sat (closed).
    assert {(o.start.astimezone(AMSTERDAM).date() - MONDAY).days for o in offered.options[2]} == {
        9,
        10,
        11,
    }


def test_options_exclude_busy_time():
    wednesday = MONDAY + timedelta(days=2)
    busy = [Interval(at(wednesday, 12), at(wednesday, 14))]
    offered = series_options(inputs(busy=busy), now=NOW, start=at(MONDAY, 10))
    starts = {o.start for o in offered.options[1]}
    assert at(wednesday, 12) not in starts and at(wednesday, 13) not in starts
    assert at(wednesday, 11) in starts and at(wednesday, 14) in starts


def test_choosing_sessions_inside_the_windows():
    wednesday, friday2 = MONDAY + timedelta(days=2), MONDAY + timedelta(days=11)
    chosen = choose_sessions(
        inputs(),
        now=NOW,
        start=at(MONDAY, 10),
        starts=[at(MONDAY, 10), at(wednesday, 15), at(friday2, 9)],
    )
    assert [s.start for s in chosen.sessions] == [at(MONDAY, 10), at(wednesday, 15), at(friday2, 9)]
    assert chosen.sessions[1].end - chosen.sessions[1].start == timedelta(minutes=30)


@pytest.mark.parametrize(
    "starts",
    [
        [at(MONDAY, 10), at(MONDAY + timedelta(days=3), 10)],  # too few
        [at(MONDAY, 11), at(MONDAY + timedelta(days=3), 10), at(MONDAY + timedelta(days=10), 10)],
        [at(MONDAY, 10), at(MONDAY + timedelta(days=1), 10), at(MONDAY + timedelta(days=10), 10)],
        [at(MONDAY, 10), at(MONDAY + timedelta(days=10), 10), at(MONDAY + timedelta(days=3), 10)],
        [at(MONDAY, 10), at(MONDAY + timedelta(days=3), 10), at(MONDAY + timedelta(days=13), 10)],
    ],
)
def test_a_choice_outside_the_windows_or_out_of_order_is_invalid(starts):
    with pytest.raises(InvalidSessions):
        choose_sessions(inputs(), now=NOW, start=at(MONDAY, 10), starts=starts)


def test_a_fixed_follow_up_must_keep_the_first_sessions_time():
    starts = [
        at(MONDAY, 10),
        at(MONDAY + timedelta(days=3), 11),
        at(MONDAY + timedelta(days=10), 10),
    ]
    with pytest.raises(InvalidSessions):
        choose_sessions(inputs(FIXED), now=NOW, start=at(MONDAY, 10), starts=starts)


def test_a_chosen_session_that_is_busy_or_off_the_grid_is_not_free():
    thursday = MONDAY + timedelta(days=3)
    busy = [Interval(at(thursday, 15), at(thursday, 16))]
    tenth = at(MONDAY + timedelta(days=10), 10)
    for second in (at(thursday, 15), at(thursday, 15, 7), at(thursday, 18)):
        assert (
            choose_sessions(
                inputs(busy=busy),
                now=NOW,
                start=at(MONDAY, 10),
                starts=[at(MONDAY, 10), second, tenth],
            )
            is None
        )


def test_the_same_inputs_always_propose_the_same_set():
    busy = [Interval(at(MONDAY + timedelta(days=3), 9), at(MONDAY + timedelta(days=3), 12))]
    first = week(WINDOWED)
    assert first == week(WINDOWED)
    a = available_slots(inputs(busy=busy), now=NOW, first_day=MONDAY, last_day=MONDAY)
    b = available_slots(inputs(busy=busy), now=NOW, first_day=MONDAY, last_day=MONDAY)
    assert a == b


def test_sessions_of_a_set_never_overlap_across_midnight():
    # Working hours around the clock; a long buffer would let day 1's late session touch
    # day 2's early one if the engine did not check the set against itself.
    around = {d: [(time(0), time(23, 59))] for d in range(7)}
    data = inputs(((0, 60), (1, 60, 0, 1)), weekly=around, buffer_after=240, step=60)
    start = at(MONDAY, 22)
    tuesday = MONDAY + timedelta(days=1)
    busy_tuesday = [Interval(at(tuesday, 4), at(tuesday, 23, 59))]
    slot = find_slot(SlotInputs(data.rules, tuple(busy_tuesday)), now=NOW, start=start)
    assert slot is not None
    blocked = [Interval(s.start, s.end + timedelta(hours=4)) for s in slot.sessions]
    assert blocked[0].end <= blocked[1].start


@pytest.mark.parametrize(
    ("thursday", "switch"),
    [(date(2027, 3, 25), date(2027, 3, 28)), (date(2027, 10, 28), date(2027, 10, 31))],
)
def test_a_window_across_a_dst_switch_keeps_the_local_time_of_day(thursday, switch):
    now = at(thursday - timedelta(days=10), 8)
    slot = find_slot(inputs(), now=now, start=at(thursday, 10))
    assert local_days(slot, thursday) == [0, 4, 11]  # Thu -> Mon -> Mon, across the switch
    offsets = {s.start.astimezone(AMSTERDAM).utcoffset() for s in slot.sessions}
    assert len(offsets) == 2  # the UTC offset changed ...
    for session in slot.sessions:  # ... the local time of day did not
        assert session.start.astimezone(AMSTERDAM).time() == time(10)
    assert slot.sessions[0].start.date() < switch < slot.sessions[1].start.date()
    offered = series_options(inputs(), now=now, start=at(thursday, 10))
    for options in offered.options[1:]:
        assert {o.start.astimezone(AMSTERDAM).time() for o in options} <= {
            time(h) for h in range(9, 17)
        }


@pytest.mark.parametrize(
    "series",
    [
        [{"offset_days": 0, "duration_minutes": 60, "window_after_days": 1}],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 1, "duration_minutes": 30, "window_before_days": 1},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window_after_days": 2},
            {"offset_days": 5, "duration_minutes": 30, "window_before_days": 0},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window_after_days": 15},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window_after_days": -1},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window_after_days": True},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 360, "duration_minutes": 30, "window_after_days": 6},
        ],
        [
            {"offset_days": 0, "duration_minutes": 60},
            {"offset_days": 3, "duration_minutes": 30, "window": 1},
        ],
    ],
)
def test_bad_windows_are_refused_when_the_type_is_defined(series):
    with pytest.raises(ValidationError):
        series_from_json(series)


def test_windows_are_parsed_with_zero_defaults():
    specs = series_from_json(
        [
            {"offset_days": 0, "duration_minutes": 60},
            {
                "offset_days": 3,
                "duration_minutes": 30,
                "window_before_days": 1,
                "window_after_days": 1,
            },
            {"offset_days": 10, "duration_minutes": 30},
        ]
    )
    assert [(s.earliest_day, s.latest_day) for s in specs] == [(0, 0), (2, 4), (10, 10)]
