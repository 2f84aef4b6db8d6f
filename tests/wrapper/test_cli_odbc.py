"""The command line with ODBC sources: `drivers` lists what the driver manager
knows, `inspect` and `init` read an `odbc:` source, errors are one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from fixtures import odbc

from ..conftest import require_odbc_driver


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A separate process: the driver manager reads its ini files once per process."""
    return subprocess.run(
        [_script(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _script() -> str:
    return str(Path(sys.executable).with_name("legacy-wrapper"))


def _plant(tmp_path: Path) -> Path:
    database = tmp_path / "plant.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            'CREATE TABLE "JOBSCHED" ("JOB_NO" INTEGER PRIMARY KEY, "STAT" CHAR(2))'
        )
    engine.dispose()
    return database


def test_drivers_lists_installed_drivers_and_dsns(tmp_path: Path) -> None:
    require_odbc_driver("sqlite")
    ini = tmp_path / "odbc.ini"
    ini.write_text(f"[LW_TEST_PLANT]\nDriver=SQLite3\nDatabase={_plant(tmp_path)}\n")
    result = cli("drivers", env={"ODBCINI": str(ini)})
    assert result.returncode == 0, result.stderr
    drivers, dsns = result.stdout.split("ODBC data sources (DSNs):")
    assert all(name in drivers for name in odbc.DRIVERS.values())
    assert "LW_TEST_PLANT" in dsns and "SQLite3" in dsns
    shown = cli("inspect", "--source", "odbc:DSN=LW_TEST_PLANT", env={"ODBCINI": str(ini)})
    assert shown.returncode == 0, shown.stderr
    assert "table JOBSCHED" in shown.stdout and "CHAR(2)" in shown.stdout


def test_init_keeps_the_secret_in_the_environment(tmp_path: Path) -> None:
    require_odbc_driver("sqlite")
    database = _plant(tmp_path)
    out = tmp_path / "mapping.yaml"
    source = "odbc:DRIVER={SQLite3};Database=${LW_TEST_PLANT_DB}"
    result = cli(
        "init", "--source", source, "-o", str(out), env={"LW_TEST_PLANT_DB": str(database)}
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "${LW_TEST_PLANT_DB}" in text and str(database) not in text


def test_errors_are_one_clear_line() -> None:
    missing = cli("inspect", "--source", "odbc:DSN=${LW_TEST_UNSET_VARIABLE}")
    assert missing.returncode != 0
    assert "LW_TEST_UNSET_VARIABLE" in missing.stderr and "Traceback" not in missing.stderr
    wrong = cli("inspect", "--source", "odbc:DSN=LW_NO_SUCH_DSN")
    assert wrong.returncode != 0
    assert "DSN=LW_NO_SUCH_DSN" in wrong.stderr and "legacy-wrapper drivers" in wrong.stderr
    assert "Traceback" not in wrong.stderr
