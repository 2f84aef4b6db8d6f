"""Workers claim CPU slots: the lowest free one, freed when its holder ends."""

from __future__ import annotations

import os

import pytest

from wrapper import affinity

pytestmark = pytest.mark.skipif(not affinity.supported(), reason="Linux only")


def test_workers_of_one_master_claim_the_lowest_free_slots() -> None:
    master = 2**22 + os.getpid()  # no live process has it: slots of this test alone
    first, held_first = affinity.claim_slot(master)
    second, held_second = affinity.claim_slot(master)
    assert (first, second) == (0, 1)
    os.close(held_first)  # the worker on slot 0 ended
    replacement, held_replacement = affinity.claim_slot(master)
    assert replacement == 0
    other_master, held_other = affinity.claim_slot(master + 1)
    assert other_master == 0  # another server's slots are its own
    for held in (held_second, held_replacement, held_other):
        os.close(held)


def test_slots_go_round_the_cpus_a_worker_may_use() -> None:
    cpus = {5, 1, 3}
    assert [affinity.cpu_for(slot, cpus) for slot in range(7)] == [1, 3, 5, 1, 3, 5, 1]


def test_a_worker_not_asked_to_pin_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(affinity.ENV, raising=False)
    before = os.sched_getaffinity(0)
    assert affinity.pin_worker() is None
    assert os.sched_getaffinity(0) == before


def test_a_worker_that_cannot_claim_a_slot_serves_unpinned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refused:  # a host whose policy forbids abstract Unix sockets
        def __init__(self, *_args: object) -> None:
            pass

        def bind(self, _name: str) -> None:
            raise PermissionError(13, "Permission denied")

        def close(self) -> None:
            pass

    monkeypatch.setenv(affinity.ENV, "1")
    monkeypatch.setattr(affinity.socket, "socket", Refused)
    before = os.sched_getaffinity(0)
    assert affinity.pin_worker() is None  # not a slot search without end
    assert os.sched_getaffinity(0) == before
