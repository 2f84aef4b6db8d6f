"""Changes a job in the demo database the way the legacy application would (the
wrapper itself never writes there): `python -m wrapper.demo.change_job 100001 held`.

Statuses: queued, running, held, complete. `--workdir` is the demo's folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sqlalchemy as sa

from wrapper.demo.plant import JOBSCHED

STATUSES = {"queued": "QU", "running": "RN", "held": "HD", "complete": "CP"}


def change_job(database: Path, job: int, status: str) -> bool:
    """Sets the job's status; False when there is no such job."""
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            done = conn.execute(
                JOBSCHED.update().where(JOBSCHED.c.JOB_NO == job).values(STAT=STATUSES[status])
            )
        return done.rowcount == 1
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("job", type=int)
    parser.add_argument("status", choices=sorted(STATUSES))
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"))
    args = parser.parse_args(argv)
    database = args.workdir / "plant.db"
    if not database.exists():
        parser.exit(1, f"no demo database at {database}: run `make demo` first\n")
    if not change_job(database, args.job, args.status):
        parser.exit(1, f"no job {args.job} in {database}\n")
    print(f"job {args.job} is now {args.status} in {database}")


if __name__ == "__main__":
    main()
