"""How much memory a block of code takes: this process's peak resident set within it."""

import contextlib


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


@contextlib.contextmanager
def peak_growth():
    """How far (MB) this process's resident memory peaked above where it was on entry:
    `measured["mb"]` after the block. Writing 5 to clear_refs resets the peak (VmHWM) to
    the current resident set, so the peak read on exit belongs to the block alone. Servers
    the test runs in threads count too: make their answers before the block."""
    measured = {}
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = status_kb("VmRSS")
    yield measured
    measured["mb"] = (status_kb("VmHWM") - before) / 1024
