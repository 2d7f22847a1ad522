"""How tests and benchmarks start the service's own processes, as `scripts/run` does, and
other servers they need (Radicale, Redis): started so that a failed start leaves nothing
running."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


def worker_command(schedule: Path | None, loglevel: str = "INFO") -> list[str]:
    """A Celery worker (--pool=solo works on every broker); with a `schedule` file it runs
    beat too, in the same process group."""
    command = [str(BIN / "celery"), "-A", "config", "worker"]
    if schedule is not None:
        command.append("-B")
    command += ["--pool=solo", f"--loglevel={loglevel}"]
    if schedule is not None:
        command += ["--schedule", str(schedule)]
    return command


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def process_start(
    args: list[str],
    *,
    ready: Callable[[], bool] | None = None,
    timeout: float = 30,
    **popen,
) -> subprocess.Popen:
    """`args` in a process group of its own (a worker's beat, gunicorn's workers are its
    children), returned once `ready()` holds.

    If it never does — the process exits, `timeout` passes, `ready` raises, the run is
    interrupted — the whole group is stopped before the error goes on, so a failed start
    leaves no process behind (a server that never answered used to outlive the test run).
    """
    process = subprocess.Popen(args, start_new_session=True, **popen)
    try:
        deadline = time.monotonic() + timeout
        while ready is not None and not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{args[0]} exited with {process.returncode} while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} was not ready after {timeout} s")
            time.sleep(0.05)
    except BaseException:
        process_stop(process, grace=0)
        raise
    return process


def process_stop(process: subprocess.Popen, grace: float = 10) -> None:
    """The process's whole group: SIGTERM, and SIGKILL for whatever is left after `grace`
    seconds (at once with grace=0)."""
    if grace:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # also children the leader left behind
    process.wait(timeout=30)


@contextlib.contextmanager
def process_running(args: list[str], *, grace: float = 10, **start) -> Iterator[subprocess.Popen]:
    """`process_start`, and `process_stop` when the block ends, however it ends."""
    process = process_start(args, **start)
    try:
        yield process
    finally:
        process_stop(process, grace=grace)
