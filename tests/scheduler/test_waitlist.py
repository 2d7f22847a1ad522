"""The wait list's rules: who is offered which freed time, when, and who gets it."""

from collections import Counter
from datetime import date, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from scheduler.booking import booking_cancel, booking_create, booking_reschedule
from scheduler.models import Booking, BusyBlock, WaitlistEntry, WaitlistOffer
from scheduler.waitlist import (
    TooManyWaitlistEntries,
    waitlist_claim,
    waitlist_entry_list,
    waitlist_expire,
    waitlist_join,
    waitlist_leave,
    waitlist_offer_by_token,
)
from sync import outbox
from sync.waitlist import waitlist_offers_send, waitlist_sweep
from tests import factories
from tests.factories import AMSTERDAM, local, utc
from tests.scheduler.test_booking_race import race

MONDAY = date(2027, 3, 1)
NOW = utc(2027, 2, 22, 7)  # a week before: outside every change window


def at(hour, minute=0, day=MONDAY):
    return local(AMSTERDAM, day.year, day.month, day.day, hour, minute)


@pytest.fixture
def small_practice(db):
    """Two half-hour times a weekday (09:00, 09:30), both booked on MONDAY."""
    person = factories.practitioner(hours=[(time(9), time(10))])
    follow_up = factories.appointment_type(person, duration_minutes=30)
    bookings = [
        booking_create(
            appointment_type=follow_up, start=at(9, m), client=factories.client(90 + i), now=NOW
        ).booking
        for i, m in enumerate((0, 30))
    ]
    outbox.deliver_due(now=NOW)  # their confirmations: out of the way
    return person, follow_up, bookings


def join(appointment_type, n, first=MONDAY, last=MONDAY, now=NOW):
    return waitlist_join(
        appointment_type=appointment_type,
        client=factories.client(n, phone=""),
        earliest=first,
        latest=last,
        now=now,
    )


def mailed(now):
    """Deliver the outbox; the wait-list messages sent (not the bookings' own)."""
    from django.core import mail

    mail.outbox.clear()
    outbox.deliver_due(now=now)
    return [m for m in mail.outbox if "/waitlist/" in m.body]


def offers_to(entry_ids):
    return Counter(
        WaitlistOffer.objects.filter(
            entry_id__in=entry_ids, claim_token_hash__isnull=False
        ).values_list("entry_id", flat=True)
    )


def claim_token_of(message):
    link = next(line for line in message.body.splitlines() if "/waitlist/claim/" in line)
    return link.rstrip("/").rsplit("/", 1)[1]


def test_joining_checks_the_range(small_practice):
    _, follow_up, _ = small_practice
    for first, last, field in [
        (date(2027, 2, 21), MONDAY, "earliest"),  # before today
        (MONDAY, MONDAY - timedelta(days=1), "latest"),
        (MONDAY, date(2027, 2, 22) + timedelta(days=91), "latest"),  # past the horizon
    ]:
        with pytest.raises(ValidationError) as caught:
            join(follow_up, 1, first, last)
        assert field in caught.value.message_dict
    assert not WaitlistEntry.objects.exists()


def test_an_address_holds_a_few_waiting_entries(small_practice, settings):
    settings.WAITLIST_MAX_ENTRIES_PER_EMAIL = 2
    _, follow_up, _ = small_practice
    join(follow_up, 1)
    join(follow_up, 1)
    with pytest.raises(TooManyWaitlistEntries):
        join(follow_up, 1)
    join(follow_up, 2)  # another address


def test_joined_mail_has_the_leave_link(small_practice, clock_at_now):
    _, follow_up, _ = small_practice
    join(follow_up, 1)
    (message,) = mailed(NOW)
    assert message.to == ["client1@example.nl"]
    assert "wachtlijst" in message.subject
    assert "/waitlist/" in message.body


def test_a_cancellation_is_offered_oldest_first_in_waves(small_practice, settings):
    settings.WAITLIST_WAVE_SIZE, settings.WAITLIST_WAVE_MINUTES = 3, 10
    person, follow_up, bookings = small_practice
    entries = [join(follow_up, n, now=NOW + timedelta(seconds=n)).entry for n in range(5)]
    mailed(NOW)
    assert waitlist_offers_send(practitioner_id=person.pk, now=NOW) == 0  # nothing free
    booking_cancel(booking=bookings[0], now=NOW)
    assert waitlist_offers_send(practitioner_id=person.pk, now=NOW) == 3
    messages = mailed(NOW)
    assert sorted(m.to[0] for m in messages) == [f"client{n}@example.nl" for n in range(3)]
    assert all("09:00" in m.body and "/waitlist/claim/" in m.body for m in messages)
    assert waitlist_offers_send(practitioner_id=person.pk, now=NOW + timedelta(minutes=5)) == 0
    later = NOW + timedelta(minutes=11)
    assert waitlist_offers_send(practitioner_id=person.pk, now=later) == 2  # nobody claimed
    assert {m.to[0] for m in mailed(later)} == {"client3@example.nl", "client4@example.nl"}
    # Everyone has had that start: it is never offered to anyone again.
    assert waitlist_offers_send(practitioner_id=person.pk, now=later + timedelta(hours=1)) == 0
    assert offers_to([e.pk for e in entries]) == {e.pk: 1 for e in entries}


