"""/livez and /readyz: readiness follows the legacy database (a SQLite file moved
away or replaced while serving included) and answers within its bound."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from legacy_adapters.base import SourceUnavailable
from legacy_adapters.sql import SQLAlchemySource
from wrapper.app import create_app
from wrapper.demo import plant
from wrapper.health import Readiness

from ..support.demo import demo_config


@pytest.fixture
def plant_file(tmp_path: Path) -> Path:
    database = tmp_path / "plant.db"
    plant.build(f"sqlite:///{database}", orders=50)
    return database


def test_a_sqlite_file_moved_away_is_noticed_and_a_replaced_one_reopened(
    plant_file: Path, tmp_path: Path
) -> None:
    app = create_app(demo_config(f"sqlite:///{plant_file}"), no_auth=True)
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200
        plant_file.rename(tmp_path / "moved.db")
        assert client.get("/readyz").status_code == 503
        assert client.get("/v1/jobs?limit=1").status_code == 503
        assert client.get("/livez").status_code == 200
        shutil.copyfile(tmp_path / "moved.db", plant_file)  # a new file at the same path
        assert client.get("/readyz").status_code == 200
        assert len(client.get("/v1/jobs?limit=2").get_json()["data"]) == 2
    finally:
        app.extensions["legacy_wrapper"].close()


class HungSource:
    """A source whose ping waits until released (what a hung database does)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        if not self.release.wait(timeout=60):
            raise SourceUnavailable("never answered")


def test_readiness_answers_while_the_ping_still_waits_and_pings_once() -> None:
    source = HungSource()
    readiness = Readiness(source, within=0.2)  # type: ignore[arg-type]
    try:
        assert "did not answer within 0.2 s" in (readiness.check() or "")
        assert "did not answer" in (readiness.check() or "")  # still the same ping
        assert source.pings == 1
        source.release.set()
        assert readiness.check() is None
    finally:
        source.release.set()


def test_readyz_names_an_unreachable_database(demo_url: str) -> None:
    if make_url(demo_url).get_backend_name() == "sqlite":
        pytest.skip("covered by the moved file above")
    url = make_url(demo_url).set(port=1).render_as_string(hide_password=False)
    source = SQLAlchemySource(url, statement_timeout=1)
    try:
        assert Readiness(source).check() == "the legacy database cannot be reached"
    finally:
        source.close()
