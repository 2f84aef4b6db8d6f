"""Compiled row renderers give exactly what calling each converter gives."""

from __future__ import annotations

import orjson

from legacy_adapters.base import ColumnInfo
from wrapper.mapping import rendering
from wrapper.mapping.converters import build_converter


def col(python_type: str, length: int | None = None, fixed: bool = False) -> ColumnInfo:
    return ColumnInfo("C", "T", True, python_type, length, fixed)


FIELDS = [
    ("order_no", build_converter("trim", col("str", 10, True))),
    ("operator", build_converter({"trim": {"empty_as_null": True}}, col("str", 6, True))),
    ("note", build_converter("string", col("str"))),
    ("job_id", build_converter(None, col("int"))),
    ("qty", build_converter("integer", col("decimal"))),
    ("due", build_converter({"date": {"format": "YYYYMMDD", "null": [0]}}, col("int"))),
    ("status", build_converter({"enum": {"RN": "running"}}, col("str", 2, True))),
    ("rush", build_converter("boolean", col("str", 1, True))),
    ("total", build_converter({"decimal": 2}, col("int"))),
    ("text", build_converter({"text": "cp1252"}, col("bytes"))),
]
ROWS = [
    ("O1        ", "      ", "x ", 7, 3, 20261125, "RN", "Y", 12345, "Müller".encode("cp1252")),
    (None, "AB    ", None, None, None, 0, "ZZ", "N", -5, None),
    ("O1        ", None, "", 8, 4, 20261125, None, "?", 12345, b""),
]


def test_compiled_renderer_matches_the_converters() -> None:
    render = rendering.compile_renderer([(n, i, c) for i, (n, c) in enumerate(FIELDS)])
    for _ in range(2):  # the second pass reads memoized results
        for row in ROWS:
            expected = {n: c.render(row[i]) for i, (n, c) in enumerate(FIELDS)}
            got = render(row)
            assert list(got) == [n for n, _ in FIELDS]
            assert orjson.dumps(got) == orjson.dumps(expected)


def test_memo_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(rendering, "MEMO_SIZE", 3)
    conv = build_converter({"date": "YYYYMMDD"}, col("int"))
    render = rendering.compile_renderer([("d", 0, conv)])
    for day in range(1, 29):
        assert render((20260200 + day,)) == {"d": f"2026-02-{day:02d}"}
    memo = next(v for k, v in render.__globals__.items() if k.startswith("m"))
    assert len(memo) == 3


def test_a_value_that_defeats_its_converter_is_null_named_and_logged_once(caplog) -> None:
    from legacy_adapters.base import TableRef
    from wrapper.mapping.model import Field, Resource

    def field(name: str, conv) -> Field:
        return Field(name, name.upper(), conv, frozenset(), False, True)

    day = build_converter("native_date", ColumnInfo("D", "DATE", True, "date"), "sqlite")
    score = build_converter(None, ColumnInfo("S", "DOUBLE PRECISION", True, "float"), "postgresql")
    name = build_converter("string", col("str"))
    resource = Resource(
        "readings", "v1", "main", TableRef("R"),
        (field("day", day), field("score", score), field("name", name)), ("name",), ("NAME",), True,
    )  # fmt: skip
    renderers = rendering.Renderers()
    names, positions = ("day", "score", "name"), (0, 1, 2)
    rows = [
        ("2026-11-25", 1.5, "a"),
        ("25/11/2026", float("nan"), "b"),  # a SQLite DATE in its application's own form
        ("2026-11-26", 2.0, b"\xff"),  # bytes in a text column
        ("26/11/2026", 3.0, "d"),
    ]
    data, failed = renderers.render_rows(resource, names, positions, rows, lambda r: repr(r[2]))
    assert data == [
        {"day": "2026-11-25", "score": 1.5, "name": "a"},
        {"day": None, "score": None, "name": "b"},
        {"day": "2026-11-26", "score": 2.0, "name": None},
        {"day": None, "score": 3.0, "name": "d"},
    ]
    assert failed == ("day", "score", "name")
    warnings = [r.getMessage() for r in caplog.records if r.name == "wrapper.mapping.rendering"]
    assert len(warnings) == 3  # once per field, not per row
    assert "v1/readings: the value of day (column DAY) in the row with key 'b'" in warnings[0]
    orjson.dumps(data)  # and the page encodes
    # a clean page takes the fast path and names nothing
    assert renderers.render_rows(resource, names, positions, rows[:1], repr)[1] == ()
