"""Reads for the workspace: the agenda (scheduler/agenda.py), each busy block named after
the calendar that mirrored it."""

import dataclasses
from datetime import datetime

from scheduler.agenda import AgendaDay, AgendaWindow, BusyTime, agenda_days
from scheduler.models import Practitioner
from sync.models import CalendarConnection


@dataclasses.dataclass
class BusyView:
    start: datetime
    end: datetime
    source_name: str
    # When the link that mirrored it is broken: since when its busy time is not refreshed.
    stale_since: datetime | None = None
    broken: bool = False


def agenda_with_calendars(
    *, practitioner: Practitioner, window: AgendaWindow, now: datetime
) -> list[AgendaDay]:
    connections = {
        c.busy_source: c
        for c in CalendarConnection.objects.filter(practitioner=practitioner).only(
            "pk", "kind", "name", "url", "status", "last_success_at"
        )
    }
    return [
        dataclasses.replace(day, busy=[_busy_view(busy, connections) for busy in day.busy])
        for day in agenda_days(practitioner=practitioner, window=window, now=now)
    ]


def _busy_view(busy: BusyTime, connections: dict) -> BusyView:
    connection = connections.get(_connection_source(busy.source))
    view = BusyView(
        start=busy.start,
        end=busy.end,
        source_name=(connection.name or connection.kind.upper()) if connection else "",
    )
    if connection is not None and connection.status != CalendarConnection.Status.OK:
        view.broken = True
        view.stale_since = connection.last_success_at
    return view


def _connection_source(source: str) -> str:
    # "ics:12" or "google:12:<calendar id>": the connection's busy_source is "kind:pk".
    return ":".join(source.split(":")[:2])
