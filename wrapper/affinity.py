"""One CPU per server worker (`serve --pin-workers`, Linux).

The kernel shares the CPUs between groups of tasks (a session's autogroup, a
cgroup) before it shares them between threads. A granian worker is two busy
threads (its I/O thread and its Python thread) that hand every request to each
other. Measured in `bench/` (bench/README.md, "Tail latency and the kernel's task
groups"): with the load generator in the same group, pinned workers gave a p99
of 5.8 ms against 6.9; with the load generator in another group, they lowered
the p99 of three workloads of five and lengthened one, and slow slices remained.

A worker claims the lowest free slot by binding an abstract Unix socket named for
its master's pid and the slot; the kernel releases the name when the worker's
process ends, so a worker that replaces a dead one takes the slot it left, and
fresh workers of a reload take other slots until the old ones are gone. Slot N
runs on the Nth CPU the worker may use, counted round (4 workers on 2 CPUs: two
to a CPU).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from contextlib import suppress

log = logging.getLogger(__name__)

ENV = "LEGACY_WRAPPER_PIN_WORKERS"  # "1": set by `serve --pin-workers` for its workers


def supported() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(socket, "AF_UNIX")


def claim_slot(master: int) -> tuple[int, int]:
    """The lowest slot no live worker of `master` holds, and the descriptor that
    holds it (open until the process ends or the descriptor is closed). Raises
    OSError when a slot cannot be claimed for another reason than being held."""
    slot = 0
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(f"\0legacy-wrapper/{master}/cpu/{slot}")
        except OSError as err:
            sock.close()
            if err.errno != errno.EADDRINUSE:
                raise
            slot += 1
            continue
        return slot, sock.detach()


def cpu_for(slot: int, cpus: set[int]) -> int:
    ordered = sorted(cpus)
    return ordered[slot % len(ordered)]


def pin_worker() -> int | None:
    """In a worker of `serve --pin-workers`: run this process on one CPU. Returns
    the CPU, or None when the worker was not asked to pin or cannot claim a slot
    (it then serves unpinned, with a warning)."""
    if os.environ.get(ENV) != "1" or not supported():
        return None
    try:
        slot, _held = claim_slot(os.getppid())  # held for the life of the worker
    except OSError as err:
        log.warning("worker %d not pinned: no CPU slot (%s)", os.getpid(), err)
        return None
    cpu = cpu_for(slot, os.sched_getaffinity(0))
    # Every thread the server started before this one imported the app (granian's
    # I/O thread); threads started later inherit it. One may end meanwhile.
    for thread in os.listdir("/proc/self/task"):
        with suppress(ProcessLookupError):
            os.sched_setaffinity(int(thread), {cpu})
    log.info("worker %d pinned to CPU %d (slot %d)", os.getpid(), cpu, slot)
    return cpu
