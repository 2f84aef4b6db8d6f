"""Fixed-width decoding against records encoded independently (encode.py), per code page and framing."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from legacy_adapters.files import copybook
from legacy_adapters.files.fixed_width import FixedWidthReader, RecordDecoder
from legacy_adapters.files.records import FileFormatError, RecordError, each_record

from . import encode

COPYBOOK = """
       01  CUSTOMER-REC.
           05  CUST-NO         PIC X(8).
           05  NAME            PIC X(12).
           05  BALANCE         PIC S9(7)V99 COMP-3.
           05  CREDIT          PIC 9(5) COMP-3.
           05  QTY             PIC S9(5).
           05  PRICE           PIC S9(3)V99 SIGN LEADING.
           05  ADJ             PIC S9(3) SIGN LEADING SEPARATE.
           05  ADJ2            PIC S9(3)V9 SIGN TRAILING SEPARATE.
           05  COUNT           PIC 9(4).
           05  SMALL           PIC S9(4) COMP.
           05  USMALL          PIC 9(4) COMP.
           05  MID             PIC S9(9) BINARY.
           05  BIG             PIC S9(16)V99 COMP-4.
           05  NATIVE          PIC 9(4) COMP-5.
           05  FILLER          PIC X(2).
           05  MONTHS OCCURS 2.
               10  M-AMT       PIC S9(5)V99 COMP-3.
