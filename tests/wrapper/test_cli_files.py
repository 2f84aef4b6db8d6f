"""`inspect` and `init` on a folder of exports with a folder of copybooks: the mapping
`init` writes serves the exports once their keys are filled in."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from wrapper.app import create_app
from wrapper.cli import main
from wrapper.config import load_config

from ..legacy_adapters.files import encode

COPYBOOK = """
       01  ACCT-REC.
           05  ACCT-NO   PIC X(4).
           05  AMOUNT    PIC S9(5)V99 COMP-3.
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def exports(tmp_path: Path) -> tuple[Path, Path]:
    folder, layouts = tmp_path / "exports", tmp_path / "copybooks"
    (folder / "ORDERS").mkdir(parents=True)
    layouts.mkdir()
    (layouts / "ACCOUNTS.cpy").write_text(COPYBOOK)
    (folder / "CUSTMAST.csv").write_bytes("NO;NAME\nC1;Müller\nC2;Dupont\n".encode("cp1252"))
    (folder / "ORDERS" / "orders-1.csv").write_text("ORD,CUST,QTY\nO1,C1,3\nO2,C2,4\n")
    account = [encode.text("A001", 4, "cp037") + encode.comp3("-123.45", 7, 2)]
    (folder / "ACCOUNTS.DAT").write_bytes(b"".join(account))
    (folder / "notes.md").write_text("not an export")
    return folder, layouts


def test_inspect_lists_the_tables_of_the_exports_found(tmp_path: Path) -> None:
    folder, layouts = exports(tmp_path)
    code, out = run("inspect", "--source", f"files:{folder}/", "--layout", str(layouts))
    assert code == 0, out
    assert "table ACCOUNTS" in out and "table CUSTMAST" in out and "table ORDERS" in out
    assert "AMOUNT" in out and "NUMERIC(7, 2)" in out
    assert "left out: notes.md" in out


def test_inspect_without_the_layout_leaves_the_fixed_width_file_out(tmp_path: Path) -> None:
    folder, _ = exports(tmp_path)
    code, out = run("inspect", "--source", f"files:{folder}/")
    assert code == 0, out
    assert "table ACCOUNTS" not in out and "left out: ACCOUNTS.DAT" in out


def test_layout_is_refused_for_a_database_source(tmp_path: Path) -> None:
    code, out = run("inspect", "--source", "sqlite://", "--layout", str(tmp_path))
    assert code == 2 and "--layout is for files: sources" in out


def test_init_writes_a_mapping_that_serves_the_exports(tmp_path: Path) -> None:
    folder, layouts = exports(tmp_path)
    output = tmp_path / "wrapper.yaml"
    code, out = run("init", "--source", f"files:{folder}/", "--layout", str(layouts), "-o",
                    str(output))  # fmt: skip
    assert code == 0, out
    mapping = yaml.safe_load(output.read_text())
    tables = mapping["sources"]["exports"]["tables"]
    assert tables["CUSTMAST"] == {
        "path": "exports/CUSTMAST.csv",
        "format": "csv",
        "encoding": "cp1252",
        "delimiter": ";",
        "key": [],
    }
    assert tables["ORDERS"]["path"] == "exports/ORDERS/"
    assert tables["ACCOUNTS"]["copybook"] == "copybooks/ACCOUNTS.cpy"
    tables["CUSTMAST"]["key"] = ["NO"]
    output.write_text(yaml.safe_dump(mapping, allow_unicode=True))
    app = create_app(load_config(output), no_auth=True)
    try:
        client = app.test_client()
        assert client.get("/v1/custmast/C1").get_json() == {"no": "C1", "name": "Müller"}
        accounts = client.get("/v1/accounts").get_json()["data"]
        assert accounts == [{"acct_no": "A001", "amount": -123.45}]
        assert len(client.get("/v1/orders").get_json()["data"]) == 2
    finally:
        app.extensions["legacy_wrapper"].close()
