"""WSGI entry point for gunicorn and granian: `wrapper.wsgi:app`.

The configuration path comes from LEGACY_WRAPPER_CONFIG, read once when a
worker imports this module; LEGACY_WRAPPER_NO_AUTH=1 is the CLI's `--no-auth`,
LEGACY_WRAPPER_PIN_WORKERS=1 its `--pin-workers`, LEGACY_WRAPPER_THREADS its
`--threads` (the bulkheads keep one thread free of the legacy database).
"""

from __future__ import annotations

import gc
import os
import signal

from wrapper.affinity import pin_worker
from wrapper.app import create_app
from wrapper.config import load_config

# A granian worker runs its master's SIGTERM handler (inherited at the fork) until
# granian sets the worker's own, after this module has loaded: a SIGTERM meanwhile
# set a flag in the worker's copy of the master and the worker went on. Ended by it
# instead, it is replaced.
if getattr(signal.getsignal(signal.SIGTERM), "__module__", "").startswith("granian."):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
pin_worker()
app = create_app(
    load_config(os.environ["LEGACY_WRAPPER_CONFIG"]),
    no_auth=os.environ.get("LEGACY_WRAPPER_NO_AUTH") == "1",
    threads=int(os.environ.get("LEGACY_WRAPPER_THREADS") or 0) or None,
)
# What the app built at start lives as long as the worker: the garbage collector
# need not walk it again. A full collection over it took 25-33 ms, a pause every
# request waiting in that worker paid (the p99).
gc.freeze()
