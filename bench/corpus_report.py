"""`inspect` → `init` → `serve` on real databases: how much works without an edit.

For each public sample database (``tests/corpus/``, loaded by
``fixtures/corpus.py``) and each backend's type zoo (``fixtures/types_zoo``):
create a temporary database, load it, run ``legacy-wrapper init`` through the
CLI module, build the app from the written mapping exactly as ``serve`` would
(``create_app(load_config(path), no_auth=True)``) and, if it starts, walk every
resource with ``bench.corpus_walk``. When the mapping refuses to start, each
resource is tried again in a mapping of its own (``alone``), so the report
still shows what would break behind the first refusal.

    python -m bench.corpus_report                      # every case
    python -m bench.corpus_report --cases chinook-sqlite,zoo-postgresql
    python -m bench.corpus_report --json bench/results/corpus.json --keep var/corpus

Columns of the summary: ``written`` resources in init's mapping; ``starts``
whether that mapping starts unedited; ``serving`` resources that answer every
request of the walk with 2xx, the right row count, no duplicate key, items
equal to their list rows and bodies valid against the OpenAPI document, in the
unedited mapping (0 when it does not start); ``alone`` the same for each
resource in a mapping of its own; ``5xx`` responses seen; ``wrong count``
resources whose walk returned more or fewer rows than ``COUNT(*)`` (or a key
twice). Run by hand; `run_case` and `Walker` are importable for tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bench.corpus_walk import FAILURES, ResourceWalk, Walker, blank_values, root_cause_of
from fixtures import corpus, types_zoo
from fixtures.databases import backend_available, temporary_database


@dataclass(frozen=True)
class Case:
    database: str  # a corpus name, or "zoo"
    backend: str
    schemas: tuple[str, ...] = ()  # passed to init as --schema; () is the default schema

    @property
    def name(self) -> str:
        return f"{self.database}-{self.backend}"

    def load(self, url: str) -> float:
        if self.database == "zoo":
            started = time.perf_counter()
            types_zoo.build(url)
            return time.perf_counter() - started
        return corpus.database(self.database, self.backend).load(url)


CASES = (
    *(Case(name, backend) for name, backend in corpus.DATABASES),
    Case("zoo", "postgresql", ("public", "person", "sales")),
    Case("zoo", "mariadb"),
    Case("zoo", "sqlite"),
)


@dataclass
class CaseReport:
    case: Case
    load_seconds: float = 0.0
    written: int = 0
    starts: bool = False
    start_problems: list[str] = field(default_factory=list)
    relations: int = 0
    foreign_keys: int = 0
    walks: list[ResourceWalk] = field(default_factory=list)
    refused_alone: dict[str, list[str]] = field(default_factory=dict)
    trimmed_alone: dict[str, list[str]] = field(default_factory=dict)  # fields dropped to start
    reflection_warnings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def serving(self) -> int:
        return sum(w.clean for w in self.walks) if self.starts else 0

    @property
    def alone(self) -> int:
        return sum(w.clean and w.name not in self.trimmed_alone for w in self.walks)

    @property
    def status_5xx(self) -> int:
        return sum(w.statuses["5xx"] for w in self.walks)

    @property
    def wrong_counts(self) -> int:
        return sum(w.wrong_count for w in self.walks)

    def summary(self) -> dict[str, Any]:
        return {
            "database": self.case.database,
            "backend": self.case.backend,
            "load_s": round(self.load_seconds, 2),
            "written": self.written,
            "relations": self.relations,
            "fks": self.foreign_keys,
            "starts": self.starts,
            "serving": self.serving,
            "alone": self.alone,
            "trimmed": len(self.trimmed_alone),
            "refused": len(self.refused_alone),
            "5xx": self.status_5xx,
            "wrong_count": self.wrong_counts,
            "requests": sum(sum(w.statuses.values()) for w in self.walks),
            "seconds": round(self.seconds, 1),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "error": self.error,
            "start_problems": self.start_problems,
            "refused_alone": self.refused_alone,
            "trimmed_alone": self.trimmed_alone,
            "reflection_warnings": self.reflection_warnings,
            "resources": [w.to_dict() for w in self.walks],
        }


# ---------------------------------------------------------------------- init and start


class InitFailed(Exception):
    pass


def run_init(url: str, schemas: Sequence[str], output: Path) -> None:
    """`legacy-wrapper init --source URL [--schema S ...] -o OUTPUT`, in this process."""
    from wrapper.cli import main as cli

    args = ["init", "--source", url, "-o", str(output)]
    for schema in schemas:
        args += ["--schema", schema]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            cli.main(args, standalone_mode=False)
    except SystemExit as exit_:
        if exit_.code:
            raise InitFailed(err.getvalue().strip() or f"exit status {exit_.code}") from None
    except Exception as error:
        raise InitFailed(root_cause_of(error)) from error


def start_app(path: Path) -> tuple[Any, list[str]]:
    """The app `serve --no-auth` would run for this mapping, or None and why not."""
    from wrapper.app import create_app
    from wrapper.config import ConfigError, load_config

    try:
        return create_app(load_config(path), no_auth=True), []
    except ConfigError as err:
        return None, list(err.problems)
    except Exception as err:
        return None, [f"create_app raised {root_cause_of(err)}"]


def close_app(app: Any) -> None:
    app.extensions["legacy_wrapper"].close()


def problem_cause(problem: str) -> tuple[str, str | None]:
    """A start-up problem as (message with values blanked, resource it names or None):
    `file:line: versions.v1.resources.NAME.fields.F.convert: message`."""
    _, _, rest = problem.partition(": ")
    path, sep, message = rest.partition(": ")
    parts = path.split(".")
    if sep and len(parts) >= 4 and parts[0] == "versions" and parts[2] == "resources":
        return blank_values(message), parts[3]
    return blank_values(rest or problem), None


def _resources(text: str) -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(text) or {}
    versions = document.get("versions") or {}
    return {n: r for v in versions.values() for n, r in (v.get("resources") or {}).items()}


def single_resource(text: str, name: str, drop: Sequence[str] = ()) -> str:
    """init's mapping cut down to one resource, without its relations and the `drop` fields."""
    document = yaml.safe_load(text)
    for version in document["versions"].values():
        resources = version.get("resources") or {}
        if name in resources:
            only = dict(resources[name])
            only.pop("relations", None)
            fields = only.get("fields") or {}
            only["fields"] = {f: spec for f, spec in fields.items() if f not in drop}
            version["resources"] = {name: only}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _refused_fields(problems: Sequence[str], name: str) -> set[str] | None:
    """The fields of `name` the problems name, or None when a problem is not about a field."""
    fields = set()
    for problem in problems:
        _, _, rest = problem.partition(": ")
        parts = rest.partition(": ")[0].split(".")
        if len(parts) < 6 or parts[2:5] != ["resources", name, "fields"]:
            return None
        fields.add(parts[5])
    return fields


