"""Feeds in: turn a subscribed calendar into busy intervals, and store them.

Reading is forgiving: a broken line or component is skipped and reported, never the
whole feed. Zones: IANA and Windows names are understood; an unknown zone, or a floating
time, is read in the practitioner's zone; X-WR-TIMEZONE is honoured (x-wr-timezone).
Recurrence is expanded over the booking horizon (recurring-ical-events).
"""

import hashlib
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.error import BrokenCalendarProperty
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

MAX_WARNINGS = 50
MAX_BLOCKS = 50_000

_FOLDED = re.compile(r"\r?\n[ \t]")
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+(;[^\r\n]*)?:")
_TZID = re.compile(r"(TZID=)(\"[^\"]*\"|[^;:]*)|^(TZID:)(.*)$", re.MULTILINE)


@dataclass
class BusyImport:
    """What a feed says is busy, as (start, end, uid) in UTC, and what was read loosely."""

    blocks: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)


def ics_busy_blocks(
    body: bytes,
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    block_all_day: bool = True,
) -> BusyImport:
    """The busy time a calendar holds in [start, end). Raises ValueError if unreadable."""
    result = BusyImport()
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = _content_lines(text, result)
    if not any(line.upper() == "BEGIN:VCALENDAR" for line in lines):
        raise ValueError("This is not an iCalendar file (no BEGIN:VCALENDAR).")
    calendar = _parse(_isolate_custom_zones(lines), result)
    _drop_unusable_events(calendar, zone, result)
    calendar = x_wr_timezone.to_standard(calendar)
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    # recurring-ical-events judges all-day dates and floating times in the zone of the
    # window it is given: ask in the practitioner's zone, a day wider, then cut exactly.
    wide = (
        (start - timedelta(days=1)).astimezone(zone),
        (end + timedelta(days=1)).astimezone(zone),
    )
    for occurrence in query.between(*wide):
        if len(result.blocks) >= MAX_BLOCKS:
            result.warn(f"More than {MAX_BLOCKS} busy periods: the rest were left out.")
            break
        span = _busy_span(occurrence, zone, block_all_day)
        if span is not None and span[0] < end and span[1] > start:
            result.blocks.append((*span, str(occurrence.get("UID", ""))[:1024]))
    result.blocks.sort()
    return result


def _content_lines(text: str, result: BusyImport) -> list[str]:
    """Unfold, then drop lines that are not content lines (name[;params]:value)."""
    lines, dropped = [], 0
    for raw in _FOLDED.sub("", text).splitlines():
        if not raw.strip():
            continue
        if _CONTENT_LINE.match(raw):
            lines.append(raw)
        else:
            dropped += 1
    if dropped:
        result.warn(f"{dropped} malformed line(s) skipped.")
    return lines


def _isolate_custom_zones(lines: list[str]) -> list[str]:
    """Give each custom VTIMEZONE a name unique to its definition.

    icalendar remembers custom zones by name for the whole process, so two feeds that
    both define "Customized Time Zone" differently would otherwise share one definition.
    """
    definitions: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        upper = line.upper()
        if upper == "BEGIN:VTIMEZONE":
            current = []
        elif upper == "END:VTIMEZONE" and current is not None:
            name = next((x[5:] for x in current if x.upper().startswith("TZID:")), None)
            if name and not _known_zone(name):
                definitions[name] = current
            current = None
        elif current is not None:
            current.append(line)
    if not definitions:
        return lines
    renamed = {
        name: f"{name} [{hashlib.sha256('|'.join(body).encode()).hexdigest()[:12]}]"
        for name, body in definitions.items()
    }

    def rename(match: re.Match) -> str:
        if match.group(1):
            name = match.group(2).strip('"')
            return f'{match.group(1)}"{renamed[name]}"' if name in renamed else match.group(0)
        name = match.group(4)
        return f"{match.group(3)}{renamed[name]}" if name in renamed else match.group(0)

    return [_TZID.sub(rename, line) if "TZID" in line.upper() else line for line in lines]


def _known_zone(name: str) -> bool:
    if name in WINDOWS_TO_OLSON:
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _parse(lines: list[str], result: BusyImport) -> icalendar.Calendar:
    """Parse the whole calendar; if that fails, parse component by component."""
    try:
        return icalendar.Calendar.from_ical("\r\n".join(lines) + "\r\n")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        first_error = exc
    header, zones, components = _split(lines)
    try:
        calendar = icalendar.Calendar.from_ical("\r\n".join([*header, "END:VCALENDAR"]) + "\r\n")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"The calendar cannot be read: {first_error}") from exc
    for component in _parse_groups(header, zones, components, result):
        calendar.add_component(component)
    return calendar


