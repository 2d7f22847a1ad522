"""Run the tests with the clock moved ahead, to find tests that pass only until some date.

    pytest -p tests.clock_shift [-n 2 --dist loadgroup] tests
    TEST_CLOCK_SHIFT_DAYS=400 pytest -p tests.clock_shift tests    (default: 365)

Every test process (xdist workers too: they load the same plugins) starts its clock that
many days ahead of the real one and lets it tick from there; a test's own frozen clock
(`frozen_day`, `frozen_clock`, time_machine.travel) still wins inside that test. Processes
a test starts (gunicorn, workers, Radicale, the browser) and the database server keep the
real clock. Not part of `make test`: run it when dates in tests change, or as a check.
"""

import os
from datetime import UTC, datetime, timedelta

import time_machine

_travel: time_machine.travel | None = None


def _days() -> int:
    return int(os.environ.get("TEST_CLOCK_SHIFT_DAYS", "365"))


def pytest_configure(config):
    global _travel
    _travel = time_machine.travel(datetime.now(UTC) + timedelta(days=_days()), tick=True)
    _travel.start()


def pytest_unconfigure(config):
    if _travel is not None:
        _travel.stop()


def pytest_report_header(config):
    return f"clock moved {_days()} days ahead: it is now {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
