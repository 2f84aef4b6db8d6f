"""File exports served end to end: a CSV (cp1252), a fixed-width EBCDIC file described
by a COBOL copybook (COMP-3, zoned overpunch) and a DBF table, one files source, through
the app: lists, filters, sorts, cursor walks, items by key, counts; a refused export
keeps the previous one serving and /readyz and /metrics say why."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask

from wrapper.app import create_app
from wrapper.config import load_config

from ..legacy_adapters.files import dbf_files as dbf
from ..legacy_adapters.files import encode

COPYBOOK = """
      * Accounts as the mainframe exports them nightly.
       01  ACCT-REC.
           05  ACCT-NO        PIC X(8).
           05  CUST-NO        PIC X(6).
           05  BALANCE        PIC S9(7)V99 COMP-3.
           05  VISITS         PIC S9(4).
           05  OPENED         PIC 9(8).
           05  STATUS-CD      PIC X(2).
"""

MAPPING = """
sources:
  exports:
    kind: files
    check_interval: 3600
    tables:
      CUSTOMERS:
        path: drops/customers/
        format: csv
        encoding: cp1252
        delimiter: ';'
        types: {BALANCE: 'decimal(9,2)'}
        key: [CUST_NO]
        sort: [[CITY, NAME], [BALANCE]]
      ACCOUNTS:
        path: 'drops/accounts/ACCT*.DAT'
        format: fixed_width
        copybook: copybooks/ACCOUNTS.cpy
        encoding: cp037
        recfm: FB
        key: [ACCT-NO]
        sort: [[CUST-NO], [BALANCE]]
      PRODUCTS:
        path: drops/products/
        format: dbf
        key: [CODE]
        sort: [[PRICE]]
versions:
  v1:
    resources:
      customers:
        table: CUSTOMERS
        fields:
          customer_no: {column: CUST_NO, filter: true, sort: true}
          name: {column: NAME, filter: [eq, startswith], sort: true}
          city: {column: CITY, filter: true, sort: true}
          balance: {column: BALANCE, filter: true, sort: true}
      accounts:
        table: ACCOUNTS
        fields:
          account_no: {column: ACCT-NO, convert: trim, filter: true, sort: true}
          customer_no: {column: CUST-NO, convert: trim, filter: true, sort: true}
          balance: {column: BALANCE, filter: true, sort: true}
          visits: {column: VISITS}
          opened: {column: OPENED, convert: {date: YYYYMMDD}}
          status: {column: STATUS-CD, convert: trim, filter: true}
      products:
        table: PRODUCTS
        fields:
          code: {column: CODE, filter: true, sort: true}
          description: {column: DESCR}
          price: {column: PRICE, filter: true, sort: true}
          added: {column: ADDED}
