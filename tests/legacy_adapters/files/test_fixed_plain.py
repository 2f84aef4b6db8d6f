"""Fixed-width chunks decoded to storage values load the same table as decoded values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from legacy_adapters.files import copybook, framing
from legacy_adapters.files.fixed_width import FixedWidthReader
from legacy_adapters.files.loader import LoadRejected, load
from legacy_adapters.files.records import RecordError, StorageRun, storage_items

from . import encode

LAYOUT = """
       01  REC.
           05  ID        PIC X(4).
           05  FILLER    PIC X(2).
           05  ODD       PIC S9(5)V99 COMP-3.
           05  EVEN      PIC S9(6)V9(4) COMP-3.
           05  UPACK     PIC 9(3) COMP-3.
           05  WHOLE     PIC S9(9) COMP-3.
           05  TINY      PIC SV99 COMP-3.
           05  ZS        PIC S9(3)V9(3).
           05  ZI        PIC S9(4).
           05  ZU        PIC 9(2)V9.
           05  ZF        PIC SV9.
           05  BIN       PIC S9(5)V99 COMP.
           05  UBIN      PIC 9(4) COMP.
"""
VALUES = [  # ODD, EVEN, UPACK, WHOLE, TINY, ZS, ZI, ZU, ZF, BIN (unscaled), UBIN
    ("0", "0", "0", 0, "0", "0", 0, "0", "0", 0, 0),
    ("-0.01", "-0.0001", "999", -999999999, "-0.99", "-0.001", -1, "0.1", "-0.1", -1, 9999),
    ("99999.99", "999999.9999", "1", 999999999, "0.99", "999.999", 9999, "99.9", "0.9", 9999999, 1),
    ("-12.5", "100", "42", -7, "0.05", "-10.5", -1000, "1.5", "-0.5", -150, 4096),
]


def record(n: int, values: tuple) -> bytes:
    odd, even, upack, whole, tiny, zs, zi, zu, zf, binv, ubin = values
    return b"".join(
        [
            encode.text(f"R{n:03d}", 4, "cp037"),
            b"\x40\x40",
            encode.comp3(odd, 7, 2),
            encode.comp3(even, 10, 4),
            encode.comp3(upack, 3, 0, signed=False),
            encode.comp3(whole, 9, 0),
            encode.comp3(tiny, 2, 2),
            encode.zoned_ebcdic(zs, 6, 3),
            encode.zoned_ebcdic(zi, 4, 0),
            encode.zoned_ebcdic(zu, 3, 1, signed=False),
            encode.zoned_ebcdic(zf, 1, 1),
            encode.binary(binv, 4),
            encode.binary(ubin, 2, signed=False),
        ]
    )


class Decoded:
    """The reader without `storage_items`: the loader converts its decoded values."""

    def __init__(self, reader: FixedWidthReader) -> None:
        self.path, self.columns, self.locate = reader.path, reader.columns, reader.locate
        self._reader = reader

    def __iter__(self):
        return iter(self._reader)


def table(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        names = [r[1] for r in conn.execute("PRAGMA table_info(t)")]
        typed = ", ".join(f'"{n}", typeof("{n}")' for n in names)
        return conn.execute(f'SELECT {typed} FROM t ORDER BY "ID"').fetchall()


def test_chunks_of_storage_values_load_the_same_table(tmp_path):
    path = tmp_path / "t.dat"
    path.write_bytes(b"".join(record(i, v) for i, v in enumerate(VALUES * 50)))
    layout = copybook.parse(LAYOUT)
    reader = FixedWidthReader(path, layout, encoding="cp037")
    assert all(type(item) is StorageRun for item in storage_items(reader))
    load(reader, tmp_path / "plain.db", table="t", key=["ID"])
    load(Decoded(reader), tmp_path / "decoded.db", table="t", key=["ID"])
    loaded = table(tmp_path / "plain.db")
    assert loaded == table(tmp_path / "decoded.db")
    assert loaded[1][4:6] == (-0.0001, "real") and loaded[2][4:6] == (999999.9999, "real")
    assert loaded[3][-4:] == (-150 / 100, "real", 4096, "integer")


@pytest.mark.parametrize(
    ("offset", "byte", "field"),
    [(6, 0xA0, "ODD"), (10, 0x10, "EVEN"), (17, 0x3D, "UPACK"), (27, 0xC1, "ZS"), (36, 0x4B, "ZU")],
)
def test_a_bad_field_sends_its_chunk_the_general_way(tmp_path, monkeypatch, offset, byte, field):
    monkeypatch.setattr(framing, "CHUNK_BYTES", 400)
    records = [record(i, VALUES[i % 4]) for i in range(40)]
    bad = bytearray(records[17])
    bad[offset] = byte
    records[17] = bytes(bad)
    path = tmp_path / "t.dat"
    path.write_bytes(b"".join(records))
    reader = FixedWidthReader(path, copybook.parse(LAYOUT), encoding="cp037")
    items = list(storage_items(reader))
    assert [type(i) for i in items].count(StorageRun) >= 3
    [error] = [i for i in items if isinstance(i, RecordError)]
    length = len(records[0])
    assert (error.record, error.field, error.raw) == (18, field, records[17])
    assert 17 * length <= error.offset < 18 * length
    with pytest.raises(LoadRejected):
        load(reader, tmp_path / "t.db", key=["ID"])
