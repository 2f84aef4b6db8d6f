"""Compiled row renderers give exactly what calling each converter gives."""

from __future__ import annotations

from decimal import Decimal

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


def page_renderer(fields: list[tuple[str, object]]) -> tuple[rendering.PageRenderer, object]:
    """A page renderer over `fields` (name, converter) at positions 0, 1, ..., and its memo."""
    compiled = [(n, i, c) for i, (n, c) in enumerate(fields)]
    kept = rendering.RowMemo()
    render = rendering.compile_renderer(compiled)  # type: ignore[arg-type]
    return rendering.compile_page_renderer(compiled, render, kept), kept  # type: ignore[arg-type]


def test_kept_rows_render_as_the_converters_do() -> None:
    fields = [(n, c) for n, c in FIELDS if n not in ("text",)]  # every field here may be kept
    render_page, kept = page_renderer(fields)
    rows = [row[:-1] for row in ROWS] * 3
    expected = [{n: c.render(row[i]) for i, (n, c) in enumerate(fields)} for row in rows]
    assert orjson.dumps(render_page(rows)) == orjson.dumps(expected)
    assert len(kept) == 3  # each distinct row rendered once, then read back
    assert orjson.dumps(render_page(rows)) == orjson.dumps(expected)


def test_equal_values_that_render_differently_are_never_confused() -> None:
    # 5 == 5.0 == Decimal("5.00"), -0.0 == 0.0: text and plain numbers show them apart
    text = build_converter("trim", col("str", 4, True))
    count = build_converter("integer", col("decimal"))
    rows = [(5, 1), (5.0, 1), (Decimal("5.00"), True), ("5", 1)] * 2
    render_page, _ = page_renderer([("code", text), ("count", count)])
    assert [r["code"] for r in render_page(rows)] == ["5", "5.0", "5.00", "5"] * 2
    assert [r["count"] for r in render_page(rows)] == [1] * 8
    for python_type, values in (
        ("float", [-0.0, 0.0]),
        ("decimal", [Decimal("1.0"), Decimal("1.00")]),
    ):
        conv = build_converter(None, col(python_type))
        render_page, kept = page_renderer([("v", conv)])
        page = orjson.dumps(render_page([(v,) for v in values * 2]))
        assert page == orjson.dumps([{"v": conv.render(v)} for v in values * 2])
        assert page.count(b"-0.0") == 2 or page.count(b"1.00") == 2
        assert len(kept) == 0  # a plain number never decides a kept row


def test_kept_rows_are_handed_out_as_copies() -> None:
    render_page, _ = page_renderer([("order_no", FIELDS[0][1])])
    first = render_page([("O1  ",)])
    first[0]["order_no"] = "changed"
    first[0]["lines"] = []  # an embedded relation is added to each rendered row
    assert render_page([("O1  ",)]) == [{"order_no": "O1"}]


def test_kept_rows_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(rendering, "ROW_MEMO_ROWS", 10)
    renderers = rendering.Renderers()
    kept = renderers.kept
    fields = [("d", 0, FIELDS[5][1])]
    pages = [
        rendering.compile_page_renderer(fields, rendering.compile_renderer(fields), kept)
        for _ in range(2)  # two renderers share the worker's budget
    ]
    for day in range(1, 29):
        for render_page in pages:
            assert render_page([(20260200 + day,)] * 2) == [{"d": f"2026-02-{day:02d}"}] * 2
            assert 0 < len(kept) <= 10


def test_rows_that_do_not_repeat_are_not_kept(monkeypatch) -> None:
    monkeypatch.setattr(rendering, "REVIEW_ROWS", 10)
    monkeypatch.setattr(rendering, "BYPASS_ROWS", 100)
    render_page, kept = page_renderer([("d", FIELDS[5][1])])
    day = iter(range(20260101, 20260132))

    def page() -> None:  # two new rows, each asked for twice
        rows = [(next(day),)] * 2 + [(next(day),)] * 2
        assert render_page(rows) == [{"d": rendering_date(r[0])} for r in rows]

    for _ in range(3):  # 12 rows, 6 of them kept: half repeat, keeping goes on
        page()
    assert len(kept) == 6
    render_page, kept = page_renderer([("d", FIELDS[5][1])])
    for n in range(3):  # then 12 rows that all differ
        assert render_page([(20260201 + 4 * n + i,) for i in range(4)])[0]
    assert len(kept) == 12
    for n in range(25):  # the next 100 rows are rendered, not kept
        rows = [(20260301 + n,)] * 4
        assert render_page(rows) == [{"d": rendering_date(20260301 + n)}] * 4
    assert len(kept) == 12
    render_page([(20260401,)])  # then keeping is tried again
    assert len(kept) == 13


def rendering_date(digits: int) -> str:
    return f"{digits // 10000}-{digits // 100 % 100:02d}-{digits % 100:02d}"
