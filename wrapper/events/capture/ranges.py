"""Snapshot capture with range checksums computed inside the legacy database.

The key space is a tree of ranges (`lw_capture_ranges`): the root covers every
key, each inner range is cut into at most `FANOUT` parts at keys seen in the
table, and a leaf holds about `LEAF` rows. Each range keeps the row count and
checksum the legacy database gave for it (`RangeChecksums`: the exact sum of
its rows' hashes), so a range and the sum of its parts agree.

A poll asks the database for the checksums of the root's parts (one aggregate
query, a few dozen result rows), and goes down only into the parts whose count
or checksum differs, to the leaves, whose rows it then reads and compares key
by key with the per-key state (`diff`). An unchanged table of a million rows
costs one aggregate query; a hundred changed rows cost a few hundred small
aggregate queries and the rows of about a hundred leaves.

The first poll reads every row once (the baseline, no events) and builds the
tree from the keys it read; a leaf that grows past `SPLIT_AT` rows (inserts at
the end of the key space) is cut into a subtree the next time it is read. A key
that leaves a leaf as a tombstone stays findable by key, so a key created
again continues its count of changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from legacy_adapters.base import RangeChecksums
from wrapper.events.capture import store
from wrapper.events.capture.diff import Diff, compare
from wrapper.events.capture.poll import Poll
from wrapper.events.capture.tables import ranges
from wrapper.events.capture.values import pack, unpack

FANOUT = 32
LEAF = 32
SPLIT_AT = 4 * LEAF
PAGE = 50_000  # rows per read of a large leaf (each read within the statement timeout)
ROOT = "0"


@dataclass
class Node:
    id: str
    parent: str | None
    position: int
    lo: str | None  # packed key
    hi: str | None
    leaf: bool
    count: int = 0
    checksum: int | None = None  # None: not known yet

    def values(self, unit: str) -> dict[str, Any]:
        checksum = None if self.checksum is None else str(self.checksum)
        return {"unit": unit, "node": self.id, "parent": self.parent, "position": self.position,
                "lo": self.lo, "hi": self.hi, "leaf": self.leaf, "count": self.count,
                "checksum": checksum}  # fmt: skip


def _node(row: Any) -> Node:
    checksum = None if row.checksum is None else int(row.checksum)
    return Node(row.node, row.parent, row.position, row.lo, row.hi, row.leaf, row.count, checksum)


def build(
    node: Node, rows: Sequence[tuple[Any, ...]], key_len: int
) -> tuple[list[Node], dict[str, str]]:
    """``node`` and the subtree under it, from its rows (key order, hash last);
    returns the nodes and the leaf of each packed key."""
    node.count, node.checksum = len(rows), sum(r[-1] for r in rows)
    if len(rows) <= 2 * LEAF:
        node.leaf = True
        return [node], {pack(r[:key_len]): node.id for r in rows}
    node.leaf = False
    parts = min(FANOUT, -(-len(rows) // LEAF))
    size = -(-len(rows) // parts)
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    nodes, leaf_of = [node], {}
    for i, chunk in enumerate(chunks):
        lo = node.lo if i == 0 else pack(chunk[0][:key_len])
        hi = node.hi if i == len(chunks) - 1 else pack(chunks[i + 1][0][:key_len])
        child = Node(f"{node.id}.{i}", node.id, i, lo, hi, True)
        more, leaves = build(child, chunk, key_len)
        nodes += more
        leaf_of.update(leaves)
    return nodes, leaf_of


@dataclass
class _Walk:
    poll: Poll
    source: RangeChecksums
    baseline: bool
    diff: Diff = field(default_factory=Diff)
    nodes: list[Node] = field(default_factory=list)  # to write


def _bound(packed: str | None) -> tuple[Any, ...] | None:
    return None if packed is None else unpack(packed)


def _rows(walk: _Walk, node: Node) -> list[tuple[Any, ...]]:
    """The leaf's rows, a page at a time (a leaf is the whole table at the baseline)."""
    unit, poll = walk.poll.unit, walk.poll
    rows: list[tuple[Any, ...]] = []
    lo, hi = _bound(node.lo), _bound(node.hi)
    while True:
        page = walk.source.range_rows(unit.table, unit.key, unit.columns, lo, hi, PAGE + 1)
        poll.report.queries += 1
        if rows and page and unit.key_of(page[0]) == unit.key_of(rows[-1]):
            page = page[1:]  # the page starts at the last key read (ranges include lo)
        rows += page
        if len(page) < PAGE:
            break
        lo = unit.key_of(rows[-1])
    poll.report.rows_fetched += len(rows)
    return rows


