"""Health endpoints: `/livez` (process up), `/readyz` (every legacy source reachable).

`/readyz` also shows the state of sources that have one (`ReportsStatus`: a
files source's exports, when each was loaded, and why the last was refused).

`/livez` never touches the legacy database. `/readyz` pings it, but answers
within `READY_WITHIN` seconds whatever the database does: the ping runs in a
thread of its own (one at a time: probes arriving meanwhile wait for the same
ping), and a ping still running when the bound is reached counts as not ready.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, Response

from legacy_adapters.base import ReportsStatus, Source, SourceError
from wrapper.problems import SourceUnavailableProblem
from wrapper.responses import json_response

READY_WITHIN = 2.0  # seconds


class Readiness:
    """A bounded, single-flight `source.ping()`."""

    def __init__(self, source: Source, within: float = READY_WITHIN) -> None:
        self.source = source
        self.within = within
        self._lock = threading.Lock()
        self._ping: Future[None] | None = None

    def check(self) -> str | None:
        """None when the source answered in time, else why it is not ready."""
        with self._lock:
            ping = self._ping
            if ping is None or ping.done():
                ping = self._ping = Future()
                threading.Thread(target=self._run, args=(ping,), daemon=True).start()
        try:
            ping.result(timeout=self.within)
        except FutureTimeout:
            return f"the legacy database did not answer within {self.within:g} s"
        except SourceError:
            return "the legacy database cannot be reached"
        return None

    def _run(self, ping: Future[None]) -> None:
        try:
            self.source.ping()
        except BaseException as err:  # handed to the waiting request
            ping.set_exception(err)
        else:
            ping.set_result(None)


def health_blueprint(sources: Mapping[str, Source]) -> Blueprint:
    blp = Blueprint("health", __name__)
    checks = [Readiness(source) for source in sources.values()]

    @blp.get("/livez")
    @blp.get("/healthz")
    def livez() -> Response:
        return json_response({"status": "ok"})

    @blp.get("/readyz")
    def readyz() -> Response:
        for readiness in checks:  # each bounded by its own READY_WITHIN
            problem = readiness.check()
            if problem:
                raise SourceUnavailableProblem(problem, headers={"Retry-After": "5"})
        body: dict = {"status": "ok", "mapping": "loaded"}
        states = source_states(sources)
        if states:
            body["sources"] = states
        return json_response(body)

    return blp


def source_states(sources: Mapping[str, Source]) -> dict[str, dict]:
    """The state of every source that reports one, by source name."""
    states = {}
    for name, source in sources.items():
        status = source.status() if isinstance(source, ReportsStatus) else None
        if status is not None:
            states[name] = status
    return states
