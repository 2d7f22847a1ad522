"""The slot engine on its own: fixed aware datetimes, no database."""

from datetime import date, time, timedelta

from scheduler.slots import BusyIndex, available_slots, find_slot
from scheduler.types import Interval, SlotInputs
from tests.factories import AMSTERDAM, local, rules, utc

MONDAY = date(2027, 3, 1)  # winter time: Amsterdam is UTC+01:00
NOW = utc(2027, 2, 1, 8, 0)


def starts(slots):
    return [s.start.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M") for s in slots]


def test_slots_follow_weekly_hours_in_the_practitioner_zone():
    inputs = SlotInputs(rules(weekly={0: [(time(9), time(12))]}), busy=())
    slots = available_slots(inputs, now=NOW, first_day=MONDAY, last_day=MONDAY)
    assert [s.start for s in slots] == [utc(2027, 3, 1, 8), utc(2027, 3, 1, 9), utc(2027, 3, 1, 10)]
    assert all(s.end - s.start == timedelta(hours=1) for s in slots)
    assert all(s.sessions == (Interval(s.start, s.end),) for s in slots)


def test_lunch_break_splits_the_day_and_a_slot_never_straddles_it():
    inputs = SlotInputs(
        rules(weekly={0: [(time(9), time(12, 30)), (time(13, 30), time(17))]}, step=30), busy=()
    )
    got = starts(available_slots(inputs, now=NOW, first_day=MONDAY, last_day=MONDAY))
    assert got[:6] == [
        f"2027-03-01 {t}" for t in ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30")
    ]
    assert "2027-03-01 12:00" not in got and "2027-03-01 13:00" not in got
    assert got[6] == "2027-03-01 13:30" and got[-1] == "2027-03-01 16:00"


def test_closed_override_removes_the_day_and_ranges_replace_it():
    tuesday = MONDAY + timedelta(days=1)
    inputs = SlotInputs(
        rules(overrides={MONDAY: [], tuesday: [(time(13), time(15))]}, step=60), busy=()
    )
    got = starts(available_slots(inputs, now=NOW, first_day=MONDAY, last_day=tuesday))
    assert got == ["2027-03-02 13:00", "2027-03-02 14:00"]


def test_override_opens_a_day_without_weekly_hours():
    saturday = date(2027, 3, 6)
    inputs = SlotInputs(rules(overrides={saturday: [(time(10), time(11))]}), busy=())
    assert starts(available_slots(inputs, now=NOW, first_day=saturday, last_day=saturday)) == [
        "2027-03-06 10:00"
    ]


def test_busy_time_blocks_overlapping_slots_but_touching_ones_stay():
    busy = (Interval(local(AMSTERDAM, 2027, 3, 1, 10), local(AMSTERDAM, 2027, 3, 1, 11)),)
    inputs = SlotInputs(rules(weekly={0: [(time(9), time(12))]}, step=30), busy=busy)
    got = starts(available_slots(inputs, now=NOW, first_day=MONDAY, last_day=MONDAY))
    assert got == ["2027-03-01 09:00", "2027-03-01 11:00"]


def test_buffers_keep_distance_on_both_sides_of_the_new_session():
    busy = (Interval(local(AMSTERDAM, 2027, 3, 1, 11), local(AMSTERDAM, 2027, 3, 1, 11, 30)),)
    inputs = SlotInputs(
        rules(
            weekly={0: [(time(9), time(14))]},
            sessions=((0, 30),),
            step=15,
            buffer_before=15,
            buffer_after=15,
        ),
        busy=busy,
    )
    got = starts(available_slots(inputs, now=NOW, first_day=MONDAY, last_day=MONDAY))
    # 10:15-10:45 plus 15 min after ends at 11:00; 11:45 minus 15 min starts at 11:30.
    assert "2027-03-01 10:15" in got and "2027-03-01 10:30" not in got
    assert "2027-03-01 11:30" not in got and "2027-03-01 11:45" in got


def test_min_notice_and_horizon_bound_the_offer():
    now = local(AMSTERDAM, 2027, 3, 1, 9, 30)
    inputs = SlotInputs(rules(step=60, min_notice=120, max_days_ahead=2), busy=())
    got = starts(
        available_slots(inputs, now=now, first_day=MONDAY, last_day=MONDAY + timedelta(days=5))
    )
    assert got[0] == "2027-03-01 12:00"  # 11:30 is the earliest allowed, 12:00 the next step
    assert got[-1] == "2027-03-03 09:00"  # at most 2 days after now


def test_slots_in_the_past_are_never_offered():
    inputs = SlotInputs(rules(), busy=())
    assert available_slots(inputs, now=utc(2027, 3, 2), first_day=MONDAY, last_day=MONDAY) == []


def test_series_offered_only_when_every_session_is_free_at_the_same_local_time():
    series = ((0, 60), (3, 30), (10, 30))
    thursday = MONDAY + timedelta(days=3)
    # Thursday 10:00 is taken: the series starting Monday 10:00 cannot be offered.
    busy = (Interval(local(AMSTERDAM, 2027, 3, 4, 10), local(AMSTERDAM, 2027, 3, 4, 10, 30)),)
    inputs = SlotInputs(rules(sessions=series, step=60), busy=busy)
    slots = available_slots(inputs, now=NOW, first_day=MONDAY, last_day=MONDAY)
    got = starts(slots)
    assert "2027-03-01 10:00" not in got and "2027-03-01 09:00" in got
    first = slots[0]
    assert [s.start.astimezone(AMSTERDAM).strftime("%a %d %H:%M") for s in first.sessions] == [
        "Mon 01 09:00",
        "Thu 04 09:00",
        "Thu 11 09:00",
    ]
    assert [s.end - s.start for s in first.sessions] == [
        timedelta(minutes=60),
        timedelta(minutes=30),
        timedelta(minutes=30),
    ]
    assert thursday.weekday() == 3


def test_series_not_offered_when_a_later_session_falls_outside_working_hours():
    # Friday start: day 3 is a Monday (open), day 10 a Monday; Thursday start: day 3 Sunday.
    series = ((0, 60), (3, 30), (10, 30))
    inputs = SlotInputs(rules(sessions=series), busy=())
    thursday, friday = MONDAY + timedelta(days=3), MONDAY + timedelta(days=4)
    assert available_slots(inputs, now=NOW, first_day=thursday, last_day=thursday) == []
    assert available_slots(inputs, now=NOW, first_day=friday, last_day=friday) != []


def test_series_not_offered_when_a_later_day_is_closed_by_an_override():
    series = ((0, 60), (3, 30))
    inputs = SlotInputs(rules(sessions=series, overrides={MONDAY + timedelta(days=3): []}), busy=())
    assert available_slots(inputs, now=NOW, first_day=MONDAY, last_day=MONDAY) == []


def test_series_keeps_local_time_across_a_dst_switch():
    # Day 0 in winter time, day 10 in summer time (switch on 2027-03-28).
    start_day = date(2027, 3, 22)
    inputs = SlotInputs(rules(sessions=((0, 60), (3, 30), (10, 30))), busy=())
    slot = available_slots(inputs, now=NOW, first_day=start_day, last_day=start_day)[0]
    assert [s.start.astimezone(AMSTERDAM).strftime("%H:%M") for s in slot.sessions] == ["09:00"] * 3
    assert slot.sessions[0].start == utc(2027, 3, 22, 8) and slot.sessions[2].start == utc(
        2027, 4, 1, 7
    )


def test_find_slot_matches_only_offered_starts():
    inputs = SlotInputs(rules(step=60), busy=())
    assert find_slot(inputs, now=NOW, start=utc(2027, 3, 1, 8)) is not None
    assert find_slot(inputs, now=NOW, start=utc(2027, 3, 1, 8, 30)) is None  # off the grid
    assert find_slot(inputs, now=NOW, start=utc(2027, 3, 6, 9)) is None  # Saturday


def test_busy_index_merges_and_answers_overlap_queries():
    index = BusyIndex(
        [
            Interval(utc(2027, 1, 1, 10), utc(2027, 1, 1, 11)),
            Interval(utc(2027, 1, 1, 9), utc(2027, 1, 1, 10, 30)),
            Interval(utc(2027, 1, 1, 14), utc(2027, 1, 1, 15)),
        ]
    )
    assert not index.is_free(utc(2027, 1, 1, 9, 15), utc(2027, 1, 1, 9, 20))
    assert index.is_free(utc(2027, 1, 1, 11), utc(2027, 1, 1, 14))
    assert not index.is_free(utc(2027, 1, 1, 11), utc(2027, 1, 1, 14, 1))
    assert index.is_free(utc(2027, 1, 1, 8), utc(2027, 1, 1, 9))
    assert index.is_free(utc(2027, 1, 1, 15), utc(2027, 1, 1, 16))
    assert BusyIndex([]).is_free(utc(2027, 1, 1), utc(2027, 1, 2))
