"""`events:` declarations: parsed once, every problem named with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from wrapper.config import ConfigError, parse_config

from .conftest import MAPPING, legacy_metadata, open_plant


@pytest.fixture
def sqlite_url(tmp_path: Path):
    with temporary_database("sqlite", tmp_path) as url:
        engine = sa.create_engine(url)
        legacy_metadata.create_all(engine)
        engine.dispose()
        yield url


def problems(url: str, events: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        open_plant(url, f"sqlite:///{tmp_path}/s.db", events)
    return caught.value.problems


def line_of_events() -> int:
    text = MAPPING.format(legacy="x", state="y", events="{}")
    return 1 + text.splitlines().index("        events: {}")


def test_a_declaration_is_parsed_into_its_mode_column_overlap_and_interval() -> None:
    text = MAPPING.format(
        legacy="sqlite://", state="sqlite://",
        events="{capture: watermark, column: UPD_TS, overlap: 1500ms, interval: 2s}",
    )  # fmt: skip
    (resource,) = parse_config(text).versions[0].resources
    events = resource.events
    assert (events.mode, events.column, events.overlap, events.interval) == (
        "watermark", "UPD_TS", 1.5, 2.0,
    )  # fmt: skip
    assert events.line == line_of_events()


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("{capture: trigger}", "events.capture: one of watermark, increasing, snapshot"),
        ("{capture: watermark}", "events.column: the legacy column watermark capture reads"),
        ("{capture: snapshot, column: UPD_TS}", "events.column: snapshot capture reads no column"),
        ("{capture: snapshot, interval: 0}", "events.interval: a positive duration"),
        ("{capture: increasing, column: ORD_NO, overlap: soon}", "events.overlap: a duration"),
        ("{capture: snapshot, when: always}", "events.when: unknown key"),
        ("snapshot", "events: a mapping such as {capture: snapshot}"),
    ],
)
def test_a_wrong_declaration_is_named_with_its_line(events: str, message: str) -> None:
    text = MAPPING.format(legacy="sqlite://", state="sqlite://", events=events)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, filename="wrapper.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith(f"wrapper.yaml:{line_of_events()}: versions.v1.resources.orders.")
    assert message in problem


def test_a_column_missing_from_the_legacy_table_is_a_config_error(
    sqlite_url: str, tmp_path: Path
) -> None:
    (problem,) = problems(sqlite_url, "{capture: watermark, column: UPD_DT}", tmp_path)
    assert problem.startswith(f"wrapper.yaml:{line_of_events()}: versions.v1.resources.orders")
    assert "events.column: column 'UPD_DT' not found in ORDERS (columns: ORD_NO" in problem


def test_a_watermark_column_must_hold_times_or_numbers(sqlite_url: str, tmp_path: Path) -> None:
    (problem,) = problems(sqlite_url, "{capture: watermark, column: CUST}", tmp_path)
    assert "events.column: CUST holds VARCHAR(10) values" in problem
    assert "needs a timestamp, a date or a number" in problem


def test_versions_declaring_events_differently_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    text = MAPPING.format(
        legacy=sqlite_url, state="sqlite://", events="{capture: watermark, column: UPD_TS}"
    )
    text += "        events: {capture: snapshot}\n"  # on v2's orders
    config = parse_config(text, filename="wrapper.yaml")
    from legacy_adapters.sql.source import SQLAlchemySource
    from wrapper.mapping.model import build_mapping, mapped_tables

    (name,) = config.sources
    source = SQLAlchemySource(sqlite_url)
    schema = source.reflect(mapped_tables(config, name))
    with pytest.raises(ConfigError) as caught:
        build_mapping(config, {name: schema})
    source.close()
    (problem,) = caught.value.problems
    assert problem.startswith(
        f"wrapper.yaml:{len(text.splitlines())}: versions.v2.resources.orders"
    )
    assert "v1 declares orders events differently" in problem
