"""Audits of the stored state, for the concurrency tests and the benchmarks."""


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
