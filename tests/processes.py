"""How tests and benchmarks start the service's own processes, as `scripts/run` does."""

import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def worker_command(schedule: Path, loglevel: str = "INFO") -> list[str]:
    """A Celery worker with beat in one process (--pool=solo works on every broker)."""
    return [
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-B",
        "--pool=solo",
        f"--loglevel={loglevel}",
        "--schedule",
        str(schedule),
    ]
