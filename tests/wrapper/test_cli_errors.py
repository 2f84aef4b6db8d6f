"""Every command fails with one clear line and a hint, never a traceback: sources that
cannot be used or reached (on the real PostgreSQL and MariaDB servers), and
configuration files that are missing or malformed."""

from __future__ import annotations

import importlib.util
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from fixtures.databases import MARIADB_SERVER_URL, PG_SERVER_URL
from wrapper.cli import main
from wrapper.demo import AUTH_SECTION, plant

from ..conftest import require_backend
from ..support.demo import write_config
from ..support.servers import free_port


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def one_line(out: str) -> str:
    assert "Traceback" not in out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return lines[0]


def config_with_source(folder: Path, url: str) -> Path:
    """The demo mapping over `url`, with an `auth:` section (serve requires one)."""
    return write_config(folder, url, AUTH_SECTION.format(bind="127.0.0.1:8080"), auth=False)


def every_command(url: str, folder: Path) -> list[tuple[str, ...]]:
    """The commands that open a legacy source, given `url` directly or in a config."""
    config = str(config_with_source(folder, url))
    return [
        ("inspect", "--source", url),
        ("init", "--source", url, "-o", str(folder / "out.yaml")),
        ("serve", "--config", config, "--workers", "1"),
        ("openapi", "--config", config, "--out", str(folder / "specs")),
    ]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


UNUSABLE = [
    # (source URL, what the line must say, a module whose presence makes the case moot)
    ("nonsense", ["'nonsense' is not a database URL", "postgresql+psycopg://"], None),
    (
        "oracle+oracledb://scott:tiger@127.0.0.1:1521/PLANT",
        ["'oracledb'", "not installed", "pip install 'legacy-wrapper[oracle]'"],
        "oracledb",
    ),
    (
        "mssql+pyodbc://sa:tiger@PLANT_DSN",
        ["'pyodbc'", "pip install 'legacy-wrapper[mssql]'"],
        "pyodbc",
    ),
    (
        "db2+ibm_db://db2inst1:tiger@127.0.0.1:50000/PLANT",
        ["not installed", "pip install 'legacy-wrapper[db2]'"],
        "ibm_db_sa",
    ),
    ("odbc:DSN=PLANT;UID=scott;PWD=tiger", ["DSN=PLANT", "`legacy-wrapper drivers` lists"], None),
    ("postgres://scott:tiger@127.0.0.1/plant", ["postgresql+psycopg://"], None),
    ("informix://scott:tiger@127.0.0.1/plant", ["unknown kind of database 'informix'"], None),
    ("postgresql+psycopg://scott:tiger@127.0.0.1:port/plant", ["is not a database URL"], None),
]


@pytest.mark.parametrize(
    "url,expected,moot", UNUSABLE, ids=[case[0].split(":")[0] for case in UNUSABLE]
)
def test_an_unusable_source_url_is_one_line_with_a_hint(
    url: str, expected: list[str], moot: str | None, tmp_path: Path
) -> None:
    if moot and installed(moot):
        pytest.skip(f"{moot} is installed here")
    for command in every_command(url, tmp_path):
        code, out = run(*command)
        line = one_line(out)
        assert code == 2, (command, out)
        assert line.startswith("cannot read the legacy source: "), line
        for text in expected:
            assert text in line, (command, line)
        assert "tiger" not in line  # never the password


@pytest.fixture
def closed_port() -> int:
    return free_port()  # free: nothing listens there


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


SERVERS = {"postgresql": PG_SERVER_URL, "mariadb": MARIADB_SERVER_URL}
# Bound the wait of the "timed out" case through the drivers' own URL options.
TIMEOUT_QUERY = {
    "postgresql": {"connect_timeout": "1"},
    "mariadb": {"connect_timeout": "1", "read_timeout": "1"},
}


def _url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
@pytest.mark.parametrize(
    "case", ["refused", "timed out", "unknown database", "authentication failed"]
)
def test_an_unreachable_server_names_host_port_and_the_reason(
    backend: str, case: str, closed_port: int, silent_port: int, tmp_path: Path
) -> None:
    require_backend(backend)
    server = SERVERS[backend]
    host, port = server.host or "localhost", server.port
    if case == "refused":
        url, port = server.set(host="127.0.0.1", port=closed_port, database="plant"), closed_port
        expected = ["connection refused", "is the server running"]
    elif case == "timed out":
        url = server.set(host="127.0.0.1", port=silent_port, database="plant")
        url, port = url.update_query_dict(TIMEOUT_QUERY[backend]), silent_port
        expected = ["timed out", "firewall"]
    elif case == "unknown database":
        url = server.set(database="lw_no_such_database")
        expected = ["database 'lw_no_such_database'", "unknown database"]
    else:
        url = server.set(username="lw_no_such_user", password="not-the-password", database="x")
        expected = ["user 'lw_no_such_user'", "authentication failed", "check the user"]
    for command in every_command(_url(url), tmp_path)[:2]:  # inspect and init
        code, out = run(*command)
        line = one_line(out)
        assert code == 2, (command, out)
        where = f"at {'127.0.0.1' if case in ('refused', 'timed out') else host}:{port}"
        assert where in line, line
        for text in expected:
            assert text in line, line
        assert "not-the-password" not in line


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "plant.db"
    code, out = run("inspect", "--source", f"sqlite:///{missing}")
    line = one_line(out)
    assert code == 2
    assert f"SQLite database {missing}: cannot open the file" in line
    assert not missing.exists()