def test_no_offer_outside_the_range_the_notice_or_after_leaving(small_practice, settings):
    settings.WAITLIST_WAVE_SIZE = 10
    person, follow_up, bookings = small_practice
    tuesday = MONDAY + timedelta(days=1)
    other_day = join(follow_up, 1, tuesday + timedelta(days=1), tuesday + timedelta(days=2))
    left = join(follow_up, 2)
    waitlist_leave(entry=left.entry, now=NOW)
    booking_cancel(booking=bookings[0], now=NOW)
    assert waitlist_offers_send(practitioner_id=person.pk, now=NOW) == 0
    # Inside the client change window (24 h) nothing is offered.
    close = at(9) - timedelta(hours=23)
    in_range = join(follow_up, 3, now=close)
    assert in_range.entry.offers.count() == 1  # free when joining: seen, never offered
    fresh = join(follow_up, 4, first=MONDAY, last=MONDAY, now=NOW)
    assert waitlist_offers_send(practitioner_id=person.pk, now=close) == 0
    assert offers_to([other_day.entry.pk, left.entry.pk, fresh.entry.pk]) == {}


def test_a_type_s_minimum_notice_is_kept(db):
    person = factories.practitioner(hours=[(time(9), time(10))])
    follow_up = factories.appointment_type(person, duration_minutes=30, min_notice_minutes=3 * 1440)
    booking = booking_create(
        appointment_type=follow_up, start=at(9), client=factories.client(1), now=NOW
    ).booking
    booking_create(appointment_type=follow_up, start=at(9, 30), client=factories.client(2), now=NOW)
    entry = join(follow_up, 3).entry
    two_days_before = at(9) - timedelta(days=2)
    booking_cancel(booking=booking, now=two_days_before)
    assert waitlist_offers_send(practitioner_id=person.pk, now=two_days_before) == 0
    assert offers_to([entry.pk]) == {}


def test_times_free_when_joining_are_not_offered_but_new_hours_are(small_practice):
    person, follow_up, _ = small_practice
    tuesday = MONDAY + timedelta(days=1)
    entry = join(follow_up, 1, tuesday, tuesday).entry  # 09:00 and 09:30 free: seen
    assert waitlist_sweep(now=NOW) == 0
    # New hours that day: 10:00 is free now and is offered by beat's sweep.
    from scheduler.practice import weekly_rules_replace

    weekly_rules_replace(practitioner=person, rules=[(d, time(9), time(10, 30)) for d in range(5)])
    assert waitlist_sweep(now=NOW) == 1
    assert list(entry.offers.exclude(claim_token_hash=None).values_list("start", flat=True)) == [
        at(10, day=tuesday)
    ]


def test_a_series_is_offered_only_when_its_whole_set_is_free(db):
    person = factories.practitioner(hours=[(time(9), time(10))])
    series = factories.intake_series(person)  # 60/30/30 min on days 0, 3 and 10
    booked = booking_create(
        appointment_type=series, start=at(9), client=factories.client(1), now=NOW
    ).booking
    entry = join(series, 2).entry
    # Day 10 (the third session) gets busy in the practitioner's calendar, then the series
    # is cancelled: Monday's first session is free, the set is not.
    block = BusyBlock.objects.create(
        practitioner=person,
        start=at(9, day=MONDAY + timedelta(days=10)),
        end=at(10, day=MONDAY + timedelta(days=10)),
        source="ics:1",
    )
    booking_cancel(booking=booked, now=NOW)
    assert waitlist_sweep(now=NOW) == 0
    block.delete()  # the busy block is removed: now the whole set fits
    assert waitlist_sweep(now=NOW) == 1
    (offer,) = entry.offers.all()
    assert offer.start == at(9)


def test_a_reschedule_frees_the_old_time(small_practice, django_capture_on_commit_callbacks):
    _, follow_up, bookings = small_practice
    entry = join(follow_up, 1).entry
    tuesday = MONDAY + timedelta(days=1)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=bookings[0], start=at(9, day=tuesday), now=NOW)
    # The receiver asked for a check after commit (eager here): 09:00 went out.
    assert list(entry.offers.values_list("start", flat=True)) == [at(9)]