def _leaf(walk: _Walk, node: Node) -> None:
    unit, poll = walk.poll.unit, walk.poll
    rows = _rows(walk, node)
    with poll.store.connect() as conn:
        stored = store.load_node(conn, unit.name, node.id)
        unseen = [k for r in rows if (k := pack(unit.key_of(r))) not in stored]
        stored.update(store.load_keys(conn, unit.name, unseen))
    leaf_of: dict[str, str] = {}
    if len(rows) > SPLIT_AT:
        built, leaf_of = build(node, rows, len(unit.key))
        walk.nodes += built
    else:
        node.count, node.checksum = len(rows), sum(r[-1] for r in rows)
        walk.nodes.append(node)
    data = [r[:-1] for r in rows]
    found = compare(
        unit, data, stored, node=lambda k: leaf_of.get(k, node.id), complete=True,
        baseline=walk.baseline,
    )  # fmt: skip
    walk.diff.changes += found.changes
    walk.diff.writes += found.writes


def _visit(walk: _Walk, node: Node) -> None:
    if node.leaf:
        _leaf(walk, node)
        return
    unit, poll = walk.poll.unit, walk.poll
    with poll.store.connect() as conn:
        query = ranges.select().where(ranges.c.unit == unit.name, ranges.c.parent == node.id)
        children = sorted((_node(r) for r in conn.execute(query)), key=lambda n: n.position)
    bounds = [unpack(c.lo) for c in children[1:] if c.lo is not None]
    observed = walk.source.range_checksums(
        unit.table, unit.key, unit.columns, _bound(node.lo), _bound(node.hi), bounds
    )
    poll.report.queries += 1
    for i, child in enumerate(children):
        if (child.count, child.checksum) != observed.get(i, (0, 0)):
            _visit(walk, child)
    sums = [c.checksum for c in children]
    checksum = None if None in sums else sum(s for s in sums if s is not None)
    count = sum(c.count for c in children)
    if (count, checksum) != (node.count, node.checksum):
        node.count, node.checksum = count, checksum
        walk.nodes.append(node)


def poll_ranges(poll: Poll) -> None:
    unit = poll.unit
    source = poll.source
    assert isinstance(source, RangeChecksums)
    with poll.store.connect() as conn:
        state = store.unit_state(conn, unit.name)
        row = conn.execute(
            ranges.select().where(ranges.c.unit == unit.name, ranges.c.node == ROOT)
        ).first()
    baseline = state is None or state.baseline_at is None
    poll.report.baseline = baseline
    root = _node(row) if row is not None else Node(ROOT, None, 0, None, None, True)
    walk = _Walk(poll, source, baseline)
    if root.leaf and root.checksum is not None:  # a small table: one aggregate first
        observed = source.range_checksums(unit.table, unit.key, unit.columns, None, None, [])
        poll.report.queries += 1
        if observed.get(0, (0, 0)) == (root.count, root.checksum):
            poll.commit(Diff())
            return
    _visit(walk, root)
    work = store.Commit(
        nodes=[n.values(unit.name) for n in walk.nodes],
        unit={"baseline_at": poll.clock()} if baseline else {},
    )
    poll.commit(walk.diff, work)
