"""CalDAV -> busy time: follow one calendar's changes, expand them like an ICS feed.

Changes are found with sync-collection (RFC 6578) and the stored token: an unchanged
calendar costs that one REPORT and no event body. A server without it is compared by
its ctag in the home listing the caller made (unchanged: no request at all), then by
listing etags (PROPFIND Depth 1) against the ones kept in CalDAVObject. Only changed
objects' bodies are fetched.
A token the server no longer knows (403/409 valid-sync-token) means a full resync of
that calendar.

The bodies of the changed objects are fetched with calendar-multiget (only the objects
asked for are taken from an answer; together at most ICS_MAX_BYTES, as one feed) and
expanded together by the importer of ICS feeds in its limited child process
(sync.ics.limits: ICS_IMPORT_MAX_MB, ICS_IMPORT_TIMEOUT_SECONDS): the same busy rules
(TRANSP, STATUS, Outlook's busy status, all-day), the same recurrence expansion, the same
caps, and a server's calendar data is never parsed in the worker itself. Too much for
those limits raises ImportLimitError, which the caller shows as for a feed. Our own
pushed events (their resource names and UIDs come from the session) are never fetched
and never count as busy.

Busy time is written only after everything was read: a failed pull leaves the busy time
known before untouched. When the day, the zone or the all-day switch changes, the
window moves, so the calendar is read afresh (like an ICS feed).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import transaction

from scheduler.models import BusyBlock, Practitioner
from scheduler.practice import schedule_changed
from sync.caldav.client import Dav, DavError, clark, multistatus_read, parse_multistatus
from sync.caldav.discovery import Calendar
from sync.caldav.push import is_own_href, is_own_uid
from sync.ics.limits import Limits, ics_busy_blocks_limited
from sync.ics.subscribe import MAX_BLOCKS, ImportLimitError
from sync.models import CalDAVCalendar, CalDAVObject

MULTIGET_BATCH = 200
_UID = re.compile(r"^UID[;:](?:[^:\r\n]*:)?(.*?)\r?$", re.MULTILINE)

SYNC_REPORT = (
    '<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)
MULTIGET = (
    '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:prop><D:getetag/><C:calendar-data/></D:prop>{hrefs}</C:calendar-multiget>"
)


@dataclass
class Changes:
    full: bool
    changed: dict[str, str] = field(default_factory=dict)  # href -> etag
    removed: set[str] = field(default_factory=set)
    sync_token: str = ""


@dataclass
class PullResult:
    fetched: int = 0  # event bodies read
    changed: int = 0
    removed: int = 0
    full: bool = False
    warnings: list[str] = field(default_factory=list)


def calendar_pull(
    *,
    state: CalDAVCalendar,
    listing: Calendar | None,
    dav: Dav,
    practitioner: Practitioner,
    now: datetime,
    start: datetime,
    end: datetime,
    block_all_day: bool,
) -> PullResult:
    """Bring the mirror of one calendar up to date. Raises CalDAVTrouble, or
    ImportLimitError for calendar data too heavy to read, writing nothing."""
    context = f"{now.date()}|{practitioner.timezone}|{block_all_day}|{(end - start).days}"
    full = state.import_context != context
    if not full and listing is not None and _unchanged(state, listing):
        return PullResult()
    changes = None
    if state.sync_collection is not False:
        changes = _sync_collection(state, dav, "" if full else state.sync_token)
        if changes is not None and changes.full:
            full = True
    if changes is None:
        changes = _etag_listing(state, dav, full)
    if not full and not changes.changed and not changes.removed:
        CalDAVCalendar.objects.filter(pk=state.pk).update(
            sync_token=changes.sync_token or state.sync_token,
            ctag=listing.ctag if listing else state.ctag,
            sync_collection=state.sync_collection,
            last_pulled_at=now,
        )
        return PullResult()
    wanted = {h: e for h, e in changes.changed.items() if not is_own_href(h)}
    bodies = _multiget(dav, state.url, list(wanted))
    imported = _expand(bodies, practitioner, start, end, block_all_day)
    result = PullResult(
        fetched=len(bodies),
        changed=len(changes.changed),
        removed=len(changes.removed),
        full=full,
        warnings=imported.warnings,
    )
    touched = set(changes.changed) | changes.removed
    wanted_uids = {uid for _begin, _end, uid in imported.blocks}
    by_uid = {}
    for href, (_etag, data) in bodies.items():
        for uid in _UID.findall(data):
            if uid.strip() in wanted_uids:
                by_uid.setdefault(uid.strip(), href)
    with transaction.atomic():
        if not CalDAVCalendar.objects.select_for_update().filter(pk=state.pk).exists():
            return result  # removed while we were reading: mirror nothing
        source = state.busy_source
        mirror = BusyBlock.objects.filter(practitioner=practitioner, source=source)
        if full:
            mirror.delete()
            state.resources.all().delete()
        else:
            hrefs = list(touched)
            for i in range(0, len(hrefs), 500):
                mirror.filter(external_id__in=hrefs[i : i + 500]).delete()
                state.resources.filter(href__in=hrefs[i : i + 500]).delete()
        room = MAX_BLOCKS - (0 if full else mirror.count())
        blocks = [
            BusyBlock(
                practitioner=practitioner,
                start=begin,
                end=finish,
                source=source,
                external_id=by_uid.get(uid, "")[:1024],
            )
            for begin, finish, uid in imported.blocks
            if not is_own_uid(uid)
        ]
        if len(blocks) > room:
            result.warnings.append(f"More than {MAX_BLOCKS} busy periods: the rest were left out.")
            blocks = blocks[: max(room, 0)]
        BusyBlock.objects.bulk_create(blocks, batch_size=2000)
        CalDAVObject.objects.bulk_create(
            [
                CalDAVObject(calendar=state, href=href[:1024], etag=etag[:512])
                for href, etag in changes.changed.items()
            ],
            batch_size=2000,
        )
        state.sync_token = changes.sync_token or (listing.sync_token if listing else "")
        state.ctag = listing.ctag if listing else state.ctag
        state.import_context = context
        state.last_pulled_at = now
        state.save(
            update_fields=[
                "sync_token",
                "ctag",
                "import_context",
                "last_pulled_at",
                "sync_collection",
            ]
        )
        if touched or full:
            schedule_changed(practitioner.pk)
    return result


def _unchanged(state: CalDAVCalendar, listing: Calendar) -> bool:
    if state.sync_collection is not False and listing.sync_token and state.sync_token:
        return listing.sync_token == state.sync_token
    return bool(listing.ctag) and listing.ctag == state.ctag


def _key(url: str) -> str:
    """Compare hrefs by their decoded path: servers quote them differently."""
    return unquote(urlsplit(url).path)


def _sync_collection(state: CalDAVCalendar, dav: Dav, token: str) -> Changes | None:
    """What changed since `token` (all, for ""); None when the server lacks RFC 6578."""
    for _ in range(2):
        answer = dav.report(
            state.url,
            SYNC_REPORT.format(token=escape(token)),
            allow=(400, 403, 404, 405, 409, 412, 415, 501),
        )
        if answer.status == 207:
            break
        if token and (b"valid-sync-token" in answer.content or answer.status in (409, 412)):
            token = ""  # unknown to the server now: read everything again
            continue
        if answer.status == 404:
            raise DavError("This calendar no longer exists on the server.", 404)
        state.sync_collection = False
        return None
    else:  # pragma: no cover - the second try has no token, so cannot be refused for it
        raise DavError("The calendar server refused a full sync.")
    state.sync_collection = True
    changes = Changes(full=not token)
    listed = multistatus_read(answer)
    changes.sync_token = listed.sync_token
    own = _key(state.url)
    for resource in listed.resources:
        href = _key(resource.url)
        if href == own or href.endswith("/"):
            continue
        if resource.status == 404:
            changes.removed.add(href)
        else:
            changes.changed[href] = resource.text(clark("D:getetag"))
    if changes.full:
        known = set(state.resources.values_list("href", flat=True))
        changes.removed = known - set(changes.changed)
    return changes


def _etag_listing(state: CalDAVCalendar, dav: Dav, full: bool) -> Changes:
    """Servers without sync-collection: list every etag and compare with those we know."""
    listed = {}
    own = _key(state.url)
    for resource in dav.propfind(state.url, "<D:getetag/>", depth="1"):
        href = _key(resource.url)
        if href != own and not href.endswith("/"):
            listed[href] = resource.text(clark("D:getetag"))
    known = dict(state.resources.values_list("href", "etag"))
    changes = Changes(full=full)
    changes.changed = {h: e for h, e in listed.items() if full or known.get(h) != e or not e}
    changes.removed = set(known) - set(listed)
    return changes


def _multiget(dav: Dav, calendar_url: str, hrefs: list[str]) -> dict[str, tuple[str, str]]:
    """{href: (etag, calendar-data)} of the given objects, in batches.

    Only the objects asked for are taken (an answer may list others: ignored), and all of
    them together may be no more than a feed may be (ICS_MAX_BYTES)."""
    found, size, cap = {}, 0, int(settings.ICS_MAX_BYTES)
    for i in range(0, len(hrefs), MULTIGET_BATCH):
        batch = hrefs[i : i + MULTIGET_BATCH]
        asked = {_key(h) for h in batch}
        listed = "".join(f"<D:href>{escape(quote(h))}</D:href>" for h in batch)
        answer = dav.report(calendar_url, MULTIGET.format(hrefs=listed))
        for resource in parse_multistatus(answer):
            href = _key(resource.url)
            data = resource.text(clark("C:calendar-data"))
            if resource.status != 200 or not data or href not in asked or href in found:
                continue
            size += len(data)
            if size > cap:
                raise ImportLimitError(f"more than {cap / 1024 / 1024:g} MB of calendar data")
            found[href] = (resource.text(clark("D:getetag")), data)
    return found


def _expand(bodies, practitioner, start, end, block_all_day):
    """Every object in one calendar, expanded in the limited child in one go."""
    text = "\r\n".join(data for _etag, data in bodies.values()).encode()
    try:
        return ics_busy_blocks_limited(
            text,
            zone=practitioner.zone,
            start=start,
            end=end,
            block_all_day=block_all_day,
            limits=Limits(
                seconds=settings.ICS_IMPORT_TIMEOUT_SECONDS,
                memory_mb=settings.ICS_IMPORT_MAX_MB,
            ),
            merge=True,
        )
    except (ValueError, RuntimeError) as exc:  # unreadable, or the reader itself stopped
        raise DavError(
            f"The calendar data cannot be read: {str(exc)[:200]}",
            dutch="De agendagegevens van de server zijn niet te lezen.",
        ) from exc