def _foreign_keys(url: str, schemas: Sequence[str]) -> int:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        inspector = sa.inspect(engine)
        total = 0
        for schema in schemas or (None,):
            for table in inspector.get_table_names(schema=schema):
                total += len(inspector.get_foreign_keys(table, schema=schema))
        return total
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- one case


def run_case(case: Case, workdir: Path, **walk_options: Any) -> CaseReport:
    """Load, init, start and walk one case in a fresh temporary database."""
    report = CaseReport(case)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with temporary_database(case.backend, workdir) as url:
            report.load_seconds = case.load(url)
            _init_and_walk(report, url, workdir, walk_options)
    seen = {str(w.message) for w in caught if issubclass(w.category, sa.exc.SAWarning)}
    report.reflection_warnings = sorted(seen)
    report.seconds = time.perf_counter() - started
    return report


def _init_and_walk(
    report: CaseReport, url: str, workdir: Path, walk_options: dict[str, Any]
) -> None:
    path = workdir / f"{report.case.name}.yaml"
    try:
        run_init(url, report.case.schemas, path)
    except InitFailed as err:
        report.error = f"init failed: {err}"
        return
    text = path.read_text(encoding="utf-8")
    resources = _resources(text)
    names = list(resources)
    report.written = len(names)
    report.relations = sum(len(r.get("relations") or {}) for r in resources.values())
    report.foreign_keys = _foreign_keys(url, report.case.schemas)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        app, problems = start_app(path)
        report.start_problems = problems
        if app is not None:
            report.starts = True
            try:
                report.walks = Walker(app, engine, **walk_options).walk_all()
            finally:
                close_app(app)
            return
        for name in names:
            app = _start_alone(report, text, name, workdir)
            if app is None:
                continue
            try:
                report.walks.append(Walker(app, engine, **walk_options).walk(name))
            finally:
                close_app(app)
    finally:
        engine.dispose()


def _start_alone(report: CaseReport, text: str, name: str, workdir: Path) -> Any:
    """Resource `name` in a mapping of its own; the fields the loader refuses are
    dropped (and recorded) until it starts, or None when something else refuses it."""
    dropped: list[str] = []
    alone = workdir / f"{report.case.name}.{name}.yaml"
    for _ in range(5):
        alone.write_text(single_resource(text, name, dropped), encoding="utf-8")
        app, problems = start_app(alone)
        if app is not None:
            if dropped:
                report.trimmed_alone[name] = dropped
            return app
        refused = _refused_fields(problems, name)
        if not refused or refused <= set(dropped):
            break
        dropped += sorted(refused - set(dropped))
    report.refused_alone[name] = problems
    return None


# ---------------------------------------------------------------------- printing

_COLUMNS = ("database", "backend", "load_s", "written", "relations", "fks", "starts", "serving",
            "alone", "trimmed", "refused", "5xx", "wrong_count", "requests", "seconds")  # fmt: skip


