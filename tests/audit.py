"""Concurrency tests' tools: run calls at once, audit the stored state afterwards."""

import threading

from django.db import connections


def overlapping_live_sessions() -> int:
    """How many pairs of live sessions of one practitioner overlap (buffers included).

    Always 0 unless something went badly wrong; the concurrency tests and the soak
    benchmark audit with it.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM scheduler_session a JOIN scheduler_session b
              ON a.id < b.id AND a.practitioner_id = b.practitioner_id
             AND a.status <> 'cancelled' AND b.status <> 'cancelled'
             AND a.blocked_start < b.blocked_end AND b.blocked_start < a.blocked_end
            """
        )
        return cursor.fetchone()[0]


def race(calls):
    """Run the calls at once, each on its own thread and connection; return outcomes.

    Each call holds a database connection: tests that race many calls are marked
    @pytest.mark.xdist_group("connections") so that `make test` (-n 2 --dist loadgroup)
    runs them on one worker, one at a time."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:  # every outcome is asserted by the caller
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes
