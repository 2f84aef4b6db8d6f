"""Running the WSGI app under gunicorn (default) or granian (high throughput).

Each worker builds its own app from the configuration file (its own pool of
legacy connections); SIGHUP to gunicorn's master starts fresh workers, which
reflect the legacy schema again: that is the reload.
"""

from __future__ import annotations

import ipaddress
import logging
import os
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
    config_path: Path, bind: str, workers: int, threads: int, no_auth: bool = False
) -> None:
    from gunicorn.app.base import BaseApplication

    from wrapper.app import create_app
    from wrapper.config import load_config

    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "keepalive": 5,
    }

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            return create_app(load_config(config_path), no_auth=no_auth)

    _Server().run()


def run_granian(
    config_path: Path, bind: str, workers: int, threads: int, no_auth: bool = False
) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    host, port = parse_bind(bind)
    os.environ["LEGACY_WRAPPER_CONFIG"] = str(config_path.resolve())
    os.environ["LEGACY_WRAPPER_NO_AUTH"] = "1" if no_auth else ""
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