def test_a_source_that_fails_while_serving_is_one_line_too(
    closed_port: int, tmp_path: Path
) -> None:
    """serve and openapi reflect through the app: the same line as inspect."""
    url = f"postgresql+psycopg://reader@127.0.0.1:{closed_port}/erp"
    for command in every_command(url, tmp_path)[2:]:
        code, out = run(*command)
        line = one_line(out)
        assert code == 2
        assert f"at 127.0.0.1:{closed_port}" in line and "connection refused" in line


def test_an_unwritable_output_is_named(tmp_path: Path) -> None:
    database = tmp_path / "plant.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE ITEMS (ID INTEGER PRIMARY KEY)")
    target = tmp_path / "no such folder" / "wrapper.yaml"
    code, out = run("init", "--source", f"sqlite:///{database}", "-o", str(target))
    line = one_line(out)
    assert code == 2 and str(target) in line and "No such file or directory" in line


# Every command that takes --config, with the rest of its arguments.
CONFIG_COMMANDS = [
    ("serve", "--workers", "1"),
    ("openapi", "--out", "specs"),
    ("clients", "add", "portal", "--scopes", "orders:read"),
    ("clients", "list"),
    ("clients", "remove", "portal"),
    ("keys", "add", "erp", "--scopes", "orders:read"),
    ("keys", "list"),
    ("keys", "revoke", "lwk_x"),
    ("signing-keys", "rotate"),
    ("signing-keys", "list"),
]
MALFORMED = {
    "not YAML": ("source: {url: sqlite://\nversions: [\n", ":2: not valid YAML"),
    "not a mapping": ("- source\n- versions\n", ":1: the file must be a YAML mapping"),
    "a folder": (None, ": cannot read the configuration file"),
}


@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_missing_config_file_is_named(command: tuple[str, ...], tmp_path: Path) -> None:
    missing = tmp_path / "wrapper.yaml"
    code, out = run(*command, "--config", str(missing))
    assert code == 2 and "Traceback" not in out
    assert f"'{missing}' does not exist" in out


@pytest.mark.parametrize("case", MALFORMED)
@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_malformed_config_file_is_named_with_its_line(
    command: tuple[str, ...], case: str, tmp_path: Path
) -> None:
    text, expected = MALFORMED[case]
    config = tmp_path / "wrapper.yaml"
    if text is None:
        config.mkdir()
    else:
        config.write_text(text, encoding="utf-8")
    code, out = run(*command, "--config", str(config))
    assert code == 2 and "Traceback" not in out
    assert f"{config}{expected}" in out, out
    assert "authentication is not configured" not in out  # not a misleading reason


def test_an_unexpected_error_is_one_line_and_verbose_shows_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_with_source(tmp_path, "sqlite:///plant.db")
    config.write_text(
        config.read_text().replace("state: auth.db", "state: no-such-folder/auth.db"),
        encoding="utf-8",
    )
    code, out = run("clients", "list", "--config", str(config))
    line = one_line(out)
    assert code == 2
    assert "state database" in line and "unable to open database file" in line

    def broken(self: object) -> list:
        raise RuntimeError("something nobody planned for")

    config.write_text(config.read_text().replace("no-such-folder/", ""), encoding="utf-8")
    monkeypatch.setattr("wrapper.state.store.StateStore.clients", broken)
    code, out = run("clients", "list", "--config", str(config))
    line = one_line(out)
    assert code == 1
    assert "something nobody planned for" in line and "legacy-wrapper -v clients" in line
    result = CliRunner().invoke(main, ["-v", "clients", "list", "--config", str(config)])
    assert result.exit_code == 1 and result.exception is not None  # the traceback, on request


def test_an_unreachable_state_database_is_one_line(closed_port: int, tmp_path: Path) -> None:
    """The wrapper's own database (`state:`) down at start: one line naming it, no password."""
    database = tmp_path / "plant.db"
    plant.build(f"sqlite:///{database}", orders=20)
    config = config_with_source(tmp_path, f"sqlite:///{database}")
    state = f"postgresql+psycopg://keeper:secret@127.0.0.1:{closed_port}/state"
    config.write_text(config.read_text().replace("  state: auth.db\n", f"  state: '{state}'\n"))
    for command in (
        ("openapi", "--config", str(config), "--out", str(tmp_path / "specs")),
        ("clients", "list", "--config", str(config)),
    ):
        code, out = run(*command)
        line = one_line(out)
        assert code == 2, out
        assert line.startswith("cannot open the wrapper's state database"), line
        assert f"127.0.0.1:{closed_port}" in line and "secret" not in line
