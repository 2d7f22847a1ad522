"""How tests and benchmarks start the service's own processes, as `scripts/run` does."""

import sys
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
