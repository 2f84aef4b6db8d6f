"""The `kind: files` source section: parsed once, paths from the configuration's
folder, the store next to the state database, every mistake with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wrapper.config import ConfigError, parse_config

RESOURCES = """
versions:
  v1:
    resources:
      customers: {table: CUSTOMERS, fields: {no: {column: NO}}}
"""


def files_source(tables: str, extra: str = "") -> str:
    return f"sources:\n  exports:\n    kind: files\n{extra}    tables:\n{tables}" + RESOURCES


def problems(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(text, filename="w.yaml", base_dir=base_dir)
    return err.value.problems


def test_a_files_source_is_parsed_with_paths_from_the_configuration_folder(tmp_path):
    text = files_source(
        "      CUSTOMERS:\n"
        "        path: drops/customers/\n"
        "        format: csv\n"
        "        encoding: cp1252\n"
        "        delimiter: ';'\n"
        "        types: {QTY: integer}\n"
        "        key: NO\n"
        "        sort: [NAME, [CITY, NAME]]\n"
        "        policy: quarantine\n"
        "      ACCOUNTS:\n"
        "        path: 'acct/ACCT*.DAT'\n"
        "        format: fixed_width\n"
        "        copybook: copybooks/ACCT.cpy\n"
        "        recfm: V\n",
        "    check_interval: 15\n",
    )
    config = parse_config(text, filename="w.yaml", base_dir=tmp_path)
    source = config.sources["exports"]
    assert source.kind == "files" and source.files is not None
    customers, accounts = source.files.tables
    assert customers.path == f"{tmp_path}/drops/customers/"
    assert (customers.key, customers.sort) == (("NO",), (("NAME",), ("CITY", "NAME")))
    assert (customers.policy, customers.types, customers.delimiter) == (
        "quarantine", (("QTY", "integer"),), ";",
    )  # fmt: skip
    assert accounts.copybook == str(tmp_path / "copybooks/ACCT.cpy")
    assert accounts.path == str(tmp_path / "acct/ACCT*.DAT") and accounts.recfm == "V"
    assert source.files.check_interval == 15
    assert source.files.store == str(tmp_path / "wrapper-state-files" / "exports")


def test_mistakes_are_named_with_their_lines():
    found = problems(
        files_source(
            "      CUSTOMERS:\n"  # line 5
            "        path: drops/\n"
            "        format: csv\n"
            "        policy: drop\n"  # line 8
            "        copybook: x.cpy\n"  # line 9: not a CSV option
            "        header: false\n"  # line 10: without columns
            "      ACCOUNTS:\n"
            "        path: acct/\n"
            "        format: fixed_width\n"  # line 13: no copybook or layout
            "      OTHER: {path: x/, format: xml}\n",  # line 14
        ),
        base_dir=Path("/srv"),
    )
    assert any(p.startswith("w.yaml:8:") and "policy" in p and "reject" in p for p in found)
    assert any(p.startswith("w.yaml:9:") and "copybook" in p for p in found)
    assert any(p.startswith("w.yaml:10:") and "declare `columns`" in p for p in found)
    assert any(p.startswith("w.yaml:13:") and "copybook" in p and "layout" in p for p in found)
    assert any(p.startswith("w.yaml:14:") and "csv, fixed_width, dbf" in p for p in found)


def test_a_files_source_without_a_folder_needs_a_store():
    text = files_source("      CUSTOMERS: {path: /drops/, format: dbf}\n")
    assert any(p.startswith("w.yaml:3:") and "store" in p for p in problems(text))
    config = parse_config(
        files_source("      CUSTOMERS: {path: /drops/, format: dbf}\n", "    store: /var/lw\n"),
        filename="w.yaml",
    )
    assert config.sources["exports"].files.store == "/var/lw"


def test_paths_are_absolute_whatever_the_working_folder(tmp_path, monkeypatch):
    """A configuration loaded as `wrapper.yaml` (relative) names its exports as one
    loaded by its absolute path does, so no process reloads an export it already has."""
    monkeypatch.chdir(tmp_path)
    text = files_source("      CUSTOMERS: {path: drops/, format: dbf}\n")
    relative = parse_config(text, filename="w.yaml", base_dir=Path("."))
    absolute = parse_config(text, filename="w.yaml", base_dir=tmp_path)
    assert relative.sources == absolute.sources
    assert relative.sources["exports"].files.tables[0].path == f"{tmp_path}/drops/"