def format_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    def text(value: Any) -> str:
        return "yes" if value is True else "no" if value is False else str(value)

    head = "| " + " | ".join(columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(text(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def causes(reports: Sequence[CaseReport]) -> list[dict[str, Any]]:
    """Every finding and start-up refusal, grouped by kind and cause across cases,
    with the requests (`what`) that met it; most widespread first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def add(kind: str, cause: str, where: str, example: str, count: int, what: str = "") -> None:
        group = groups.setdefault(
            (kind, cause),
            {"kind": kind, "cause": cause, "resources": set(), "what": set(), "count": 0,
             "example": example},
        )  # fmt: skip
        group["resources"].add(where)
        if what:
            group["what"].add(what)
        group["count"] += count

    for report in reports:
        named = set()
        for problem in report.start_problems:
            cause, resource = problem_cause(problem)
            named.add(resource)
            add("refused at start", cause, f"{report.case.name}/{resource or '*'}", problem, 1)
        for name, problems in report.refused_alone.items():
            for problem in problems if name not in named else ():
                cause, _ = problem_cause(problem)
                add("refused alone", cause, f"{report.case.name}/{name}", problem, 1)
        for name, fields in report.trimmed_alone.items():
            where = f"{report.case.name}/{name}"
            add("started without", "fields the loader refused", where, ", ".join(fields), 1)
        for walk in report.walks:
            for f in walk.findings.values():
                add(f.kind, f.cause, f"{report.case.name}/{walk.name}", f.example, f.count, f.what)
    ordered = sorted(groups.values(), key=lambda g: (-len(g["resources"]), g["kind"], g["cause"]))
    return [g | {"resources": sorted(g["resources"]), "what": sorted(g["what"])} for g in ordered]


def print_report(reports: Sequence[CaseReport], out: Any = sys.stdout) -> None:
    print(format_table([r.summary() for r in reports], _COLUMNS), file=out)
    for report in reports:
        print(f"\n## {report.case.name}", file=out)
        if report.error:
            print(f"error: {report.error}", file=out)
        if report.start_problems and not report.starts:
            print(f"init's mapping refused ({len(report.start_problems)} problems):", file=out)
            for problem in report.start_problems[:5]:
                print(f"  {problem}", file=out)
        rows = [
            {
                "resource": w.name,
                "rows": f"{w.walked_rows}/{w.expected_rows}",
                "2xx": w.statuses["2xx"],
                "4xx": w.statuses["4xx"],
                "5xx": w.statuses["5xx"],
                "findings": "; ".join(sorted({f.kind for f in w.findings.values()})) or "-",
                "without": ", ".join(report.trimmed_alone.get(w.name, [])),
                "notes": "; ".join(f"{k} ({n})" for k, n in w.notes.items()),
            }
            for w in report.walks
        ]
        rows += [
            {"resource": name, "findings": "refused: " + problem_cause(problems[0])[0]}
            for name, problems in report.refused_alone.items()
        ]
        if rows:
            columns = ("resource", "rows", "2xx", "4xx", "5xx", "findings", "without", "notes")
            print(format_table(rows, columns), file=out)
    print("\n## Causes, most widespread first\n", file=out)
    for group in causes(reports):
        shown = ", ".join(group["resources"][:4])
        more = f" (+{len(group['resources']) - 4})" if len(group["resources"]) > 4 else ""
        print(f"- [{group['kind']}] {group['cause']}", file=out)
        if group["what"]:
            print(f"  on: {', '.join(group['what'])}", file=out)
        print(f"  {len(group['resources'])} resources: {shown}{more}", file=out)
        print(f"  e.g. {group['example']}", file=out)


# ---------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = ",".join(c.name for c in CASES)
    parser.add_argument("--cases", default=names, help=f"comma-separated (default: {names})")
    parser.add_argument("--json", type=Path, help="also write every finding to this file")
    parser.add_argument("--keep", type=Path, help="keep the mappings init wrote in this folder")
    parser.add_argument("--limit", type=int, default=50, help="page size of the walk")
    parser.add_argument("--items", type=int, default=60, help="items by key per resource")
    args = parser.parse_args(argv)
    wanted = args.cases.split(",")
    unknown = set(wanted) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {names}")
    # The app's own log output would drown the report; the walker captures it.
    logging.basicConfig(level=logging.WARNING, handlers=[logging.NullHandler()])
    reports = []
    with contextlib.ExitStack() as stack:
        workdir = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        for case in (c for c in CASES if c.name in wanted):
            reason = backend_available(case.backend)
            if reason:
                print(f"skipping {case.name}: {reason}", file=sys.stderr)
                continue
            print(f"{case.name} ...", file=sys.stderr, flush=True)
            report = run_case(case, workdir, limit=args.limit, max_items=args.items)
            print(f"  {json.dumps(report.summary())}", file=sys.stderr, flush=True)
            reports.append(report)
    print_report(reports)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "cases": [r.to_dict() for r in reports],
            "causes": causes(reports),
            "failure_kinds": list(FAILURES),
            "kinds_seen": dict(Counter(g["kind"] for g in causes(reports))),
        }
        args.json.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
