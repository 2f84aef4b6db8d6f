"""The `legacy-wrapper` command line.

Every command fails the same way: one line saying what is wrong and what to do,
exit status 2, never a traceback (`legacy-wrapper -v ...` shows the traceback of
an unexpected error). Configuration problems are listed one per line.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from legacy_adapters.base import SourceError
from wrapper.state.store import StateUnavailable

if TYPE_CHECKING:
    from wrapper.config import Config

log = logging.getLogger("legacy_wrapper")

# granian reads requests in its event loop: slow clients hold no thread, and two
# threads a worker keep one free for /livez, the documents and cached pages while
# the other waits for the legacy database (the bulkhead lets fewer queries run
# than there are threads). More threads share the worker's one Python thread and
# lengthen the tail at saturation (p99 6.9 ms with 1 thread, 7.8 with 2, 23.6 with
# 8: README "Tail latency under load"). gunicorn reads requests in its threads: 8
# so that a few slow clients do not hold a worker.
DEFAULT_SERVER = "granian"
DEFAULT_THREADS = {"granian": 2, "gunicorn": 8}


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _config_problems(problems: list[str]) -> str:
    return "the configuration has problems:\n" + "\n".join(f"  {p}" for p in problems)


class _Commands(click.Group):
    """Turns what a command may run into (a bad configuration, a legacy source
    that cannot be used or reached, a file that cannot be read or written) into
    one line and a hint, for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except SourceError as err:
            _fail(f"cannot read the legacy source: {err}")
        except StateUnavailable as err:
            _fail(str(err))
        except OSError as err:
            if err.filename is None:
                _unexpected(ctx, err)
            _fail(f"{err.filename}: {err.strerror or err}")
        except Exception as err:
            from wrapper.config import ConfigError

            if isinstance(err, ConfigError):
                _fail(_config_problems(err.problems))
            _unexpected(ctx, err)


def _unexpected(ctx: click.Context, err: Exception) -> NoReturn:
    if ctx.params.get("verbose"):
        raise err
    lines = str(err).strip().splitlines()
    _fail(
        f"unexpected {type(err).__name__}: {lines[0] if lines else ''} "
        f"(run `legacy-wrapper -v {ctx.invoked_subcommand or ''} ...` to see where)",
        1,
    )


def _open(url: str):  # type: ignore[no-untyped-def]
    from wrapper.config import SourceConfig
    from wrapper.config.sources import kind_of
    from wrapper.sources import open_source

    # a SourceError is one line (_Commands)
    return open_source(SourceConfig(url=url, kind=kind_of(url)))


def _check_config(config_path: Path, no_auth: bool) -> Config:
    """Load, reflect and validate once before serving: never start half-configured.
    This also generates the built-in server's first signing key before workers fork."""
    from wrapper.app import create_app
    from wrapper.config import ConfigError, load_config

    try:
        app = create_app(load_config(config_path), no_auth=no_auth)
    except ConfigError as err:
        _fail("the configuration has problems:\n" + "\n".join(f"  {p}" for p in err.problems))
    except SourceError as err:
        _fail(f"cannot read the legacy source: {err}")
    state = app.extensions["legacy_wrapper"]
    state.close()
    return state.config


def _has_auth_section(config_path: Path) -> bool:
    """False only for a readable mapping without `auth:`; an unreadable or
    malformed file is left to the configuration check, which names the problem."""
    from wrapper.config.located import load_yaml

    try:
        raw = load_yaml(config_path.read_text(encoding="utf-8"))
    except Exception:
        return True
    return not isinstance(raw, dict) or raw.get("auth") is not None