"""

CITIES = ("Köln", "Bonn", "Aachen")


def customers() -> list[tuple[str, str, str, Decimal]]:
    return [
        (f"C{n:04d}", f"Kunde {n} Müller" if n % 4 == 0 else f"Customer {n}",
         CITIES[n % 3], Decimal(n * 137 % 1000 - 300) / 4)
        for n in range(1, 26)
    ]  # fmt: skip


def accounts() -> list[tuple[str, str, Decimal, int, date, str]]:
    return [
        (f"A{n:07d}", f"C{n % 25 + 1:04d}", Decimal(f"{(n * 7919) % 200000 - 90000}.{n:02d}"),
         (n * 31) % 200 - 100, date(2020, 1 + n % 12, 1 + n % 28), "OP" if n % 3 else "CL")
        for n in range(1, 31)
    ]  # fmt: skip


def products() -> list[tuple[str, str, Decimal, date | None]]:
    return [
        (f"P{n:05d}", f"Teil {n} für Öfen", Decimal(f"{n * 3}.{n * 7 % 100:02d}"),
         None if n % 5 == 0 else date(2024, n % 12 + 1, 3))
        for n in range(1, 13)
    ]  # fmt: skip


def csv_bytes(rows: list[tuple]) -> bytes:
    lines = ["CUST_NO;NAME;CITY;BALANCE"] + [f"{a};{b};{c};{d:.2f}" for a, b, c, d in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def account_record(no: str, cust: str, balance: Decimal, visits: int, opened: date, st: str):
    return b"".join(
        [
            encode.text(no, 8, "cp037"),
            encode.text(cust, 6, "cp037"),
            encode.comp3(balance, 9, 2),
            encode.zoned_ebcdic(visits, 4),
            encode.zoned_ebcdic(int(opened.strftime("%Y%m%d")), 8, signed=False),
            encode.text(st, 2, "cp037"),
        ]
    )


def dbf_bytes(rows: list[tuple]) -> bytes:
    fields = [
        dbf.Field("CODE", "C", 6),
        dbf.Field("DESCR", "C", 20),
        dbf.Field("PRICE", "N", 8, 2),
        dbf.Field("ADDED", "D", 8),
    ]
    records = [
        (False, [dbf.char(c, 6), dbf.char(d, 20), dbf.numeric(f"{p:.2f}", 8), dbf.day(a)])
        for c, d, p, a in rows
    ]
    return dbf.table(0x03, fields, records)


def drop(folder: Path, name: str, data: bytes, age: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.part").write_bytes(data)
    os.replace(folder / f"{name}.part", folder / name)
    os.utime(folder / name, (1_700_000_000 + age,) * 2)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    (tmp_path / "copybooks").mkdir()
    (tmp_path / "copybooks" / "ACCOUNTS.cpy").write_text(COPYBOOK)
    drops = tmp_path / "drops"
    drop(drops / "customers", "customers-1.csv", csv_bytes(customers()), 1)
    records = b"".join(account_record(*row) for row in accounts())
    drop(drops / "accounts", "ACCT0001.DAT", records, 1)
    drop(drops / "products", "products.dbf", dbf_bytes(products()), 1)
    (tmp_path / "wrapper.yaml").write_text(MAPPING)
    application = create_app(load_config(tmp_path / "wrapper.yaml"), no_auth=True)
    yield application
    application.extensions["legacy_wrapper"].close()


def walk(client, url: str) -> list[dict]:
    """Every item of a list, page by page along `next_cursor`."""
    items: list[dict] = []
    while url:
        body = client.get(url).get_json()
        items += body["data"]
        cursor = body["next_cursor"]
        url = f"{url.split('&cursor=')[0]}&cursor={cursor}" if cursor else ""
    return items


def test_csv_served_with_filters_sorts_cursors_keys_and_counts(app: Flask) -> None:
    client = app.test_client()
    expected = sorted(customers(), key=lambda r: (r[2], r[1]))
    got = walk(client, "/v1/customers?sort=city,name&limit=4")
    assert [(i["customer_no"], i["city"]) for i in got] == [(r[0], r[2]) for r in expected]
    bonn = [r for r in customers() if r[2] == "Bonn"]
    body = client.get("/v1/customers?city=Bonn&count=exact&limit=2").get_json()
    assert body["total_count"] == len(bonn)
    kunden = client.get("/v1/customers?name[startswith]=Kunde&sort=-balance").get_json()["data"]
    wanted = sorted((r for r in customers() if r[1].startswith("Kunde")), key=lambda r: -r[3])
    assert [(i["name"], Decimal(str(i["balance"]))) for i in kunden] == [
        (r[1], r[3]) for r in wanted
    ]
    one = client.get("/v1/customers/C0012").get_json()
    assert one["name"] == "Kunde 12 Müller" and one["city"] == "Köln"
    assert client.get("/v1/customers/C9999").status_code == 404


def test_fixed_width_ebcdic_copybook_served(app: Flask) -> None:
    client = app.test_client()
    got = walk(client, "/v1/accounts?sort=-balance&limit=7")
    expected = sorted(accounts(), key=lambda r: r[2], reverse=True)
    assert [(i["account_no"], Decimal(str(i["balance"]))) for i in got] == [
        (r[0], r[2]) for r in expected
    ]
    first = accounts()[0]
    item = client.get(f"/v1/accounts/{first[0]}").get_json()
    assert item == {
        "account_no": first[0],
        "customer_no": first[1],
        "balance": float(first[2]),
        "visits": first[3],
        "opened": first[4].isoformat(),
        "status": first[5],
    }
    negative = [r for r in accounts() if r[3] < 0]
    assert negative, "the data set has negative zoned values"
    closed = client.get("/v1/accounts?status=CL&count=exact&limit=100").get_json()
    assert closed["total_count"] == sum(1 for r in accounts() if r[5] == "CL")
    rich = client.get("/v1/accounts?balance[gte]=50000&sort=balance&limit=100").get_json()
    assert [i["account_no"] for i in rich["data"]] == [
        r[0] for r in sorted(accounts(), key=lambda r: r[2]) if r[2] >= 50000
    ]


def test_dbf_served(app: Flask) -> None:
    client = app.test_client()
    got = walk(client, "/v1/products?sort=-price&limit=5")
    expected = sorted(products(), key=lambda r: r[2], reverse=True)
    assert [(i["code"], i["description"], Decimal(str(i["price"]))) for i in got] == [
        (r[0], r[1], r[2]) for r in expected
    ]
    nulls = client.get("/v1/products/P00005").get_json()
    assert nulls["added"] is None
    assert client.get("/v1/products/P00003").get_json()["added"] == "2024-04-03"
    cheap = client.get("/v1/products?price[lt]=10&count=exact").get_json()
    assert cheap["total_count"] == sum(1 for r in products() if r[2] < 10)


def test_a_refused_export_keeps_serving_and_readyz_and_metrics_say_why(
    app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    source = app.extensions["legacy_wrapper"].sources["exports"].inner
    good = b"".join(account_record(*row) for row in accounts()[:3])
    fourth = account_record(*accounts()[3])
    bad_packed = fourth[:14] + b"\x12\x3a\x45\x67\x8c" + fourth[19:]  # a nibble A as a digit
    drop(tmp_path / "drops" / "accounts", "ACCT0002.DAT", good + bad_packed, 2)
    source.refresh()
    assert client.get("/v1/accounts?count=exact").get_json()["total_count"] == len(accounts())
    ready = client.get("/readyz")
    assert ready.status_code == 200
    state = ready.get_json()["sources"]["exports"]["tables"]["ACCOUNTS"]
    assert state["export"] == "ACCT0001.DAT" and state["rows"] == len(accounts())
    error = state["last_error"]["errors"][0]
    record_length = 8 + 6 + 5 + 4 + 8 + 2
    assert error == {
        "file": "ACCT0002.DAT",
        "record": 4,
        "line": None,
        "offset": 3 * record_length + 14,
        "field": "BALANCE",
    }  # not what the record held: /readyz answers without credentials
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any(
        "ACCT0002.DAT: record 4, byte offset" in m and "field BALANCE" in m and "digit" in m
        for m in logged
    )
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'lw_file_export_refused{source="exports",table="ACCOUNTS"} 1.0' in metrics
    assert 'lw_file_records_rejected_total{source="exports",table="ACCOUNTS"} 1.0' in metrics
    assert f'lw_file_rows_loaded{{source="exports",table="ACCOUNTS"}} {len(accounts())}.0' in (
        metrics
    )
    drop(tmp_path / "drops" / "accounts", "ACCT0003.DAT", good, 3)
    source.refresh()
    assert client.get("/v1/accounts?count=exact").get_json()["total_count"] == 3
    state = client.get("/readyz").get_json()["sources"]["exports"]["tables"]["ACCOUNTS"]
    assert state["last_error"] is None and state["export"] == "ACCT0003.DAT"
