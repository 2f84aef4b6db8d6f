"""Copybook text -> layout: offsets, lengths and storage of every clause the parser knows."""

from __future__ import annotations

import pytest

from legacy_adapters.files import copybook
from legacy_adapters.files.layout import FieldSpec, LayoutError, layout_from_list, load_layout


def fields(text: str, **kwargs) -> dict[str, FieldSpec]:
    return {f.name: f for f in copybook.parse(text, **kwargs).fields}


def test_pictures_and_usages_take_the_bytes_cobol_gives_them():
    layout = copybook.parse(
        """
       01  REC.
           05  NAME        PIC X(10).
           05  CODE        PIC XX.
           05  QTY         PIC 9(5).
           05  DELTA       PIC S9(3)V99.
           05  BAL         PIC S9(9) COMP-3.
           05  BAL2        PIC S9(7)V99 COMPUTATIONAL-3.
           05  EVEN        PIC 9(4) PACKED-DECIMAL.
           05  SMALL       PIC S9(4) COMP.
           05  MID         PIC 9(9) BINARY.
           05  BIG         PIC S9(18) COMP-4.
           05  NATIVE      PIC S9(4) COMP-5.
           05  EDITED      PIC ZZ,ZZ9.99-.
        """
    )
    got = {f.name: (f.offset, f.length, f.kind, f.digits, f.scale, f.signed) for f in layout.fields}
    assert got == {
        "NAME": (0, 10, "char", 0, 0, False),
        "CODE": (10, 2, "char", 0, 0, False),
        "QTY": (12, 5, "zoned", 5, 0, False),
        "DELTA": (17, 5, "zoned", 5, 2, True),
        "BAL": (22, 5, "packed", 9, 0, True),  # 9 digits + sign nibble = 5 bytes
        "BAL2": (27, 5, "packed", 9, 2, True),
        "EVEN": (32, 3, "packed", 4, 0, False),
        "SMALL": (35, 2, "binary", 4, 0, True),
        "MID": (37, 4, "binary", 9, 0, False),
        "BIG": (41, 8, "binary", 18, 0, True),
        "NATIVE": (49, 2, "binary", 4, 0, True),
        "EDITED": (51, 10, "char", 0, 0, False),
    }
    assert layout.length == 61
    assert [f.name for f in layout.fields if f.native] == ["NATIVE"]


def test_sign_clauses():
    got = fields(
        """
       01  REC.
           05  A  PIC S9(3) SIGN IS LEADING.
           05  B  PIC S9(3) SIGN LEADING SEPARATE CHARACTER.
           05  C  PIC S9(3) SIGN TRAILING SEPARATE.
           05  D  PIC S9(3) TRAILING.
        """
    )
    assert [(f.sign, f.offset, f.length) for f in got.values()] == [
        ("leading", 0, 3),
        ("leading_separate", 3, 4),
        ("trailing_separate", 7, 4),
        ("trailing", 11, 3),
    ]


def test_group_usage_applies_to_its_items():
    got = fields(
        """
       01  REC.
           05  AMOUNTS COMP-3.
               10  A  PIC S9(5).
               10  B  PIC S9(5)V99.
           05  C  PIC 9(2).
        """
    )
    assert (got["A"].kind, got["A"].length) == ("packed", 3)
    assert (got["B"].kind, got["B"].offset, got["B"].length) == ("packed", 3, 4)
    assert (got["C"].kind, got["C"].offset) == ("zoned", 7)