def _split(lines):
    """Calendar header lines, VTIMEZONE blocks, and the other top-level components."""
    header, zones, components, current, depth = [], [], [], [], 0
    for line in lines:
        upper = line.upper()
        if depth == 0:
            if upper.startswith("BEGIN:") and upper != "BEGIN:VCALENDAR":
                current, depth = [line], 1
            elif upper != "END:VCALENDAR":
                header.append(line)
            continue
        current.append(line)
        if upper.startswith("BEGIN:"):
            depth += 1
        elif upper.startswith("END:"):
            depth -= 1
            if depth == 0:
                (zones if upper == "END:VTIMEZONE" else components).append(current)
    return header, zones, components


def _parse_groups(header, zones, components, result):
    """Parse components in halving groups, so one bad component costs only itself."""
    zone_lines = [line for block in zones for line in block]
    try:
        zone_calendar = icalendar.Calendar.from_ical(
            "\r\n".join([*header, *zone_lines, "END:VCALENDAR"]) + "\r\n"
        )
    except (ValueError, KeyError, IndexError, TypeError):
        result.warn("The time zone definitions could not be read; times use known zone names.")
        zone_lines, zone_calendar = [], None
    pending = [components]
    while pending:
        group = pending.pop()
        text = "\r\n".join([*header, *zone_lines, *(x for c in group for x in c), "END:VCALENDAR"])
        try:
            parsed = icalendar.Calendar.from_ical(text + "\r\n")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            if len(group) == 1:
                uid = next((x[4:] for x in group[0] if x.upper().startswith("UID:")), "?")
                name = group[0][0][6:]
                result.warn(f"{name} {uid[:80]} skipped: {str(exc)[:200]}")
            else:
                middle = len(group) // 2
                pending += [group[middle:], group[:middle]]
            continue
        yield from (c for c in parsed.subcomponents if c.name != "VTIMEZONE")
    if zone_calendar is not None:
        yield from zone_calendar.subcomponents


def _drop_unusable_events(calendar, zone: ZoneInfo, result: BusyImport) -> None:
    """Remove events without a usable start; note the zones that will be guessed."""
    kept = []
    for component in calendar.subcomponents:
        if component.name == "VEVENT":
            start = component.get("DTSTART")
            value = _value_or_none(start)
            if not isinstance(value, date) or not _usable_end(component):
                uid = str(component.get("UID", "?"))[:80]
                result.warn(f"VEVENT {uid} skipped: no valid start or end.")
                continue
            tzid = start.params.get("TZID")
            if tzid is not None and isinstance(value, datetime) and value.tzinfo is None:
                result.warn(f"Unknown time zone {str(tzid)[:60]!r}: read in {zone.key}.")
        kept.append(component)
    calendar.subcomponents[:] = kept


def _value_or_none(prop):
    try:
        return None if prop is None else prop.dt
    except (AttributeError, BrokenCalendarProperty):
        return None


def _usable_end(event) -> bool:
    for name in ("DTEND", "DURATION"):
        if name in event and _value_or_none(event[name]) is None:
            return False
    return True


def _busy_span(event, zone: ZoneInfo, block_all_day: bool):
    """The event's busy span in UTC, or None when it does not block time."""
    if not _blocks_time(event):
        return None
    begin = event["DTSTART"].dt
    if "DTEND" in event:
        finish = event["DTEND"].dt
    elif "DURATION" in event:
        finish = begin + event["DURATION"].dt
    else:
        finish = begin + timedelta(days=1) if not isinstance(begin, datetime) else begin
    if not isinstance(begin, datetime):
        if not block_all_day:
            return None
        last = _as_date(finish)
        if last <= begin:  # a zero or negative length all-day event still means that day
            last = begin + timedelta(days=1)
        return _local_midnight(begin, zone), _local_midnight(last, zone)
    begin, finish = _aware(begin, zone), _aware(finish, zone)
    if finish <= begin:
        return None
    return begin.astimezone(UTC), finish.astimezone(UTC)


def _blocks_time(event) -> bool:
    """STATUS:CANCELLED never blocks; then TRANSP decides; then Outlook's busy status."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if "TRANSP" in event:
        return str(event["TRANSP"]).upper() != "TRANSPARENT"
    if "X-MICROSOFT-CDO-BUSYSTATUS" in event:
        return str(event["X-MICROSOFT-CDO-BUSYSTATUS"]).upper() != "FREE"
    return True


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    # Floating times, and times in a zone nobody knows, are the practitioner's wall clock.
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