def test_claim_books_and_the_entry_leaves_the_list(small_practice, settings):
    settings.WAITLIST_WAVE_SIZE = 2
    person, follow_up, bookings = small_practice
    first, second = join(follow_up, 1).entry, join(follow_up, 2).entry
    booking_cancel(booking=bookings[0], now=NOW)
    waitlist_offers_send(practitioner_id=person.pk, now=NOW)
    tokens = {m.to[0]: claim_token_of(m) for m in mailed(NOW) if "/claim/" in m.body}
    won = waitlist_claim(offer=waitlist_offer_by_token(tokens["client1@example.nl"]), now=NOW)
    assert won.won and won.result.booking.sessions.get().start == at(9)
    assert won.result.booking.client_email == "client1@example.nl"
    lost = waitlist_claim(offer=waitlist_offer_by_token(tokens["client2@example.nl"]), now=NOW)
    assert not lost.won and lost.reason == "taken"
    assert lost.alternatives  # the nearest free times
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.booking_id) == ("claimed", won.result.booking.pk)
    assert second.status == "waiting"
    again = waitlist_claim(offer=waitlist_offer_by_token(tokens["client1@example.nl"]), now=NOW)
    assert again.won and again.result is None  # the same link once more: no second booking
    assert Booking.objects.filter(status="confirmed").count() == 2


def test_no_claim_inside_the_change_window_or_after_leaving(small_practice, settings):
    settings.WAITLIST_WAVE_SIZE = 2
    person, follow_up, bookings = small_practice
    join(follow_up, 1)
    second = join(follow_up, 2).entry
    booking_cancel(booking=bookings[0], now=NOW)
    waitlist_offers_send(practitioner_id=person.pk, now=NOW)
    tokens = {m.to[0]: claim_token_of(m) for m in mailed(NOW) if "/claim/" in m.body}
    late = waitlist_claim(
        offer=waitlist_offer_by_token(tokens["client1@example.nl"]),
        now=at(9) - timedelta(hours=2),
    )
    assert late.reason == "taken"
    waitlist_leave(entry=second, now=NOW)
    gone = waitlist_claim(offer=waitlist_offer_by_token(tokens["client2@example.nl"]), now=NOW)
    assert gone.reason == "not_waiting"
    assert not Booking.objects.filter(status="confirmed", client_email__startswith="client1@")
    assert waitlist_offer_by_token("x" * 43) is None


def test_entries_expire_after_their_range(small_practice):
    person, follow_up, _ = small_practice
    entry = join(follow_up, 1).entry
    assert waitlist_expire(now=at(23, 59)) == 0  # the last day itself still counts
    assert waitlist_expire(now=at(0, 1, day=MONDAY + timedelta(days=1))) == 1
    entry.refresh_from_db()
    assert entry.status == "expired"
    assert [e.pk for e in waitlist_entry_list(practitioner_id=person.pk, status="expired")] == [
        entry.pk
    ]


@pytest.mark.django_db(transaction=True)
def test_five_parallel_claims_of_one_time_make_exactly_one_booking(settings):
    settings.WAITLIST_WAVE_SIZE = 5
    person = factories.practitioner(hours=[(time(9), time(10))])
    follow_up = factories.appointment_type(person, duration_minutes=30)
    booked = [
        booking_create(
            appointment_type=follow_up, start=at(9, m), client=factories.client(90 + m), now=NOW
        ).booking
        for m in (0, 30)
    ]
    entries = [join(follow_up, n, now=NOW + timedelta(seconds=n)).entry for n in range(5)]
    with time_machine.travel(NOW, tick=False):
        # The receiver asks for the check after commit (run eagerly here, at NOW).
        booking_cancel(booking=booked[0], now=NOW)
    offers = list(WaitlistOffer.objects.exclude(claim_token_hash=None))
    assert len(offers) == 5
    outcomes = race([lambda o=o: waitlist_claim(offer=o, now=NOW) for o in offers])
    assert Counter(o.won if not isinstance(o, Exception) else o for o in outcomes) == {
        True: 1,
        False: 4,
    }
    assert Counter(o.reason for o in outcomes if not o.won) == {"taken": 4}
    statuses = Counter(
        WaitlistEntry.objects.filter(pk__in=[e.pk for e in entries]).values_list(
            "status", flat=True
        )
    )
    assert statuses == {"claimed": 1, "waiting": 4}
    live = Booking.objects.filter(status="confirmed", sessions__start=at(9))
    assert live.count() == 1


def test_erasing_a_client_removes_their_wait_list_entries(small_practice):
    from scheduler.privacy import client_data_erase

    person, follow_up, _ = small_practice
    join(follow_up, 1)
    kept = join(follow_up, 2).entry
    client_data_erase(practitioner=person, email="CLIENT1@example.nl", now=NOW)
    assert list(WaitlistEntry.objects.values_list("pk", flat=True)) == [kept.pk]
