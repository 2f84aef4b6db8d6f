"""Capture's tables, in the events metadata of the state database (created with it).

- `lw_capture_units`: per captured resource, its watermark and when it last polled.
- `lw_capture_rows`: per captured row, the hashes of its columns, how many changes
  were captured (event ids count on it), the values its row rules need (so a
  deletion or an update can say what the row was), and its key range (`node`).
  A deleted row stays as a tombstone (no hashes) so its count of changes goes on.
- `lw_capture_ranges`: the key-range tree of range-checksum snapshots.
- `lw_capture_leases`: who leads the capture of a resource, until when.
"""

from __future__ import annotations

import sqlalchemy as sa

from wrapper.events.tables import metadata

units = sa.Table(
    "lw_capture_units",
    metadata,
    sa.Column("unit", sa.String(200), primary_key=True),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("watermark", sa.Text),  # packed legacy value; None: not started
    sa.Column("start", sa.Text),  # the watermark when capture started
    sa.Column("baseline_at", sa.Float),  # when the first read was recorded
    sa.Column("polled_at", sa.Float),  # last poll that completed
    sa.Column("changed_at", sa.Float),  # last poll that found changes
    sa.Column("rows_fetched", sa.BigInteger, nullable=False, default=0),  # last poll
)

rows = sa.Table(
    "lw_capture_rows",
    metadata,
    sa.Column("unit", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(1000), primary_key=True),  # packed key values
    sa.Column("node", sa.String(200)),  # the range-tree leaf holding the key
    sa.Column("hashes", sa.Text),  # per-column hashes; None: deleted
    sa.Column("changes", sa.Integer, nullable=False),
    sa.Column("rules", sa.Text),  # packed values of the row-rule columns
)
sa.Index("ix_lw_capture_rows_node", rows.c.unit, rows.c.node)

ranges = sa.Table(
    "lw_capture_ranges",
    metadata,
    sa.Column("unit", sa.String(200), primary_key=True),
    sa.Column("node", sa.String(200), primary_key=True),  # "0", "0.3", "0.3.17", ...
    sa.Column("parent", sa.String(200)),
    sa.Column("position", sa.Integer, nullable=False),  # among its parent's children
    sa.Column("lo", sa.String(1000)),  # packed key; None: unbounded
    sa.Column("hi", sa.String(1000)),
    sa.Column("leaf", sa.Boolean, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(40)),  # decimal text; None: not known yet
)
sa.Index("ix_lw_capture_ranges_parent", ranges.c.unit, ranges.c.parent)

leases = sa.Table(
    "lw_capture_leases",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
