"""Read one subscribed calendar in a child process, within a time and a memory limit.

A feed is text from a stranger: a 200-byte RRULE can ask for ten million occurrences and
a parser can be made to crawl. The importer itself stops at its budgets (subscribe.py);
this is the backstop for everything else. The child is a fresh interpreter
(`python -m sync.ics.limits`), not a fork: nothing of the worker (threads, database
connections, Celery's pool) is copied into it, it works the same under Celery's solo and
prefork pools and in the synccalendars command, and icalendar's process-wide cache of
custom time zones starts empty for every feed. The child limits its own address space
(RLIMIT_AS) and CPU time (RLIMIT_CPU) before it reads a byte; the parent kills it at the
wall-clock deadline. Start-up costs about 0.1-0.3 s, once per changed feed.

Pure Python, no Django: the child imports only this module and subscribe.py.
"""

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sync.ics.subscribe import (
    BusyImport,
    ImportLimitError,
    calendars_merge,
    decode,
    ics_busy_blocks,
)

ROOT = Path(__file__).resolve().parent.parent.parent
_MEMORY_EXIT = 3


@dataclass(frozen=True)
class Limits:
    seconds: float = 30.0  # wall clock for one feed, start-up included
    memory_mb: int = 300  # address space of the child; its resident memory stays below


@dataclass
class LimitedImport(BusyImport):
    peak_rss_mb: float = 0.0  # the child's own peak resident memory


def ics_busy_blocks_limited(
    body: bytes,
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    block_all_day: bool = True,
    limits: Limits = Limits(),
    merge: bool = False,
) -> LimitedImport:
    """ics_busy_blocks() in a child process.

    With `merge`, `body` is many calendars one after another (CalDAV objects), joined into
    one in the child (calendars_merge), so that work, too, counts against the limits.
    Raises ValueError for an unreadable feed and ImportLimitError when the feed needs
    more time or memory than `limits`, or more occurrences than the importer's budgets.
    """
    header = {
        "zone": zone.key,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "block_all_day": block_all_day,
        "merge": merge,
        "memory": limits.memory_mb * 1024 * 1024,
        "cpu": max(1, int(limits.seconds + 1)),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)  # nothing in the child needs Django
    child = subprocess.Popen(
        [sys.executable, "-m", "sync.ics.limits"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    payload = json.dumps(header).encode() + b"\n" + body
    try:
        out, err = child.communicate(payload, timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise ImportLimitError(f"reading it took longer than {limits.seconds:g} seconds") from None
    if child.returncode == _MEMORY_EXIT or b"MemoryError" in err[-2000:]:
        raise ImportLimitError(f"reading it needs more than {limits.memory_mb} MB of memory")
    if child.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ImportLimitError(f"reading it took longer than {limits.seconds:g} seconds")
    try:
        answer = json.loads(out)
    except ValueError:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
        raise RuntimeError(f"the calendar reader stopped: {tail[0][:300]}") from None
    if answer.get("limit"):
        raise ImportLimitError(answer["limit"])
    if answer.get("error"):
        raise ValueError(answer["error"])
    return LimitedImport(
        blocks=[
            (datetime.fromisoformat(b), datetime.fromisoformat(e), uid)
            for b, e, uid in answer["blocks"]
        ],
        warnings=answer["warnings"],
        peak_rss_mb=answer["peak_rss_mb"],
    )


def _child() -> None:
    """Set the limits, read header and feed from stdin, answer with JSON on stdout."""
    header = json.loads(sys.stdin.buffer.readline())
    resource.setrlimit(resource.RLIMIT_AS, (header["memory"], header["memory"]))
    resource.setrlimit(resource.RLIMIT_CPU, (header["cpu"], header["cpu"] + 1))
    reserve = bytearray(1024 * 1024)  # freed on MemoryError, so the answer can be written
    try:
        body = sys.stdin.buffer.read()
        if header.get("merge"):
            body = calendars_merge(decode(body)).encode()
        result = ics_busy_blocks(
            body,
            zone=ZoneInfo(header["zone"]),
            start=datetime.fromisoformat(header["start"]),
            end=datetime.fromisoformat(header["end"]),
            block_all_day=header["block_all_day"],
        )
        del body
        answer = {
            "blocks": [(b.isoformat(), e.isoformat(), uid) for b, e, uid in result.blocks],
            "warnings": result.warnings,
        }
    except MemoryError:
        del reserve
        os._exit(_MEMORY_EXIT)
    except ImportLimitError as exc:
        answer = {"limit": str(exc)}
    except ValueError as exc:
        answer = {"error": str(exc)}
    except Exception as exc:  # a feed can break the parser in ways nobody lists
        answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    answer["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


def _peak_rss_mb() -> float:
    """This interpreter's own peak resident memory (VmHWM).

    Not ru_maxrss: Linux carries that over exec from the forked copy of the parent.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    _child()
