"""Health endpoints: `/livez` (process up), `/readyz` (legacy source reachable)."""

from __future__ import annotations

from flask import Blueprint, Response

from legacy_adapters.base import Source, SourceError
from wrapper.problems import SourceUnavailableProblem
from wrapper.resources import json_response


def health_blueprint(source: Source) -> Blueprint:
    blp = Blueprint("health", __name__)

    @blp.get("/livez")
    @blp.get("/healthz")
    def livez() -> Response:
        return json_response({"status": "ok"})

    @blp.get("/readyz")
    def readyz() -> Response:
        try:
            source.ping()
        except SourceError:
            raise SourceUnavailableProblem(
                "the legacy database cannot be reached", headers={"Retry-After": "5"}
            ) from None
        return json_response({"status": "ok", "mapping": "loaded"})

    return blp
