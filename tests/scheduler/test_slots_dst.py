"""Daylight saving time on both switches, in Europe/Amsterdam and Australia/Sydney."""

from collections import Counter
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.slots import available_slots, find_slot
from scheduler.types import SlotInputs
from tests.factories import AMSTERDAM, rules, utc

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = utc(2027, 1, 1)
NIGHT = [(time(0), time(6))]  # night hours make the switches fall inside working time


def wall_clocks(slots, tz):
    return [s.start.astimezone(tz).strftime("%H:%M%z") for s in slots]


def night_slots(tz, day):
    inputs = SlotInputs(rules(tz=tz, weekly={day.weekday(): NIGHT}, sessions=((0, 30),)), busy=())
    return available_slots(inputs, now=NOW, first_day=day, last_day=day)


def test_spring_forward_gap_never_offered_in_amsterdam():
    slots = night_slots(AMSTERDAM, date(2027, 3, 28))  # 02:00 CET jumps to 03:00 CEST
    clocks = wall_clocks(slots, AMSTERDAM)
    assert not [c for c in clocks if c.startswith("02:")]
    assert clocks[:5] == ["00:00+0100", "00:30+0100", "01:00+0100", "01:30+0100", "03:00+0200"]
    # The day is 23 hours long: 6 wall-clock hours hold 5 real ones, 10 half-hour slots.
    assert len(slots) == 10
    assert len({s.start for s in slots}) == len(slots)


def test_fall_back_hour_offered_once_at_its_first_occurrence_in_amsterdam():
    slots = night_slots(AMSTERDAM, date(2027, 10, 31))  # 03:00 CEST falls back to 02:00 CET
    clocks = wall_clocks(slots, AMSTERDAM)
    counts = Counter(c[:5] for c in clocks)
    assert counts["02:00"] == 1 and counts["02:30"] == 1
    assert "02:00+0200" in clocks and "02:00+0100" not in clocks
    assert len({s.start for s in slots}) == len(slots) == 12
    assert [s.start for s in slots] == sorted(s.start for s in slots)


def test_ambiguous_time_resolves_the_same_way_when_booking():
    day = date(2027, 10, 31)
    inputs = SlotInputs(rules(weekly={6: NIGHT}, sessions=((0, 30),)), busy=())
    first_occurrence = utc(2027, 10, 31, 0, 0)  # 02:00 CEST
    second_occurrence = utc(2027, 10, 31, 1, 0)  # 02:00 CET
    assert find_slot(inputs, now=NOW, start=first_occurrence) is not None
    assert find_slot(inputs, now=NOW, start=second_occurrence) is None
    assert day.weekday() == 6


def test_office_hours_shift_in_utc_across_the_amsterdam_switches():
    inputs = SlotInputs(rules(sessions=((0, 60),)), busy=())

    def first_utc(day):
        return available_slots(inputs, now=NOW, first_day=day, last_day=day)[0].start

    assert first_utc(date(2027, 3, 26)) == utc(2027, 3, 26, 8)  # Friday, CET
    assert first_utc(date(2027, 3, 29)) == utc(2027, 3, 29, 7)  # Monday, CEST
    assert first_utc(date(2027, 10, 29)) == utc(2027, 10, 29, 7)  # Friday, CEST
    assert first_utc(date(2027, 11, 1)) == utc(2027, 11, 1, 8)  # Monday, CET


def test_session_crossing_the_gap_lasts_its_real_duration():
    # 01:30 + 60 min ends at 03:30 CEST; the range ends at 04:00, so it fits.
    day = date(2027, 3, 28)
    inputs = SlotInputs(
        rules(weekly={6: [(time(1), time(4))]}, sessions=((0, 60),), step=30), busy=()
    )
    slots = available_slots(inputs, now=NOW, first_day=day, last_day=day)
    assert all(s.end - s.start == timedelta(hours=1) for s in slots)
    assert wall_clocks(slots, AMSTERDAM) == ["01:00+0100", "01:30+0100", "03:00+0200"]


def test_southern_hemisphere_gap_in_october_is_never_offered():
    slots = night_slots(SYDNEY, date(2027, 10, 3))  # 02:00 AEST jumps to 03:00 AEDT
    clocks = wall_clocks(slots, SYDNEY)
    assert not [c for c in clocks if c.startswith("02:")]
    assert "01:30+1000" in clocks and "03:00+1100" in clocks
    assert len(slots) == 10


def test_southern_hemisphere_fall_back_in_april_resolves_to_first_occurrence():
    slots = night_slots(SYDNEY, date(2027, 4, 4))  # 03:00 AEDT falls back to 02:00 AEST
    clocks = wall_clocks(slots, SYDNEY)
    assert "02:00+1100" in clocks and "02:00+1000" not in clocks
    assert len({s.start for s in slots}) == len(slots) == 12


def test_series_spanning_the_autumn_switch_keeps_local_time():
    inputs = SlotInputs(rules(sessions=((0, 60), (3, 30), (10, 30))), busy=())
    day = date(2027, 10, 25)  # Monday in CEST; day 10 is Thursday 4 November in CET
    slot = available_slots(inputs, now=NOW, first_day=day, last_day=day)[0]
    offsets = [s.start.astimezone(AMSTERDAM).strftime("%d %H:%M%z") for s in slot.sessions]
    assert offsets == [
        "25 09:00+0200",
        "28 09:00+0200",
        "04 09:00+0100",
    ]
