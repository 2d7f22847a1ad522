"""Background work asked for by name, so that nothing the tasks call has to import them.

sync/tasks.py holds the Celery tasks and imports the services, the connectors and the
outbox to run them; those ask for work here, by the task's name, and sync/apps.py hands
this module the tasks' way of queueing at start-up. Asking never fails the caller: when
the broker cannot be reached the work waits for beat (every task asked for this way also
runs on a schedule, or only makes something happen sooner). Before anything is registered
(a script that never set up Django's apps) a request is logged and dropped the same way.
"""

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

_send: Callable[..., None] | None = None
_after_commit: Callable[..., None] | None = None


def register(*, send: Callable[..., None], after_commit: Callable[..., None]) -> None:
    """`send(name, *args, **kwargs)` queues the task named `name` now; `after_commit(...)`
    once the current transaction commits (sync.tasks.job_send, sync.tasks.job_after_commit)."""
    global _send, _after_commit
    _send, _after_commit = send, after_commit


def send(name: str, *args, **kwargs) -> None:
    """Ask a worker for the task `name` now; never raises."""
    try:
        if _send is None:
            raise RuntimeError("no task sender registered")
        _send(name, *args, **kwargs)
    except LookupError:  # no task of that name: a mistake in the code, not the broker
        raise
    except Exception:  # any broker trouble (refused, timeout, auth) only delays
        log.warning("broker unreachable: %s waits for its schedule", name)


def after_commit(name: str, *args, **kwargs) -> None:
    """Ask a worker for the task `name` once the current transaction commits (at once
    outside one); never raises."""
    if _after_commit is None:
        transaction.on_commit(lambda: send(name, *args, **kwargs))
        return
    _after_commit(name, *args, **kwargs)
