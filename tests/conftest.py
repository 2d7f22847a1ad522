from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

_AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# The instants at which date-sensitive tests run: each day of one ordinary week at a
# telling time of day (local Europe/Amsterdam time), and both DST switch days. Fixed, so a
# test passes or fails the same whatever the real date; varied, so a test that only holds
# on some weekdays or hours fails here and not on a CI run months later.
FROZEN_DAYS = [
    # 00:30 on Monday is still Sunday in UTC: local and UTC dates differ.
    pytest.param(datetime(2027, 1, 18, 0, 30, tzinfo=_AMSTERDAM), id="mon-0030"),
    pytest.param(datetime(2027, 1, 19, 9, 15, tzinfo=_AMSTERDAM), id="tue-0915"),  # working
    pytest.param(datetime(2027, 1, 20, 12, 45, tzinfo=_AMSTERDAM), id="wed-1245"),  # lunch
    pytest.param(datetime(2027, 1, 21, 16, 45, tzinfo=_AMSTERDAM), id="thu-1645"),  # last hour
    pytest.param(datetime(2027, 1, 22, 17, 30, tzinfo=_AMSTERDAM), id="fri-1730"),  # weekend
    pytest.param(datetime(2027, 1, 23, 13, 0, tzinfo=_AMSTERDAM), id="sat-1300"),
    # 23:30 on Sunday: Monday's first times are less than a day away.
    pytest.param(datetime(2027, 1, 24, 23, 30, tzinfo=_AMSTERDAM), id="sun-2330"),
    # 01:30 CET on the last Sunday of March, half an hour before clocks go to 03:00 CEST.
    pytest.param(datetime(2027, 3, 28, 1, 30, tzinfo=_AMSTERDAM), id="dst-spring-0130"),
    # 02:30 CEST on the last Sunday of October, the first of that day's two 02:30s.
    pytest.param(datetime(2027, 10, 31, 2, 30, tzinfo=_AMSTERDAM, fold=0), id="dst-autumn-0230"),
]


def pytest_itemcollected(item):
    """Each schemathesis operation test gets its own id: `test_x[GET /api/v1/...]`.

    schemathesis names its items so, but since pytest 9.2 an item's id is built from its
    original name and its parametrization only: every operation had the same id, and xdist
    (which schedules by id) ran the first of them 36 times and the others never.
    `tests/api/test_fuzz.py` checks that each operation of the served schema has an item
    of its own."""
    label = getattr(item, "operation_label", None)
    node_id = getattr(item, "_id", None)
    if label and node_id is not None and getattr(node_id, "params", "") is None:
        item._id = node_id.with_params(label)


_FUZZ_TEST = "tests/api/test_fuzz.py::test_api_never_fails_and_answers_match_the_schema["
_fuzzed: dict[str, str] = {}


def pytest_runtest_logreport(report):
    """Notes each fuzzed operation's outcome (the xdist controller receives every report)."""
    if report.nodeid.startswith(_FUZZ_TEST) and (report.when == "call" or not report.passed):
        _fuzzed[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter):
    """Says how many API operations were fuzzed, so a run that fuzzed fewer shows it."""
    if _fuzzed:
        outcomes = list(_fuzzed.values())
        terminalreporter.write_line(
            f"schemathesis: {len(outcomes)} API operations fuzzed "
            f"({outcomes.count('passed')} passed, {outcomes.count('failed')} failed, "
            f"{outcomes.count('skipped')} skipped)"
        )


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` are skipped, with a reason, on any other database.

    A test at a `frozen_day` (or the `frozen_clock`, or `clock_at_now`) has the clock set
    before any other fixture of its scope runs, so all of its data is made at the frozen
    instant."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        for clock in ("frozen_clock", "frozen_day", "clock_at_now"):
            if names and clock in names:
                names.remove(clock)
                names.insert(0, clock)
    # Slow tests first (a stable sort: the rest keep their order). xdist hands tests out in
    # collection order, one at a time as a worker finishes one: a test of a minute collected
    # near the end ran alone while the other worker had nothing left to do. Started first,
    # the short tests fill in around them on both workers.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def radicale():
    """One Radicale per test process, for every CalDAV test: each test makes an account of
    its own (tests/sync/test_caldav.py `account`), so none sees another's calendars. Per
    module it was started again for each module a worker ran, and again when the slow tests
    run first took a module's tests apart."""
    from tests.fakes.caldav_server import RadicaleServer

    with RadicaleServer() as server:
        yield server


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(params=FROZEN_DAYS)
def frozen_day(request) -> datetime:
    """The clock set to each of FROZEN_DAYS in turn (the test runs once per instant).

    It keeps ticking from there (tick=True), so a live server, which runs in a thread of
    this process and sees the same clock, and a browser waiting on it behave normally.
    """
    with time_machine.travel(request.param, tick=True):
        yield request.param


# For a date-dependent test too slow to run at every one of FROZEN_DAYS: a Wednesday whose
# next week holds the spring DST switch (Sunday 2027-03-28).
FROZEN_CLOCK = datetime(2027, 3, 17, 10, 0, tzinfo=_AMSTERDAM)


@pytest.fixture
def frozen_clock() -> datetime:
    """The clock set to FROZEN_CLOCK, ticking from there, like `frozen_day`."""
    with time_machine.travel(FROZEN_CLOCK, tick=True):
        yield FROZEN_CLOCK


@pytest.fixture
def clock_at_now(request) -> datetime:
    """The clock stopped at the test module's `NOW` for the whole test, set-up included.

    For tests that hand `now=NOW` to the code while what it sets off reads the clock itself
    (signal receivers queue outbox items at timezone.now()): without it those items were
    due at the real time, and `deliver_due(now=NOW)` found nothing once the real date
    passed NOW. `pytest -p tests.clock_shift` finds such tests before their date comes.
    """
    now = request.module.NOW
    with time_machine.travel(now, tick=False):
        yield now
