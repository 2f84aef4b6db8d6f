"""Cursor keys live in the state database: shared, rotated with a grace period."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from wrapper.cli import main
from wrapper.cursor_keys import KeyRing, ensure_key, rotate
from wrapper.pagination import Cursors
from wrapper.problems import InvalidParameter
from wrapper.state.store import StateStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(StateStore):
    reads = 0

    def cursor_keys(self, now: float | None = None):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().cursor_keys(now)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    store = CountingStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.close()


def test_rotation_keeps_old_cursors_for_the_grace_period(store: StateStore) -> None:
    clock = Clock()
    cursors = Cursors(KeyRing(store, clock))
    old = cursors.encode("p", [1, "a"], 0)
    new_kid = rotate(store, grace=3600)
    assert cursors.decode(old, "p", 2) == ((1, "a"), 0)  # still the old key until a refresh
    clock.now += KeyRing.REFRESH
    fresh = cursors.encode("p", [2, "b"], 0)
    assert fresh[:8] != old[:8]  # sealed with the new key (its id is in the header)
    assert store.cursor_keys()[0].kid == new_kid
    assert cursors.decode(old, "p", 2) == ((1, "a"), 0)  # the old key opens its cursors
    assert cursors.decode(fresh, "p", 2) == ((2, "b"), 0)
    again = cursors.encode("p", [1, "a"], 0)  # the same page: sealed anew, not remembered
    assert again[:6] == fresh[:6] and again != old  # the new key id (5 header bytes)

    rotate(store, grace=0)  # the grace period of every previous key is over
    clock.now += KeyRing.REFRESH
    for cursor in (old, fresh, again):
        with pytest.raises(InvalidParameter):
            cursors.decode(cursor, "p", 2)
    assert cursors.decode(cursors.encode("p", [1, "a"], 0), "p", 2) == ((1, "a"), 0)


def test_a_new_key_reaches_other_workers_through_an_unknown_key_id(store: StateStore) -> None:
    clock = Clock()
    worker_a, worker_b = Cursors(KeyRing(store, clock)), Cursors(KeyRing(store, clock))
    rotate(store)
    clock.now += KeyRing.REFRESH
    sealed_by_a = worker_a.encode("p", [1], 0)
    clock.now += KeyRing.MISS_REFRESH
    assert worker_b.decode(sealed_by_a, "p", 1) == ((1,), 0)  # b re-reads the keys once


def test_forged_key_ids_cost_at_most_one_read_a_second(store: CountingStore) -> None:
    clock = Clock()
    cursors = Cursors(KeyRing(store, clock))
    sealed = cursors.encode("p", [1], 0)
    forged = sealed[:2] + ("A" if sealed[2] != "A" else "B") + sealed[3:]  # another key id
    before = store.reads
    for _ in range(50):
        with pytest.raises(InvalidParameter):
            cursors.decode(forged, "p", 1)
    assert store.reads - before <= 1


def test_workers_starting_together_agree_on_keys(store: StateStore) -> None:
    ensure_key(store)
    store.add_cursor_key("00000000", b"k" * 32, retire_old_at=None)  # a second first key
    ensure_key(store)  # nothing to add
    assert len(store.cursor_keys()) == 2
    a, b = Cursors(KeyRing(store)), Cursors(KeyRing(store))
    assert b.decode(a.encode("p", [1], 0), "p", 1) == ((1,), 0)


def test_command_line_rotate_and_list(tmp_path: Path) -> None:
    config = tmp_path / "wrapper.yaml"
    config.write_text(
        "source: {url: 'sqlite:///legacy.db'}\n"
        "state: own-state.db\n"
        "versions: {v1: {resources: {t: {table: T, fields: {a: A}}}}}\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        main, ["cursor-keys", "rotate", "--config", str(config), "--grace", "2h"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["cursor-keys", "list", "--config", str(config)])
    assert result.exit_code == 0 and result.output.count("current") == 1
    assert (tmp_path / "own-state.db").is_file()
    bad = runner.invoke(main, ["cursor-keys", "rotate", "--config", str(config), "--grace", "x"])
    assert bad.exit_code == 2 and "--grace" in bad.output
