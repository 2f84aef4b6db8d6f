"""Changes as events: one per change per API version serving the resource.

`data` is the row as that version's `GET` renders it (for a deletion, its key
fields), `subject` the key as in its URLs, `changed_fields` the version's
fields whose columns changed (an update of columns a version does not serve
is no event for it), and `previous` the row-rule fields before the change, so
a subscriber whose view the row leaves can be sent a deletion. Event ids are
derived from the resource, the version, the key and the key's count of
changes: capturing the same change again gives the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wrapper.events.capture.diff import Change
from wrapper.events.capture.unit import CaptureUnit, Rendering, VersionView, subject
from wrapper.events.envelope import Event, change_event, stable_event_id


def events(
    unit: CaptureUnit, changes: Sequence[Change], rendering: Rendering, *, at: float
) -> list[Event]:
    result: list[Event] = []
    for view in unit.views:
        live = [c for c in changes if c.row is not None]
        rendered = dict(
            zip(map(id, live), rendering.rows(view, [c.row for c in live]), strict=True)
        )
        for change in changes:
            event = _event(unit, view, change, rendered.get(id(change)), rendering, at)
            if event is not None:
                result.append(event)
    return result


def _event(
    unit: CaptureUnit,
    view: VersionView,
    change: Change,
    data: dict[str, Any] | None,
    rendering: Rendering,
    at: float,
) -> Event | None:
    changed: tuple[str, ...] = ()
    if change.action == "updated":
        columns = set(change.changed)
        changed = tuple(
            n for n, f in zip(view.names, view.resource.fields, strict=True) if f.column in columns
        )
        if not changed:
            return None  # nothing this version serves changed
    previous = None
    if change.before is not None and view.rule_names:
        before_row = unit.row_from(change.key, change.before)
        previous = rendering.part(view, view.rule_names, before_row)
    if data is None:  # deleted: what is left is the key
        data = rendering.part(view, view.key_names, unit.row_from(change.key))
    return change_event(
        unit.name,
        change.action,
        view.version,
        subject(view, data),
        data,
        changed_fields=changed,
        event_id=stable_event_id(unit.name, view.version, change.packed_key, change.number),
        at=at,
        previous=previous,
    )
