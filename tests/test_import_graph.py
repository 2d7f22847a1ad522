"""The import graph, as an outside reviewer builds it (grimp, function-local imports
included): no cycle anywhere in the project, and the outbox imports no channel."""

import grimp
import pytest

from tests.import_contracts import import_cycles

PACKAGES = ["scheduler", "api", "sync", "config", "workspace", "tests", "bench"]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_no_module_takes_part_in_an_import_cycle(graph):
    cycles = import_cycles(graph, PACKAGES)
    assert cycles == [], "\n".join(
        f"{importer} -> {imported} (l. {lines})"
        for cycle in cycles
        for importer, imported, lines in cycle
    )


def test_the_outbox_imports_no_channel_and_no_kind_of_calendar(graph):
    reached = graph.find_upstream_modules("sync.outbox")  # what it imports, even indirectly
    assert not {
        m
        for m in reached
        if m.startswith(
            (
                "sync.channels",
                "sync.mail",
                "sync.waitlist",
                "sync.google",
                "sync.caldav",
                "sync.ics",
                "sync.calendars",
                "sync.connectors",
                "sync.tasks",
            )
        )
    }


def test_the_cycle_finder_sees_a_cycle_hidden_in_a_function():
    graph = grimp.ImportGraph()
    for module in ("app", "app.low", "app.high", "app.apart"):
        graph.add_module(module)
    graph.add_import(importer="app.high", imported="app.low", line_number=1, line_contents="")
    # The function-local import back up: what the old outbox did to reach the tasks.
    graph.add_import(
        importer="app.low", imported="app.high", line_number=9, line_contents="from app import high"
    )
    graph.add_import(importer="app.apart", imported="app.low", line_number=1, line_contents="")
    assert import_cycles(graph, ["app"]) == [
        [("app.high", "app.low", [1]), ("app.low", "app.high", [9])]
    ]
    graph.remove_import(importer="app.low", imported="app.high")
    assert import_cycles(graph, ["app"]) == []
