"""A server a test starts is stopped when its start fails: nothing is left running."""

import sys
import time
from pathlib import Path

import pytest

from tests import processes
from tests.fakes import caldav_server
from tests.fakes.caldav_server import RadicaleServer
from tests.reliability.smtp_sink import SmtpSink
from tests.reliability.test_nothing_lost import Stack


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has stopped: it holds no port or file)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone(pids, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# A parent that starts a child (as gunicorn, or a worker with beat, do) and writes both pids.
PARENT = (
    "import subprocess, sys, time; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "open(sys.argv[1], 'w').write(f'{child.pid} '); time.sleep(120)"
)


def _pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 20
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, "the test process never started its child"
        time.sleep(0.05)
    return [int(path.read_text())]


@pytest.mark.parametrize("failure", ["ready raises", "never ready", "interrupted"])
def test_a_failed_start_stops_the_process_and_its_children(tmp_path, failure):
    pid_file = tmp_path / "pids"
    seen = []

    def ready():
        # Once the process and its child run: fail the start as `failure` says.
        if not seen:
            seen.extend(_pids(pid_file))
        if failure == "ready raises":
            raise RuntimeError("the readiness check broke")
        if failure == "interrupted":
            raise KeyboardInterrupt
        return False

    with pytest.raises((RuntimeError, KeyboardInterrupt)):
        processes.process_start(
            [sys.executable, "-c", PARENT, str(pid_file)], ready=ready, timeout=1
        )
    assert seen and gone(seen), "the child outlived the failed start"


def test_a_process_that_exits_while_starting_is_reported_and_reaped(tmp_path):
    with pytest.raises(RuntimeError, match="exited with 3"):
        processes.process_start(
            [sys.executable, "-c", "raise SystemExit(3)"], ready=lambda: False, timeout=20
        )


def test_process_running_stops_the_group_however_the_block_ends(tmp_path):
    pid_file = tmp_path / "pids"
    pids = []
    with (
        pytest.raises(ZeroDivisionError),
        processes.process_running([sys.executable, "-c", PARENT, str(pid_file)]) as parent,
    ):
        pids += [parent.pid, *_pids(pid_file)]
        1 / 0  # noqa: B018 - the block fails
    assert gone(pids)


def _radicale_pids(port: int) -> list[int]:
    """Radicale processes serving `port` (found by their config file)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"radicale" in args and b"--config" in args:
            config = Path(args[args.index(b"--config") + 1].decode())
            if config.exists() and f":{port}\n" in config.read_text():
                found.append(int(cmdline.parent.name))
    return found


def test_radicale_whose_start_fails_is_stopped_and_its_folder_removed(monkeypatch):
    started = {}

    def up_then_failing(port):
        # Radicale really runs and answers; then the start fails anyway (an interrupt, a
        # broken check): before, that left the Radicale process running.
        if not processes.port_open(port):
            return False
        started["pids"] = _radicale_pids(port)
        started["port"] = port
        raise RuntimeError("start-up failed after Radicale came up")

    monkeypatch.setattr(caldav_server, "port_open", up_then_failing)
    folders_before = set(Path(caldav_server.tempfile.gettempdir()).glob("radicale-*"))
    with pytest.raises(RuntimeError, match="after Radicale came up"):
        RadicaleServer()
    assert started["pids"], "Radicale was never seen running"
    assert gone(started["pids"])
    assert not processes.port_open(started["port"])
    assert set(Path(caldav_server.tempfile.gettempdir()).glob("radicale-*")) <= folders_before


def test_a_web_process_that_cannot_start_is_reported_with_its_log_and_stopped(tmp_path):
    with SmtpSink() as sink:
        stack = Stack(tmp_path, sink, None, "filesystem")
        stack.env["DJANGO_SETTINGS_MODULE"] = "config.settings.no_such_module"
        with pytest.raises(AssertionError, match=r"web: .*exited") as failed:
            stack.web_start()
    assert "no_such_module" in str(failed.value)  # gunicorn's own log says why
    assert stack.processes == {}  # nothing left for stop() to find, because nothing runs