def test_occurs_flattens_to_numbered_columns_in_storage_order():
    layout = copybook.parse(
        """
       01  REC.
           05  ID            PIC 9(3).
           05  MONTH-AMT     PIC S9(5)V99 COMP-3 OCCURS 3 TIMES.
           05  LINE OCCURS 2 INDEXED BY LX.
               10  ITEM      PIC X(2).
               10  QTY       PIC 9 OCCURS 2.
           05  TAIL          PIC X.
        """
    )
    assert [(f.name, f.offset, f.length) for f in layout.fields] == [
        ("ID", 0, 3),
        ("MONTH-AMT_1", 3, 4),
        ("MONTH-AMT_2", 7, 4),
        ("MONTH-AMT_3", 11, 4),
        ("ITEM_1", 15, 2),
        ("QTY_1_1", 17, 1),
        ("QTY_1_2", 18, 1),
        ("ITEM_2", 19, 2),
        ("QTY_2_1", 21, 1),
        ("QTY_2_2", 22, 1),
        ("TAIL", 23, 1),
    ]
    assert layout.length == 24


COPYBOOK_WITH_REDEFINES = """
       01  REC.
           05  KIND          PIC X.
           05  BODY.
               10  NAME      PIC X(6).
               10  AMOUNT    PIC S9(5) COMP-3.
           05  BODY-NUM REDEFINES BODY.
               10  NUMBER    PIC 9(9).
           05  BODY-RAW REDEFINES BODY PIC X(9).
           05  TAIL          PIC X(2).
"""


def test_redefines_uses_the_first_description_by_default():
    got = fields(COPYBOOK_WITH_REDEFINES)
    assert list(got) == ["KIND", "NAME", "AMOUNT", "TAIL"]
    assert (got["TAIL"].offset, got["AMOUNT"].offset) == (10, 7)


def test_redefines_can_choose_another_description():
    got = fields(COPYBOOK_WITH_REDEFINES, redefines={"BODY": "BODY-NUM"})
    assert list(got) == ["KIND", "NUMBER", "TAIL"]
    assert (got["NUMBER"].offset, got["NUMBER"].length) == (1, 9)
    got = fields(COPYBOOK_WITH_REDEFINES, redefines={"body": "body-raw"})
    assert list(got) == ["KIND", "BODY-RAW", "TAIL"]


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"BODY": "NOPE"}, "NOPE is not one of BODY, BODY-NUM, BODY-RAW"),
        ({"KIND": "X"}, "X is not"),
    ],
)
def test_redefines_choice_must_name_a_description(choice, message):
    with pytest.raises(LayoutError, match=message):
        copybook.parse(COPYBOOK_WITH_REDEFINES, redefines=choice)


def test_filler_and_unnamed_items_take_space_but_make_no_column():
    layout = copybook.parse(
        """
       01  REC.
           05  A       PIC X(2).
           05  FILLER  PIC X(3).
           05          PIC X(4).
           05  B       PIC 9.
        """
    )
    assert [(f.name, f.offset) for f in layout.fields] == [("A", 0), ("B", 9)]
    assert layout.length == 10


def test_levels_88_and_66_and_value_clauses_do_not_change_storage():
    got = fields(
        """
       01  REC.
           05  STATUS  PIC X VALUE 'A'.
               88  ACTIVE     VALUE 'A'.
               88  CLOSED     VALUES 'C' 'X'.
           05  COUNTER PIC S9(4) COMP VALUE ZERO.
       66  ALIAS RENAMES STATUS.
        """
    )
    assert [(f.name, f.offset, f.length) for f in got.values()] == [
        ("STATUS", 0, 1),
        ("COUNTER", 1, 2),
    ]


def test_reference_format_ignores_sequence_area_comments_and_identification():
    text = (
        "000100 01  CUSTOMER-REC.                                                 CUSTREC1\n"
        "000200* a comment line with PIC X(99) in it\n"
        "000300     05  CUST-NO       PIC X(8).                                   CUSTREC1\n"
        "000400     05  BALANCE       PIC S9(7)V99                                CUSTREC1\n"
        "000500                       COMP-3.                                     CUSTREC1\n"
    )
    got = fields(text)
    assert [(f.name, f.offset, f.length, f.kind) for f in got.values()] == [
        ("CUST-NO", 0, 8, "char"),
        ("BALANCE", 8, 5, "packed"),
    ]


