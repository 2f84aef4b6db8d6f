"""The `worker` and `events status` commands."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import click

CONFIG = click.option(
    "--config", "config_path", type=click.Path(path_type=Path, exists=True), required=True
)


@click.command()
@CONFIG
@click.option(
    "--status-every", default=10.0, show_default=True, help="Seconds between status lines."
)
def worker(config_path: Path, status_every: float) -> None:
    """Capture changes of the legacy database and deliver them as webhooks,
    until SIGTERM or SIGINT."""
    from wrapper.config import load_config
    from wrapper.events.worker import Worker

    running = Worker.open(load_config(config_path))  # ConfigError, SourceError: one line
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    captured = ", ".join(
        f"{u.name} ({u.events.mode}, every {u.events.interval:g} s)" for u in running.capture.units
    )
    click.echo(f"worker running: capture of {captured or 'nothing (no `events:` declared)'}")
    loops = threading.Thread(target=running.run, args=(stop,), name="worker")
    loops.start()
    try:
        while not stop.wait(status_every):
            click.echo(f"{time.strftime('%H:%M:%S')} {running.status_line()}")
    finally:
        stop.set()
        loops.join()
        click.echo(f"worker stopped: {running.status_line()}")
        running.close()


@click.group()
def events() -> None:
    """Change events: capture and delivery."""


@events.command()
@CONFIG
def status(config_path: Path) -> None:
    """Capture lag per resource, the outbox backlog and failing endpoints."""
    from wrapper.config import load_config
    from wrapper.events import tables
    from wrapper.events.status import report

    config = load_config(config_path)
    engine = tables.connect(config.state.url)
    try:
        for line in report(engine):
            click.echo(line)
    finally:
        engine.dispose()