@click.group(cls=_Commands)
@click.option("-v", "--verbose", is_flag=True, help="Log more; show tracebacks.")
def main(verbose: bool) -> None:
    """Serve a legacy database as a modern, versioned REST API."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


SOURCE_HELP = "SQLAlchemy URL, odbc:DSN=NAME / odbc:DRIVER=...;..., or files:FOLDER/ (file exports)"
LAYOUT_HELP = "files: sources: the folder of COBOL copybooks and layout files."
ENCODING_HELP = "files: sources: the code page of fixed-width exports."


def _reflect(
    url: str, schemas: tuple[str, ...], layouts: Path | None, encoding: str
) -> tuple[Any, dict[str, Any] | None]:
    """The reflected schema and, for files: sources, the `tables:` found."""
    from wrapper.config.sources import kind_of

    if kind_of(url) != "files":
        if layouts is not None:
            _fail("--layout is for files: sources (--source files:FOLDER/)")
        return _open(url).reflect(schemas=list(schemas) or [None]), None
    from wrapper.file_exports import reflected_exports

    with reflected_exports(url, layouts, encoding) as (schema, tables, skipped):
        for line in skipped:
            click.echo(f"left out: {line}", err=True)
        return schema, tables


@main.command()
@click.option("--source", "url", required=True, help=SOURCE_HELP)
@click.option("--schema", "schemas", multiple=True, help="Schema or library (repeatable).")
@click.option("--layout", "layouts", type=click.Path(path_type=Path), help=LAYOUT_HELP)
@click.option("--encoding", default="cp037", show_default=True, help=ENCODING_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect(
    url: str, schemas: tuple[str, ...], layouts: Path | None, encoding: str, as_json: bool
) -> None:
    """Print the reflected schema: tables, views, columns, keys, indexes, foreign keys."""
    started = time.perf_counter()
    schema, _ = _reflect(url, schemas, layouts, encoding)
    elapsed = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps(schema.to_dict(), indent=2))
        return
    for table in schema.tables:
        click.echo(f"{table.kind} {table.ref}")
        for col in table.columns:
            flags = [] if col.nullable else ["not null"]
            if col.name in table.primary_key:
                flags.append(f"pk {table.primary_key.index(col.name) + 1}")
            click.echo(f"  {col.name:<30} {col.type:<20} {' '.join(flags)}".rstrip())
        for ix in table.indexes:
            unique = "unique " if ix.unique else ""
            click.echo(f"  {unique}index {ix.name}: {', '.join(ix.columns)}")
        for fk in table.foreign_keys:
            ref = (
                f"{fk.referred_schema}.{fk.referred_table}"
                if fk.referred_schema
                else fk.referred_table
            )
            cols, referred = ", ".join(fk.columns), ", ".join(fk.referred_columns)
            click.echo(f"  foreign key ({cols}) -> {ref}({referred})")
    click.echo(f"{len(schema.tables)} tables and views reflected in {elapsed:.2f} s", err=True)


@main.command()
@click.option("--source", "url", required=True, help=SOURCE_HELP)
@click.option("--schema", "schemas", multiple=True, help="Schema or library (repeatable).")
@click.option("--layout", "layouts", type=click.Path(path_type=Path), help=LAYOUT_HELP)
@click.option("--encoding", default="cp037", show_default=True, help=ENCODING_HELP)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def init(
    url: str, schemas: tuple[str, ...], layouts: Path | None, encoding: str, output: Path
) -> None:
    """Write a starting mapping file from reflection."""
    from wrapper.scaffold import scaffold

    schema, tables = _reflect(url, schemas, layouts, encoding)
    sources = None
    if tables is not None:
        from wrapper.file_exports import sources_section

        sources = sources_section(tables, output.parent)
    output.write_text(scaffold(schema, url, sources), encoding="utf-8")
    click.echo(f"wrote {output} with {len(schema.tables)} resources", err=True)


@main.command()
def drivers() -> None:
    """List the installed ODBC drivers and data sources (DSNs)."""
    from legacy_adapters.odbc.drivers import installed

    try:
        click.echo("\n".join(installed().lines()))
    except SourceError as err:
        _fail(str(err))


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path, exists=True), required=True
)
@click.option("--bind", default="127.0.0.1:8080", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), help="Default: one per CPU.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Threads per worker. Default: 2 under granian, 8 under gunicorn (1 is its sync "
    "worker, for behind a buffering proxy).",
)
@click.option(
    "--server",
    type=click.Choice(["granian", "gunicorn"]),
    default=DEFAULT_SERVER,
    show_default=True,
)
@click.option("--dev", is_flag=True, help="Flask's development server (one process).")
@click.option("--no-auth", is_flag=True, help="Serve without authentication (loopback only).")
@click.option(
    "--pin-workers",
    is_flag=True,
    help="Run each worker on one CPU, spread over the CPUs (Linux; README: "
    "'Tail latency under load').",
)
def serve(
    config_path: Path,
    bind: str,
    workers: int | None,
    threads: int | None,
    server: str,
    dev: bool,
    no_auth: bool,
    pin_workers: bool,
) -> None:
    """Serve the API."""
    if pin_workers:
        from wrapper import affinity

        if dev:
            _fail("--pin-workers pins a server's workers: not with --dev")
        if not affinity.supported():
            _fail("--pin-workers needs Linux (sched_setaffinity)")
        os.environ[affinity.ENV] = "1"  # read by each worker as it starts
    _serve(config_path, bind, workers, threads, server, dev, no_auth)


def _share_metrics_between_workers() -> str | None:
    """prometheus_client's multiprocess mode: set before it is first imported.
    Returns the folder made for it, which the server's master removes when it
    exits (not an exit handler here: forked workers would inherit it and remove
    the folder when one of them exits); None when the operator set one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        return None
    folder = tempfile.mkdtemp(prefix="legacy-wrapper-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def _serve(
    config_path: Path,
    bind: str,
    workers: int | None,
    threads: int | None,
    server: str,
    dev: bool,
    no_auth: bool,
) -> None:
    from wrapper.serving import is_loopback, parse_bind

    workers = workers or default_workers()
    threads = threads or DEFAULT_THREADS[server]
    try:
        host, _ = parse_bind(bind)
    except ValueError as err:
        _fail(str(err))
    if no_auth:
        if not is_loopback(host):
            _fail(f"--no-auth is refused on {host}: bind to 127.0.0.1 or configure authentication")
        log.warning(
            "*** SERVING WITHOUT AUTHENTICATION on %s: every client can read every row ***", bind
        )
    elif not _has_auth_section(config_path):
        _fail(
            "authentication is not configured: add an `auth:` section to the configuration "
            "(see README) or serve with --no-auth (loopback only)"
        )
    master = os.getpid()
    metrics_dir = _share_metrics_between_workers() if workers > 1 and not dev else None
    try:
        _run_server(config_path, bind, workers, threads, server, dev, no_auth, metrics_dir)
    finally:
        # Workers are forked from inside _run_server; one unwinding to here must not
        # remove what the master and the other workers still use.
        if metrics_dir is not None and os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _run_server(
    config_path: Path,
    bind: str,
    workers: int,
    threads: int,
    server: str,
    dev: bool,
    no_auth: bool,
    metrics_dir: str | None,
) -> None:
    from wrapper.serving import run_dev, run_granian, run_gunicorn

    processes = 1 if dev else workers
    config = _check_config(config_path, no_auth)
    from wrapper.limits import warn_if_per_process

    problem = warn_if_per_process(config.limits, processes)
    if problem:
        _fail(problem)
    cached = any(r.cache and r.cache.shared for v in config.versions for r in v.resources)
    if processes > 1 and cached and config.cache.storage.startswith("memory://"):
        log.warning(
            "cache.storage is memory://: each of the %d workers keeps its own cache and "
            "coalesces alone (use redis:// to share them)",
            processes,
        )
    if dev:
        run_dev(config_path, bind, no_auth)
    elif server == "granian":
        run_granian(config_path, bind, workers, threads, no_auth)
    else:
        run_gunicorn(config_path, bind, workers, threads, no_auth, metrics_dir)


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--demo", is_flag=True, help="Use the demo mapping over a freshly built demo database."
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the specs.")
@click.option(
    "--check", is_flag=True, help="Fail when the files in --out differ instead of writing."
)
def openapi(config_path: Path | None, demo: bool, out: Path, check: bool) -> None:
    """Write one OpenAPI document per API version (vN.json)."""
    from wrapper.app import create_app
    from wrapper.config import load_config
    from wrapper.demo import prepare_demo

    if demo == (config_path is not None):
        _fail("give exactly one of --config or --demo")
    with tempfile.TemporaryDirectory() as tmp:
        path = prepare_demo(Path(tmp), orders=50) if demo else config_path
        assert path is not None
        app = create_app(load_config(path), no_auth=True)  # the documents need no keys
        documents = {}
        with app.test_client() as client:
            for version in app.extensions["legacy_wrapper"].mapping.versions:
                spec = client.get(f"/{version}/openapi.json").get_json()
                documents[f"{version}.json"] = json.dumps(spec, indent=2, sort_keys=True) + "\n"
        app.extensions["legacy_wrapper"].close()
    out.mkdir(parents=True, exist_ok=True)
    stale = [
        n
        for n, text in documents.items()
        if not (out / n).exists() or (out / n).read_text() != text
    ]
    if check:
        if stale:
            _fail(f"OpenAPI specs out of date in {out}: {', '.join(stale)} (run `make openapi`)", 1)
        click.echo(f"{len(documents)} OpenAPI specs up to date", err=True)
        return
    for name, text in documents.items():
        (out / name).write_text(text)
    click.echo(f"wrote {', '.join(sorted(documents))} to {out}", err=True)