def test_free_format_with_inline_comments():
    got = fields("01 REC.\n  05 A PIC X(3). *> three letters\n  05 B PIC 9(2).\n")
    assert [(f.name, f.offset) for f in got.values()] == [("A", 0), ("B", 3)]


def test_a_copybook_of_several_records_uses_the_named_one():
    text = """
       01  HEADER-REC.
           05  H-TYPE  PIC X.
           05  H-DATE  PIC 9(8).
       01  DETAIL-REC.
           05  D-TYPE  PIC X.
           05  D-AMT   PIC S9(5) COMP-3.
    """
    assert list(fields(text)) == ["H-TYPE", "H-DATE"]
    assert list(fields(text, record="DETAIL-REC")) == ["D-TYPE", "D-AMT"]


def test_items_without_an_01_level_are_the_record():
    assert list(fields("05 A PIC X.\n05 B PIC 9.")) == ["A", "B"]


def test_duplicate_names_in_different_groups_are_qualified():
    got = fields(
        """
       01  REC.
           05  BILL-ADDR.
               10  STREET  PIC X(5).
           05  SHIP-ADDR.
               10  STREET  PIC X(5).
        """
    )
    assert list(got) == ["BILL-ADDR-STREET", "SHIP-ADDR-STREET"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("05 N PIC 9(2). 05 T PIC X OCCURS 1 TO 5 DEPENDING ON N.", "DEPENDING ON"),
        ("05 A PIC S9(4) COMP SYNC.", "SYNCHRONIZED"),
        ("05 A COMP-1.", "COMP-1"),
        ("05 A PIC 9(3)P.", "scaling positions"),
        ("05 A PIC X(3) COMP-3.", "cannot be packed"),
        ("05 A PIC S9(19) COMP.", "at most 18 digits"),
        ("05 A PIC X(3) FROBNICATE.", "unexpected 'FROBNICATE'"),
    ],
)
def test_unsupported_clauses_are_refused_with_their_line(line, message):
    text = "       01  REC.\n           05  OK PIC X.\n       " + line + "\n"
    with pytest.raises(LayoutError, match=message) as info:
        copybook.parse(text, source="rec.cpy")
    assert str(info.value).startswith("rec.cpy:3:")


def test_plain_layout_files(tmp_path):
    (tmp_path / "rec.yaml").write_text(
        "record_length: 20\n"
        "fields:\n"
        "  - {name: ID, length: 4}\n"
        "  - {name: AMT, type: packed, digits: 7, scale: 2, signed: true}\n"
        "  - {name: QTY, type: zoned, digits: 3, signed: true, sign: leading_separate}\n"
        "  - {name: N, type: binary, digits: 9, offset: 14}\n",
        encoding="utf-8",
    )
    layout = load_layout(tmp_path / "rec.yaml")
    assert [(f.name, f.offset, f.length, f.kind) for f in layout.fields] == [
        ("ID", 0, 4, "char"),
        ("AMT", 4, 4, "packed"),
        ("QTY", 8, 4, "zoned"),
        ("N", 14, 4, "binary"),
    ]
    assert layout.length == 20
    (tmp_path / "rec.cpy").write_text("01 R.\n 05 A PIC X(2).\n", encoding="utf-8")
    assert load_layout(tmp_path / "rec.cpy").length == 2


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"name": "A", "type": "packed", "digits": 5, "length": 4}], "takes 3 bytes, not 4"),
        ([{"name": "A", "type": "float", "length": 4}], "type must be one of"),
        ([{"name": "A", "length": 2}, {"name": "A", "length": 2}], "two fields are named A"),
        ([{"name": "A", "length": 2, "colour": "red"}], "unknown keys"),
    ],
)
def test_plain_layouts_are_checked(items, message):
    with pytest.raises(LayoutError, match=message):
        layout_from_list(items)
