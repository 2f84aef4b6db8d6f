"""Running the WSGI app under granian (default) or gunicorn.

Each worker builds its own app from the configuration file (its own pool of
legacy connections); SIGHUP to the master process starts fresh workers, which
reflect the legacy schema again: that is the reload.

granian reads requests in its own event loop, so clients that send slowly hold
no Python thread. gunicorn's sync worker (`--threads 1`) is held by such a client
until its timeout and belongs behind a buffering proxy; with several threads
gunicorn uses its gthread worker. Both gunicorn workers answer gunicorn's own
refusals (400, 414, 431) as problem+json (`wrapper.gunicorn_workers`).

With several workers, `PROMETHEUS_MULTIPROC_DIR` names a folder the master
created (`metrics_dir`): only the master removes it, when it exits, never a
worker (a worker's exit, a reload or a worker timeout must leave it in place;
granian's workers end with `os._exit` and run no exit code of the master).
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def parse_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--bind takes HOST:PORT, not {bind!r}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_gunicorn(
    config_path: Path,
    bind: str,
    workers: int,
    threads: int,
    no_auth: bool = False,
    metrics_dir: str | None = None,
) -> None:
    from gunicorn.app.base import BaseApplication

    from wrapper.affinity import pin_worker
    from wrapper.app import create_app
    from wrapper.config import load_config

    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "wrapper.gunicorn_workers."
        + ("ProblemThreadWorker" if threads > 1 else "ProblemSyncWorker"),
        "accesslog": None,
        "keepalive": 5,
        # gunicorn >= 25.1 opens a control socket at one path per user, shared by
        # every gunicorn of that user: two wrappers on one machine would share it.
        "control_socket_disable": True,
        # In the worker, after the fork (also with --preload, which loads the app
        # in the master).
        "post_fork": lambda _arbiter, _worker: pin_worker(),
    }
    if metrics_dir is not None:
        options["on_exit"] = lambda _arbiter: shutil.rmtree(metrics_dir, ignore_errors=True)
        options["child_exit"] = _forget_worker_metrics

    class _Server(BaseApplication):
        def load_config(self) -> None:
            # Settings `serve` does not set come from GUNICORN_CMD_ARGS, as for the
            # gunicorn command (e.g. "--timeout 60 --limit-request-line 8190").
            extra = self.cfg.get_cmd_args_from_env()
            if extra:
                parsed = self.cfg.parser().parse_args(extra)
                for key, value in vars(parsed).items():
                    if value is not None and key != "args":
                        self.cfg.set(key.lower(), value)
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            app = create_app(load_config(config_path), no_auth=no_auth, threads=threads)
            gc.freeze()  # as wrapper.wsgi: start-up objects are not walked by every full GC
            return app

    _Server().run()


def _forget_worker_metrics(_arbiter: Any, worker: Any) -> None:
    """gunicorn's `child_exit` (in the master): a dead worker's live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def run_granian(
    config_path: Path, bind: str, workers: int, threads: int, no_auth: bool = False
) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    host, port = parse_bind(bind)
    os.environ["LEGACY_WRAPPER_CONFIG"] = str(config_path.resolve())
    os.environ["LEGACY_WRAPPER_NO_AUTH"] = "1" if no_auth else ""
    os.environ["LEGACY_WRAPPER_THREADS"] = str(threads)
    Granian(
        "wrapper.wsgi:app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        respawn_failed_workers=True,
    ).serve()


def run_dev(config_path: Path, bind: str, no_auth: bool = False) -> None:
    from wrapper.app import create_app
    from wrapper.config import load_config

    host, port = parse_bind(bind)
    app = create_app(load_config(config_path), no_auth=no_auth)
    app.run(host=host, port=port, threaded=True)