_PRINT_TOKEN = 'import json,sys; print(json.load(sys.stdin)["access_token"])'
DEMO_REDIS = "redis://127.0.0.1:6379/0"


@main.command()
@click.option("--bind", default="127.0.0.1:8080", show_default=True)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Folder for the demo database, its mapping and its state (one demo each).",
)
@click.option("--orders", default=2000, show_default=True, help="Size of the demo database.")
@click.option(
    "--server",
    type=click.Choice(["granian", "gunicorn"]),
    default=DEFAULT_SERVER,
    show_default=True,
)
@click.option("--workers", type=int, help="Default: 2 with Redis, 1 without.")
@click.option(
    "--redis",
    "redis_url",
    default=DEMO_REDIS,
    show_default=True,
    help="Keep rate limits and the cache in this Redis when it answers; '' for memory.",
)
@click.option("--issuer", help="The URL clients use (default http://BIND; localhost for 0.0.0.0).")
def demo(
    bind: str,
    workdir: Path,
    orders: int,
    server: str,
    workers: int | None,
    redis_url: str,
    issuer: str | None,
) -> None:
    """Build the demo legacy database and serve it with the demo mapping, with
    auth, rate limits and a short cache: prints credentials for four personas.
    Refuses (and leaves it alone) when a demo already runs on the port or folder."""
    from wrapper.demo import Protection, prepare_demo, redis_answers, reset_personas
    from wrapper.demo.exclusive import DemoBusy, check_port, claim_workdir
    from wrapper.serving import parse_bind

    try:
        host, port = parse_bind(bind)
        check_port(host, port)
    except (ValueError, DemoBusy) as err:
        _fail(str(err))
    shared = bool(redis_url) and redis_answers(redis_url)
    workers = workers or (2 if shared else 1)
    if workers > 1 and not shared:
        _fail(
            f"without Redis at {redis_url or '(none)'} the demo's rate limits count per "
            "process: use --workers 1 (the default then), or start Redis"
        )
    try:
        lock = claim_workdir(workdir)  # held until this process ends
    except DemoBusy as err:
        _fail(str(err))
    public = issuer or f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"
    protection = Protection(redis_url if shared else "memory://", key_prefix=f"lw-demo-{port}")
    config_path = prepare_demo(
        workdir, orders=orders, bind=bind, issuer=public.rstrip("/"), protection=protection
    )
    store = redis_url if shared else "memory (one worker; Redis makes it two)"
    click.echo(
        f"\n  legacy database: {workdir / 'plant.db'}\n  mapping:         {config_path}\n"
        f"  docs:            {public}/v1/docs  (and /v2/docs)\n"
        "                   Authorize there with a client below\n"
        f"  rate limits:     120/minute per client, in {store}\n"
        "  cache:           jobs 5 s, codes 60 s\n",
        err=True,
    )
    for name, client_id, secret, scopes, sees in reset_personas(config_path):
        click.echo(
            f"  {name}: {sees}\n    scopes {scopes}\n"
            f"    export CLIENT_ID={shlex.quote(client_id)} "
            f"CLIENT_SECRET={shlex.quote(secret)}\n",
            err=True,
        )
    click.echo(
        "  paste one export line above, then get a token and use it:\n"
        '    TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \\\n'
        f"      {public}/oauth/token | python3 -c '{_PRINT_TOKEN}')\n"
        f'    curl -i -H "Authorization: Bearer $TOKEN" "{public}/v1/jobs?limit=5"\n',
        err=True,
    )
    click.echo(
        "  webhooks:        a worker captures jobs and orders and delivers to subscriptions\n"
        "                   (README: Webhooks; `python -m wrapper.demo.change_job 100001 held`)\n",
        err=True,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "wrapper", "worker", "--config", str(config_path),
         "--status-every", "60"]
    )  # fmt: skip
    try:
        _serve(config_path, bind, workers, None, server, dev=False, no_auth=False)
    finally:
        if worker.poll() is None:
            worker.terminate()
        worker.wait(30)
        lock.close()


def _register_auth_commands() -> None:
    from wrapper.auth.commands import clients, keys, signing_keys

    for group in (clients, keys, signing_keys):
        main.add_command(group)
    from wrapper.cursor_keys import cursor_keys

    main.add_command(cursor_keys)
    from wrapper.events.commands import events, worker

    main.add_command(worker)
    main.add_command(events)


_register_auth_commands()
