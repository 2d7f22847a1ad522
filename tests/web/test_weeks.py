"""The week picker the booking page and the workspace share (web/weeks.py)."""

from datetime import date, timedelta

from scheduler.types import Interval, Slot
from tests.factories import AMSTERDAM, local, utc
from web.weeks import slot_view, week_days, week_steps, week_to_show

TODAY = date(2027, 3, 3)  # a Wednesday
THIS_MONDAY = date(2027, 3, 1)


def test_the_week_shown_is_the_one_asked_for_else_the_fallbacks_never_a_past_one():
    assert week_to_show(date(2027, 3, 19), today=TODAY) == date(2027, 3, 15)
    assert week_to_show(None, fallback=date(2027, 3, 10), today=TODAY) == date(2027, 3, 8)
    assert week_to_show(None, today=TODAY) == THIS_MONDAY
    assert week_to_show(date(2027, 1, 5), fallback=date(2027, 3, 10), today=TODAY) == THIS_MONDAY


def test_the_steps_stop_at_this_week_and_at_the_last_day():
    assert week_steps(THIS_MONDAY, today=TODAY, last_day=date(2027, 3, 31)) == (
        None,
        date(2027, 3, 8),
    )
    later = date(2027, 3, 22)
    assert week_steps(later, today=TODAY, last_day=date(2027, 3, 29)) == (
        date(2027, 3, 15),
        date(2027, 3, 29),
    )
    assert week_steps(later, today=TODAY, last_day=date(2027, 3, 28)) == (date(2027, 3, 15), None)


def test_the_days_hold_their_own_local_times():
    # 23:30 UTC on Sunday 28 February is 00:30 on Monday in Amsterdam.
    starts = [utc(2027, 2, 28, 23, 30), utc(2027, 3, 3, 9), utc(2027, 3, 8, 9)]
    half_hour = timedelta(minutes=30)
    slots = [
        Slot(start, start + half_hour, (Interval(start, start + half_hour),)) for start in starts
    ]
    days = week_days(slots, THIS_MONDAY, AMSTERDAM)
    assert [day for day, _ in days] == [THIS_MONDAY + timedelta(days=n) for n in range(7)]
    assert [len(views) for _, views in days] == [1, 0, 1, 0, 0, 0, 0]  # next week's left out
    first = days[0][1][0]
    assert first == slot_view(slots[0], AMSTERDAM)
    assert first["start"] == local(AMSTERDAM, 2027, 3, 1, 0, 30)
    assert first["value"] == int(starts[0].timestamp())
    assert first["sessions"] == [local(AMSTERDAM, 2027, 3, 1, 0, 30)]