"""
LAYOUT = copybook.parse(COPYBOOK)


def random_values(rng: random.Random) -> dict:
    def dec(digits: int, scale: int, signed: bool = True) -> Decimal:
        n = rng.randrange(10**digits)
        if signed and rng.random() < 0.5:
            n = -n
        return Decimal(n).scaleb(-scale)

    return {
        "CUST-NO": f"C{rng.randrange(10**7):07d}",
        "NAME": rng.choice(["Müller", "O'Brien", "ÅSA", "", "x y", "$@#"]),
        "BALANCE": dec(9, 2),
        "CREDIT": rng.randrange(10**5),
        "QTY": int(dec(5, 0)),
        "PRICE": dec(5, 2),
        "ADJ": int(dec(3, 0)),
        "ADJ2": dec(4, 1),
        "COUNT": rng.randrange(10**4),
        "SMALL": rng.randrange(-9999, 10000),
        "USMALL": rng.randrange(10000),
        "MID": rng.randrange(-(10**9) + 1, 10**9),
        "BIG": dec(18, 2),
        "NATIVE": rng.randrange(65536),  # COMP-5: the full 2-byte range, beyond PIC 9(4)
        "M-AMT_1": dec(7, 2),
        "M-AMT_2": dec(7, 2),
    }


def encode_record(v: dict, encoding: str) -> bytes:
    ebcdic = encoding in encode.EBCDIC_PAGES
    zoned = encode.zoned_ebcdic if ebcdic else encode.zoned_ascii
    space = " ".encode(encoding)
    return b"".join(
        [
            encode.text(v["CUST-NO"], 8, encoding),
            encode.text(v["NAME"], 12, encoding),
            encode.comp3(v["BALANCE"], 9, 2),
            encode.comp3(v["CREDIT"], 5, 0, signed=False),
            zoned(v["QTY"], 5),
            zoned(v["PRICE"], 5, 2, sign="leading"),
            zoned(v["ADJ"], 3, sign="leading_separate"),
            zoned(v["ADJ2"], 4, 1, sign="trailing_separate"),
            zoned(v["COUNT"], 4, signed=False),
            encode.binary(v["SMALL"], 2),
            encode.binary(v["USMALL"], 2, signed=False),
            encode.binary(v["MID"], 4),
            encode.binary(int(v["BIG"] * 100), 8),
            encode.binary(v["NATIVE"], 2, signed=False),
            space * 2,
            encode.comp3(v["M-AMT_1"], 7, 2),
            encode.comp3(v["M-AMT_2"], 7, 2),
        ]
    )


def expected_row(v: dict) -> tuple:
    return tuple(
        v[f.name].ljust(f.length) if f.kind == "char" else v[f.name] for f in LAYOUT.fields
    )


@pytest.mark.parametrize("encoding", [*encode.EBCDIC_PAGES, "latin-1"])
def test_every_clause_round_trips(encoding):
    rng = random.Random(encoding)
    decoder = RecordDecoder(LAYOUT, encoding)
    for _ in range(300):
        values = random_values(rng)
        record = encode_record(values, encoding)
        assert len(record) == LAYOUT.length
        assert decoder.decode(record) == expected_row(values)


def test_edge_values_round_trip():
    decoder = RecordDecoder(LAYOUT, "cp037")
    rng = random.Random(1)
    for extreme in (0, 1, -1):
        values = random_values(rng)
        values.update(
            BALANCE=Decimal("9999999.99") * extreme,
            QTY=99999 * extreme,
            PRICE=Decimal("-0.01") if extreme < 0 else Decimal("999.99") * extreme,
            SMALL=9999 * extreme,
            MID=999999999 * extreme,
            BIG=Decimal("9999999999999999.99") * extreme,
            NATIVE=65535 if extreme else 0,
        )
        row = decoder.decode(encode_record(values, "cp037"))
        assert row == expected_row(values)
    assert isinstance(row[2], Decimal) and isinstance(row[4], int)


def test_decimals_are_exact_and_keep_their_scale():
    layout = copybook.parse("01 R.\n 05 A PIC S9(29)V99 COMP-3.\n 05 B PIC 9V9(4).")
    record = encode.comp3("-123456789012345678901234567.89", 31, 2) + encode.zoned_ebcdic(
        "0.0500", 5, 4, signed=False
    )
    a, b = RecordDecoder(layout, "cp037").decode(record)
    assert a == Decimal("-123456789012345678901234567.89") and str(a).endswith(".89")
    assert str(b) == "0.0500"


def test_cp1047_and_cp037_differ_where_they_should():
    layout = copybook.parse("01 R.\n 05 T PIC X(3).")
    record = "[^]".encode("cp1047")
    assert RecordDecoder(layout, "cp1047").decode(record) == ("[^]",)
    assert RecordDecoder(layout, "cp037").decode(record) != ("[^]",)


def write(tmp_path: Path, data: bytes, name: str = "export.dat") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def records(rng: random.Random, count: int, encoding: str = "cp037") -> list[tuple[dict, bytes]]:
    out = []
    for _ in range(count):
        values = random_values(rng)
        out.append((values, encode_record(values, encoding)))
    return out


@pytest.mark.parametrize("line_end", [b"", b"\n", b"\r\n", b"\x15"])
def test_recfm_f_with_and_without_line_ends_is_detected(tmp_path, line_end):
    data = records(random.Random(2), 50)
    path = write(tmp_path, b"".join(r + line_end for _, r in data))
    reader = FixedWidthReader(path, LAYOUT, encoding="cp037")
    assert reader.line_end == line_end
    assert list(each_record(reader)) == [expected_row(v) for v, _ in data]
    declared = FixedWidthReader(path, LAYOUT, encoding="cp037", recfm="FB", line_end=line_end)
    assert len(list(each_record(declared))) == 50


def test_recfm_f_last_record_without_its_line_end(tmp_path):
    data = records(random.Random(3), 3)
    path = write(tmp_path, b"\n".join(r for _, r in data))
    assert (
        len(list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037", line_end="\n")))) == 3
    )


def test_many_chunks_keep_record_numbers_and_offsets(tmp_path, monkeypatch):
    from legacy_adapters.files import framing

    monkeypatch.setattr(framing, "CHUNK_BYTES", 1000)
    data = records(random.Random(4), 200)
    raw = [r for _, r in data]
    raw[150] = raw[150][:20] + b"\x12\x34\x5f\x6c\x00" + raw[150][25:]  # bad digit nibble F
    path = write(tmp_path, b"".join(raw))
    out = list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037")))
    assert len(out) == 200
    error = out[150]
    assert isinstance(error, RecordError)
    assert (error.record, error.offset, error.field) == (151, 150 * LAYOUT.length + 20, "BALANCE")
    assert "digit nibble 0xF" in error.message
    assert error.raw == raw[150]
    assert out[149] == expected_row(data[149][0]) and out[151] == expected_row(data[151][0])


def test_recfm_v_with_rdws(tmp_path):
    data = records(random.Random(5), 20)
    path = write(tmp_path, b"".join(encode.rdw(r) for _, r in data))
    reader = FixedWidthReader(path, LAYOUT, encoding="cp037", recfm="V")
    assert list(each_record(reader)) == [expected_row(v) for v, _ in data]
    assert reader.locate(3) == (2 * (LAYOUT.length + 4) + 4, data[2][1], None)


@pytest.mark.parametrize("extended", [False, True])
def test_recfm_vb_with_block_descriptors(tmp_path, extended):
    data = records(random.Random(6), 25)
    raw = [r for _, r in data]
    blocks = [raw[i : i + 7] for i in range(0, 25, 7)]
    path = write(tmp_path, b"".join(encode.bdw(b, extended=extended) for b in blocks))
    reader = FixedWidthReader(path, LAYOUT, encoding="cp037", recfm="VB")
    assert list(each_record(reader)) == [expected_row(v) for v, _ in data]


def test_variable_records_of_another_length_are_errors(tmp_path):
    data = records(random.Random(7), 3)
    raw = [data[0][1], data[1][1][:30], data[2][1] + b"\x40\x40"]
    path = write(tmp_path, b"".join(encode.rdw(r) for r in raw))
    out = list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037", recfm="V")))
    assert out[0] == expected_row(data[0][0])
    short, long = out[1], out[2]
    assert isinstance(short, RecordError) and isinstance(long, RecordError)
    assert (short.record, short.field) == (2, "QTY")  # QTY takes bytes 28-32; the record ends at 30
    assert "truncated record: 30 of" in short.message
    assert (long.record, long.offset) == (3, 4 + LAYOUT.length + 4 + 30 + 4 + LAYOUT.length)
    assert f"has {LAYOUT.length + 2} bytes; the layout describes {LAYOUT.length}" in long.message


def test_bad_rdw_and_truncated_block_lose_the_framing(tmp_path):
    data = records(random.Random(8), 2)
    path = write(tmp_path, encode.rdw(data[0][1]) + b"\x00\x02\x00\x00" + data[1][1])
    with pytest.raises(FileFormatError, match="bad record descriptor word X'00020000'") as info:
        list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037", recfm="V")))
    assert (info.value.record, info.value.offset) == (2, LAYOUT.length + 4)
    path = write(tmp_path, encode.rdw(data[0][1]) + encode.rdw(data[1][1])[:-5])
    with pytest.raises(FileFormatError, match="ends inside a record"):
        list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037", recfm="V")))


def test_truncated_last_record(tmp_path):
    data = records(random.Random(9), 3)
    path = write(tmp_path, data[0][1] + data[1][1] + data[2][1][:25])
    out = list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037", line_end=b"")))
    assert out[:2] == [expected_row(data[0][0]), expected_row(data[1][0])]
    error = out[2]
    assert isinstance(error, RecordError)
    # BALANCE ends exactly at byte 25: CREDIT is the first field the record cuts off
    assert (error.record, error.field, error.offset) == (3, "CREDIT", 2 * LAYOUT.length + 25)
    assert error.message == f"truncated record: 25 of {LAYOUT.length} bytes"


def test_a_record_of_the_wrong_length_between_line_ends_loses_the_framing(tmp_path):
    data = records(random.Random(10), 3)
    path = write(tmp_path, data[0][1] + b"\n" + data[1][1][:-1] + b"\n" + data[2][1] + b"\n")
    with pytest.raises(FileFormatError, match="no line end after") as info:
        list(each_record(FixedWidthReader(path, LAYOUT, encoding="cp037", line_end="\n")))
    assert info.value.record == 2


def error_for(record: bytes, encoding: str = "cp037", **kwargs) -> RecordError:
    decoder = RecordDecoder(LAYOUT, encoding, **kwargs)
    with pytest.raises(ValueError):
        decoder.decode(record)
    return decoder.error(record, file="f", record=7, offset=1000)


def spliced(record: bytes, field: str, data: bytes) -> bytes:
    spec = next(f for f in LAYOUT.fields if f.name == field)
    assert len(data) == spec.length
    return record[: spec.offset] + data + record[spec.end :]


def base_record() -> bytes:
    return records(random.Random(11), 1)[0][1]


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("BALANCE", bytes.fromhex("00123A567C"), "digit nibble 0xA in byte 2"),
        ("BALANCE", bytes.fromhex("0012345678"), "sign nibble 0x8"),
        ("CREDIT", bytes.fromhex("12345D"), "negative sign in an unsigned field"),
        ("QTY", "12X4A".encode("cp037"), "not a zoned decimal"),
        ("QTY", "1234\x5a".encode("latin-1"), "bad sign"),
        ("COUNT", "12 4".encode("cp037"), "not a zoned decimal"),
        ("ADJ", "*123".encode("cp037"), "bad separate sign"),
        ("SMALL", encode.binary(12345, 2), "more than the PICTURE's 4 digits"),
        ("QTY", "     ".encode("cp037"), "numeric field is empty"),
        ("M-AMT_2", b"\x00\x00\x00\x00", "numeric field is empty"),
    ],
)
def test_bad_fields_are_named_with_their_offset(field, data, message):
    record = spliced(base_record(), field, data)
    error = error_for(record)
    spec = next(f for f in LAYOUT.fields if f.name == field)
    assert (error.file, error.record, error.field) == ("f", 7, field)
    assert error.offset == 1000 + spec.offset
    assert message in error.message
    assert error.raw == record


def test_empty_numeric_fields_can_read_as_null():
    record = spliced(base_record(), "QTY", "     ".encode("cp037"))
    record = spliced(record, "BALANCE", b"\x40" * 5)
    row = RecordDecoder(LAYOUT, "cp037", empty_numeric="null").decode(record)
    names = [f.name for f in LAYOUT.fields]
    assert row[names.index("QTY")] is None and row[names.index("BALANCE")] is None
    assert row[names.index("CUST-NO")].startswith("C")


def test_ascii_files_refuse_bytes_outside_ascii_in_text_fields():
    layout = copybook.parse("01 R.\n 05 T PIC X(3).\n 05 P PIC S9(3) COMP-3.")
    decoder = RecordDecoder(layout, "ascii")
    assert decoder.decode(b"abc" + encode.comp3(-123, 3)) == ("abc", -123)  # packed bytes > 0x7F
    with pytest.raises(ValueError):
        decoder.decode(b"a\xe9c" + encode.comp3(1, 3))
    error = decoder.error(b"a\xe9c" + encode.comp3(1, 3), file="f", record=1, offset=0)
    assert (error.field, error.offset) == ("T", 0)
    assert "0xE9 at position 1 is not ascii" in error.message
