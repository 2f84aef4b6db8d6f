"""A resource's `events:` declaration: how changes of its legacy table are captured.

- `events: {capture: watermark, column: UPD_TS, overlap: 5s}`: a last-update
  timestamp (or rowversion) the legacy application maintains; every poll
  re-reads the rows whose value is at most `overlap` older than the newest one
  seen, so rows committed late under an older value are not missed.
- `events: {capture: increasing, column: JOB_ID}`: an ever-increasing value
  (inserts only); `overlap` re-reads that many units below the highest seen.
- `events: {capture: snapshot}`: no usable column; the wrapper keeps a hash per
  key and finds inserts, updates and deletes by comparing (range checksums
  computed in the legacy database where the source can).

`interval:` is the poll period (default 1 s). Durations are seconds or a
number with a unit (`500ms`, `5s`, `2m`, `1h`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wrapper.config.located import Located, Problems, unknown_keys

MODES = ("watermark", "increasing", "snapshot")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class CaptureConfig:
    mode: str  # one of MODES
    column: str | None  # the legacy column (watermark, increasing); None for snapshot
    overlap: float  # seconds (timestamps) or units (numbers) re-read below the watermark
    interval: float  # seconds between polls
    line: int


def duration(value: Any) -> float | None:
    """Seconds from `5`, `2.5`, `500ms`, `5s`, `2m`, `1h`; None when not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    match = _DURATION.match(value) if isinstance(value, str) else None
    return float(match[1]) * _UNITS[match[2]] if match else None


def parse_capture(body: Located, path: str, problems: Problems) -> CaptureConfig | None:
    node = body.get("events")
    if node is None:
        return None
    path = f"{path}.events"
    if not isinstance(node, Located):
        problems.at(body, "events", path, "a mapping such as {capture: snapshot}")
        return None
    unknown_keys(node, {"capture", "column", "overlap", "interval"}, path, problems)
    mode = node.get("capture")
    if mode not in MODES:
        problems.at(node, "capture", f"{path}.capture", f"one of {', '.join(MODES)}")
        return None
    column = node.get("column")
    if mode == "snapshot":
        if column is not None:
            problems.at(node, "column", f"{path}.column", "snapshot capture reads no column")
        column = None
    elif not isinstance(column, str) or not column:
        problems.at(node, "column", f"{path}.column", f"the legacy column {mode} capture reads")
        return None
    overlap = duration(node.get("overlap", 0))
    if overlap is None or (mode == "snapshot" and "overlap" in node):
        problems.at(node, "overlap", f"{path}.overlap", "a duration such as 5s (not for snapshot)")
        overlap = 0.0
    interval = duration(node.get("interval", 1))
    if not interval:
        problems.at(node, "interval", f"{path}.interval", "a positive duration such as 1s")
        interval = 1.0
    return CaptureConfig(mode, column, overlap, interval, body.line_of("events"))
