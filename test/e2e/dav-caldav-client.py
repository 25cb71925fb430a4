"""
A python-caldav client (Debian's python3-caldav 0.11) for test/e2e/dav-caldav-python.test.ts.

Run as: dav-caldav-client.py PHASE URL USER PASSWORD STATE_FILE (URL: the DAV root, or the server's own root)

Each phase is one client session against the server; between phases the test's native SDK device
makes its own changes. The state file carries what a real client keeps between runs (the sync token
and the URLs of its objects). Each phase prints one JSON line on stdout: what the client saw.
"""

import json
import sys
from datetime import datetime, timezone

import caldav
from caldav.lib import error

phase, url, user, password, state_file = sys.argv[1:6]


def load_state():
    with open(state_file) as f:
        return json.load(f)


def save_state(state):
    with open(state_file, "w") as f:
        json.dump(state, f)


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def wire(obj):
    """The object's iCalendar text as it travels (UTF-8, CRLF), None for a deleted member."""
    return None if obj.data is None else obj.wire_data.decode("utf-8")


def summary(obj):
    return str(obj.icalendar_component["SUMMARY"])


def uid(obj):
    return str(obj.icalendar_component["UID"])


def described(objects):
    """Sync results: URL and data (None when the member was deleted), sorted by URL."""
    return sorted(({"url": str(o.url), "data": wire(o)} for o in objects), key=lambda o: o["url"])


def uids(objects):
    return sorted(uid(o) for o in objects)


client = caldav.DAVClient(url=url, username=user, password=password)


def find_calendar():
    principal = client.principal()
    calendars = principal.calendars()
    calendar = next(c for c in calendars if str(c.url).endswith("/calendar/"))
    return principal, calendars, calendar


def ics(uid, summary, day):
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//python-caldav test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{day}T090000Z\r\nDTEND:{day}T100000Z\r\nSUMMARY:{summary}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


out = {}

if phase == "first":
    principal, calendars, calendar = find_calendar()
    out["principal"] = str(principal.url)
    out["calendarHomeSet"] = str(principal.calendar_home_set.url)
    out["calendars"] = sorted(
        ({"url": str(c.url), "name": c.get_display_name(), "components": c.get_supported_components()} for c in calendars),
        key=lambda c: c["url"],
    )

    # Initial sync: everything the calendar holds (the native device's event).
    initial = calendar.objects_by_sync_token(load_objects=True)
    out["initial"] = described(initial)
    token0 = initial.sync_token

    march = calendar.save_event(ics("py-march", "Planning (python)", "20260310"))
    may = calendar.save_event(ics("py-may", "Retro (python)", "20260512"))
    out["saved"] = {"march": {"url": str(march.url), "data": wire(march)}, "may": {"url": str(may.url), "data": wire(may)}}

    out["dateSearchMarch"] = uids(calendar.date_search(start=utc(2026, 3, 1), end=utc(2026, 4, 1)))
    out["searchMay"] = uids(calendar.search(start=utc(2026, 5, 1), end=utc(2026, 6, 1), event=True))
    out["searchSpring"] = uids(calendar.search(start=utc(2026, 3, 1), end=utc(2026, 6, 1), event=True))
    # The hour right after the March event ends touches it but does not overlap it (RFC 4791 §9.9).
    out["searchAdjacent"] = uids(calendar.search(start=utc(2026, 3, 10, 10), end=utc(2026, 3, 10, 11), event=True))
    out["searchEmpty"] = uids(calendar.search(start=utc(2027, 1, 1), end=utc(2027, 2, 1), event=True))
    out["eventByUid"] = summary(calendar.event_by_uid("py-march"))

    # The client's own writes come back with the next token, as any change does.
    mine = calendar.objects_by_sync_token(token0, load_objects=True)
    out["ownChanges"] = described(mine)
    save_state({"token": mine.sync_token, "march": str(march.url), "may": str(may.url)})

elif phase == "second":
    state = load_state()
    _, _, calendar = find_calendar()
    # Only what the native device changed since the last token.
    changes = calendar.objects_by_sync_token(state["token"], load_objects=True)
    out["changes"] = described(changes)

    # Edit the March event (a fresh GET, change the summary, PUT) and delete the May one.
    march = calendar.event_by_url(state["march"])
    march.load()
    march.icalendar_component["SUMMARY"] = "Planning (moved by python)"
    march.save()
    out["edited"] = wire(march)
    calendar.event_by_url(state["may"]).delete()
    try:
        calendar.event_by_url(state["may"]).load()
        out["mayAfterDelete"] = "still there"
    except error.NotFoundError:
        out["mayAfterDelete"] = "gone"

    after = calendar.objects_by_sync_token(changes.sync_token, load_objects=True)
    out["ownChanges"] = described(after)
    save_state({**state, "token": after.sync_token})

elif phase == "third":
    state = load_state()
    _, _, calendar = find_calendar()
    # The native device deleted its event: one member, which no longer loads.
    changes = calendar.objects_by_sync_token(state["token"], load_objects=True)
    out["changes"] = described(changes)
    out["nothingNew"] = described(calendar.objects_by_sync_token(changes.sync_token, load_objects=True))
    out["events"] = sorted([str(e.url), summary(e)] for e in calendar.events())
    # A token the server never issued is refused (403 DAV:valid-sync-token); the client has to start over.
    try:
        calendar.objects_by_sync_token(changes.sync_token + "0", load_objects=False)
        out["bogusToken"] = "accepted"
    except error.DAVError as err:
        out["bogusToken"] = {"error": type(err).__name__, "detail": str(err)}

elif phase == "tasks":
    # A calendar made the library's default way (MKCALENDAR without a component set) takes tasks and events.
    calendar = client.principal().make_calendar(name="Errands", cal_id="errands")
    out["components"] = sorted(calendar.get_supported_components())
    todo = calendar.save_todo(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//python-caldav test//EN\r\n"
        "BEGIN:VTODO\r\nUID:py-todo\r\nDTSTAMP:20260101T000000Z\r\nDUE:20260320T170000Z\r\n"
        "SUMMARY:Post the letter\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    event = calendar.save_event(ics("py-errand-event", "Pick up parcel", "20260321"))
    out["saved"] = sorted([str(todo.url), str(event.url)])
    out["todos"] = uids(calendar.todos(include_completed=True))
    out["events"] = uids(calendar.events())
    out["synced"] = [o["url"] for o in described(calendar.objects_by_sync_token(load_objects=True))]

elif phase == "root":
    # Given only the server's address: PROPFIND / must name the principal and the home (no redirect,
    # which would drop the PROPFIND body). Then a whole round trip in the calendar found that way.
    principal, calendars, calendar = find_calendar()
    out["principal"] = str(principal.url)
    out["calendarHomeSet"] = str(principal.calendar_home_set.url)
    out["calendars"] = sorted(str(c.url) for c in calendars)
    saved = calendar.save_event(ics("py-root", "Found from the root", "20260402"))
    out["saved"] = {"url": str(saved.url), "summary": summary(calendar.event_by_uid("py-root"))}
    saved.delete()
    out["afterDelete"] = uids(calendar.events())

else:
    sys.exit(f"unknown phase {phase}")

print(json.dumps(out))
